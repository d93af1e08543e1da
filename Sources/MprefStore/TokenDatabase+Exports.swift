import Foundation
import GRDB
import MprefCore

/// An export about to be initiated (`mprefd export`), as recorded before its request is sent.
package struct NewExport: Sendable, Hashable {
    package var clientID: ClientID
    package var segment: SegmentName
    package var label: String?
    /// Started from the segment's cursor (`--incremental`).
    package var incremental: Bool
    /// The window's start; `nil` for a full export.
    package var windowStart: Date?
    /// The `LastDateTime` sent (text exactly as in the body).
    package var lastDateTime: String?
    /// The JSON body sent.
    package var requestBody: String
    /// `nil` = `polling.deadline_s`; 0 = none; else seconds.
    package var deadlineSeconds: Int64?
    package var download: Bool?
    package var globalHooks: Bool
    package var hooks: [TokenHook]
    /// This process and its identity (`boot_id/starttime`), so others can tell a live send from a dead one.
    package var senderPID: Int32?
    package var senderIdentity: String?
    /// The id ending the `CallbackURL` sent (`exports.callback_id`, unique); `nil` when no callback was asked for.
    package var callbackID: String?

    package init(
        clientID: ClientID, segment: SegmentName, label: String?, incremental: Bool, windowStart: Date?,
        lastDateTime: String?,
        requestBody: String, deadlineSeconds: Int64?, download: Bool?, globalHooks: Bool, hooks: [TokenHook],
        senderPID: Int32? = nil, senderIdentity: String? = nil, callbackID: String? = nil
    ) {
        self.senderPID = senderPID
        self.senderIdentity = senderIdentity
        self.callbackID = callbackID
        self.clientID = clientID
        self.segment = segment
        self.label = label
        self.incremental = incremental
        self.windowStart = windowStart
        self.lastDateTime = lastDateTime
        self.requestBody = requestBody
        self.deadlineSeconds = deadlineSeconds
        self.download = download
        self.globalHooks = globalHooks
        self.hooks = hooks
        self.callbackID = callbackID
    }
}

/// What ``AdminStore/beginExport(_:at:)`` did.
package enum BeginExport: Sendable, Hashable {
    /// Recorded as `sending`, first attempt counted: send the request now.
    case recorded(ExportRecord)
    /// Another export of the segment may exist without a known token: nothing recorded.
    case unsettled(ExportRecord)
}

extension AdminStore {
    /// Records an initiate before its request is sent: state `sending`, attempt 1, `window_end` = `at`.
    ///
    /// Refused (``BeginExport/unsettled(_:)``, nothing written) while another export of the same client
    /// ID and segment is `sending` or `unknown` — the partial unique index `exports_one_unsettled`
    /// makes that hold across processes.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func beginExport(_ export: NewExport, at: Date) throws -> BeginExport {
        let hooks = String(decoding: (try? JSONEncoder().encode(export.hooks)) ?? Data("[]".utf8), as: UTF8.self)
        return try write { db in
            if let existing = try Self.unsettledExport(clientID: export.clientID, segment: export.segment.value, db: db)
            {
                return .unsettled(existing)
            }
            try db.execute(
                sql: """
                    INSERT INTO exports (client_id, segment, label, state, incremental, window_start, window_end, last_date_time, request_body,
                                         attempts, created_at, deadline_s, download, global_hooks, hooks, sender_pid, sender_identity, callback_id)
                    VALUES (?, ?, ?, 'sending', ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    export.clientID, export.segment.value, export.label, export.incremental,
                    export.windowStart.map(Timestamp.format),
                    Timestamp.format(at), export.lastDateTime, export.requestBody, Timestamp.format(at),
                    export.deadlineSeconds,
                    export.download, export.globalHooks, hooks, export.senderPID, export.senderIdentity,
                    export.callbackID,
                ])
            return .recorded(try Self.fetchExport(id: db.lastInsertedRowID, db: db))
        }
    }

    /// Counts one more attempt of a `sending` export just before its request is sent again (only after
    /// an answer that proves none was started); `window_end` moves to `at`.
    package func recordExportAttempt(id: Int64, at: Date) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE exports SET attempts = attempts + 1, window_end = ? WHERE id = ? AND state = 'sending'",
                arguments: [Timestamp.format(at), id])
        }
    }

    /// Stores the answer's access token and starts watching it, in one transaction: the export is
    /// `started`, linked to the token row that `token` adds (or finds already watched).
    /// - Throws: `StoreError` `.notFound` when the export is not `sending`/`unknown` any more (another
    ///   process settled it), `.corrupt` when another export already owns that token row; `.busy`.
    package func exportStarted(id: Int64, token: NewToken, httpStatus: Int?, at: Date, settled: Bool = false) throws
        -> AddResult
    {
        let nowText = Timestamp.format(at)
        return try write { db in
            let export = try Self.fetchExport(id: id, db: db)
            // An abandoned export that never got a token may still get one: its answer arrived after all
            // (its command was still sending), or the operator found it later.
            guard
                export.state.isUnsettled
                    || (export.state == .abandoned && export.tokenID == nil && export.accessToken == nil)
            else {
                throw StoreError(
                    .notFound,
                    "export \(id) is \(export.state.rawValue)\(export.accessToken.map { " (access token \($0))" } ?? ""), not waiting for its access token"
                )
            }
            let result = try Self.add(token, reset: false, seq: try Self.nextAdminSeq(db), nowText: nowText, db: db)
            if let owner = try Int64.fetchOne(
                db, sql: "SELECT id FROM exports WHERE token_id = ? AND id <> ?", arguments: [result.token.id, id])
            {
                throw StoreError(.corrupt, "access token \(token.accessToken) already belongs to export \(owner)")
            }
            try db.execute(
                sql: """
                    UPDATE exports SET state = 'started', token_id = ?, access_token = ?, answered_at = coalesce(answered_at, ?),
                           http_status = coalesce(?, http_status), error = NULL, settled_at = ?, sender_pid = NULL, sender_identity = NULL
                    WHERE id = ?
                    """,
                arguments: [result.token.id, token.accessToken, nowText, httpStatus, settled ? nowText : nil, id])
            return result
        }
    }

    /// Ends a `sending` export whose request got an answer that started nothing (`refused`) or an
    /// outcome that may have started one (`unknown`), with the reason.
    /// - Parameter refused: true for `refused`, false for `unknown`.
    package func settleExport(id: Int64, refused: Bool, httpStatus: Int?, error: String, at: Date) throws {
        let state: ExportState = refused ? .refused : .unknown
        try write { db in
            try db.execute(
                sql:
                    "UPDATE exports SET state = ?, http_status = ?, error = ?, answered_at = ?, sender_pid = NULL, sender_identity = NULL WHERE id = ? AND state = 'sending'",
                arguments: [state.rawValue, httpStatus, error, httpStatus == nil ? nil : Timestamp.format(at), id])
        }
    }

    /// Marks an unsettled export `abandoned` (an operator found no export on the server, or accepts
    /// never downloading it).
    /// - Throws: `StoreError` `.notFound` when there is no such export or it is settled already.
    /// - Parameter isBeingSent: whether the export's sending command is still alive (checked inside the
    ///   transaction); such an export is not abandoned (`.busy`): its answer may still come.
    package func abandonExport(id: Int64, at: Date, isBeingSent: @Sendable (ExportRecord) -> Bool = { _ in false })
        throws -> ExportRecord
    {
        try write { db in
            let export = try Self.fetchExport(id: id, db: db)
            guard export.state.isUnsettled else {
                throw StoreError(
                    .notFound,
                    "export \(id) is \(export.state.rawValue); only a sending or unknown export can be abandoned")
            }
            if export.state == .sending, isBeingSent(export) {
                throw StoreError(
                    .busy,
                    "export \(id) is being sent right now by process \(export.senderPID.map(String.init) ?? "?"); wait for that `mprefd export` to finish"
                )
            }
            try db.execute(
                sql: "UPDATE exports SET state = 'abandoned', settled_at = ? WHERE id = ?",
                arguments: [Timestamp.format(at), id])
            return try Self.fetchExport(id: id, db: db)
        }
    }

    /// One export.
    /// - Throws: `StoreError` `.notFound`, `.corrupt` (a row edited outside the schema's rules).
    package func export(id: Int64) throws -> ExportRecord {
        try read { db in try Self.fetchExport(id: id, db: db) }
    }

    /// The export that started token row `tokenID`, if `mprefd export` started it.
    package func export(tokenID: TokenID) throws -> ExportRecord? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(ExportRecord.columns) FROM exports WHERE token_id = ?", arguments: [tokenID]
            ).map(ExportRecord.init(row:))
        }
    }

}

extension TokenLookup {
    /// Exports that may exist on the server without a known access token (`sending`, `unknown`), oldest first.
    package func unsettledExports() throws -> [ExportRecord] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(ExportRecord.columns) FROM exports WHERE state IN ('sending', 'unknown') ORDER BY id"
            )
            .map(ExportRecord.init(row:))
        }
    }

}

extension AdminStore {
    /// The cursor of one segment, if any delivery or reset set it.
    package func cursor(clientID: ClientID, segment: SegmentName) throws -> CursorRecord? {
        try read { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT client_id, segment, position, export_id, set_by, updated_at FROM cursors WHERE client_id = ? AND segment = ?",
                arguments: [clientID, segment.value]
            ).map(CursorRecord.init(row:))
        }
    }

    /// Every cursor, by client ID then segment.
    package func cursors(clientID: ClientID? = nil) throws -> [CursorRecord] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT client_id, segment, position, export_id, set_by, updated_at FROM cursors
                    WHERE ?1 IS NULL OR client_id = ?1 ORDER BY client_id, segment
                    """, arguments: [clientID]
            ).map(CursorRecord.init(row:))
        }
    }

    /// Sets a segment's cursor to `position` (`set_by = 'reset'`: deliveries of exports sent before
    /// `at` no longer move it), or removes it (`position` nil: the next `--incremental` export is a full
    /// one). Returns whether a cursor existed before.
    package func resetCursor(clientID: ClientID, segment: SegmentName, to position: Date?, at: Date) throws -> Bool {
        try write { db in
            let existed =
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM cursors WHERE client_id = ? AND segment = ?",
                    arguments: [clientID, segment.value]) ?? false
            if let position {
                try db.execute(
                    sql: """
                        INSERT INTO cursors (client_id, segment, position, export_id, set_by, updated_at) VALUES (?, ?, ?, NULL, 'reset', ?)
                        ON CONFLICT (client_id, segment) DO UPDATE SET position = excluded.position, export_id = NULL, set_by = 'reset',
                                                                     updated_at = excluded.updated_at
                        """, arguments: [clientID, segment.value, Timestamp.format(position), Timestamp.format(at)])
            } else {
                try db.execute(
                    sql: "DELETE FROM cursors WHERE client_id = ? AND segment = ?",
                    arguments: [clientID, segment.value])
            }
            return existed
        }
    }

    private static func unsettledExport(clientID: ClientID, segment: String, db: Database) throws -> ExportRecord? {
        try Row.fetchOne(
            db,
            sql:
                "SELECT \(ExportRecord.columns) FROM exports WHERE client_id = ? AND segment = ? AND state IN ('sending', 'unknown')",
            arguments: [clientID, segment]
        ).map(ExportRecord.init(row:))
    }

    static func fetchExport(id: Int64, db: Database) throws -> ExportRecord {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT \(ExportRecord.columns) FROM exports WHERE id = ?", arguments: [id])
        else {
            throw StoreError(.notFound, "no export \(id); `mprefd status` lists the exports waiting to be resolved")
        }
        return try ExportRecord(row: row)
    }
}

extension SchedulingReads {
    /// How long the newest `limit` exports of a segment took to complete, in seconds, newest first:
    /// from the token's `added_at` to the middle of the last poll before its first `Complete` and that
    /// poll (the finish lies between them). Tokens of the segment (`tokens.segment`) whose history
    /// still holds a `Complete` poll; what retention pruned is simply not counted.
    /// - Parameter excluding: a token row left out (the one being predicted).
    package func segmentDurations(clientID: ClientID, segment: SegmentName, excluding: TokenID? = nil, limit: Int = 30)
        async throws -> [Double]
    {
        try await asyncRead { db in
            try Double.fetchAll(
                db,
                sql: """
                    WITH done AS (
                        SELECT t.id, t.added_at,
                               (SELECT min(p.polled_at) FROM polls p WHERE p.token_id = t.id AND lower(p.status) = 'complete') AS first_complete
                        FROM tokens t
                        WHERE t.client_id = ?1 AND t.segment = ?2 AND t.id IS NOT ?3
                        ORDER BY t.id DESC
                        LIMIT ?4 * 4
                    ), bounded AS (
                        SELECT id, added_at, first_complete,
                               coalesce((SELECT max(p.polled_at) FROM polls p
                                         WHERE p.token_id = done.id AND p.polled_at < done.first_complete AND p.status IS NOT NULL),
                                        added_at) AS last_before
                        FROM done WHERE first_complete IS NOT NULL
                    )
                    SELECT ((julianday(first_complete) + julianday(last_before)) / 2 - julianday(added_at)) * 86400.0
                    FROM bounded
                    WHERE first_complete >= added_at
                    ORDER BY id DESC
                    LIMIT ?4
                    """, arguments: [clientID, segment.value, excluding, limit])
        }
    }
}

/// A watching token of a segment, for the stuck check.
package struct SegmentToken: Sendable, Hashable {
    package var id: TokenID
    package var clientID: ClientID
    package var accessToken: AccessToken
    package var segment: SegmentName
    package var addedAt: Date
    /// When a stuck warning was raised (`tokens.stuck_at`); `nil` = none.
    package var stuckAt: String?
}

extension WatchedExportReads {
    /// Watching tokens that belong to a segment, with their `added_at`; rows whose client ID, segment
    /// or `added_at` cannot be read are left out (they are polled with the backoff, and never "stuck").
    /// - Parameter stuckOnly: only those a stuck warning was raised for.
    package func watchingSegmentTokens(stuckOnly: Bool = false) async throws -> [SegmentToken] {
        try await asyncRead { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, client_id, access_token, segment, added_at, stuck_at FROM tokens
                    WHERE state = 'watching' AND segment IS NOT NULL\(stuckOnly ? " AND stuck_at IS NOT NULL" : "") ORDER BY id
                    """
            ).compactMap { row in
                guard let id = try? row.decode(TokenID.self, forColumn: "id"),
                    let clientID = (try? row.decode(String.self, forColumn: "client_id")).flatMap(ClientID.init),
                    let accessToken = try? row.decode(AccessToken.self, forColumn: "access_token"),
                    let segment = (try? row.decode(String.self, forColumn: "segment")).flatMap(SegmentName.init),
                    let addedAt = (try? row.decode(String.self, forColumn: "added_at")).flatMap(Timestamp.parse)
                else { return nil }
                return SegmentToken(
                    id: id, clientID: clientID, accessToken: accessToken, segment: segment, addedAt: addedAt,
                    stuckAt: (try? row.decode(String?.self, forColumn: "stuck_at")).flatMap { $0 })
            }
        }
    }

}

extension DaemonStore {
    /// Records the stuck warning of token row `tokenID` and, in the same transaction, queues the
    /// hook runs of its `stuck` event that `planner` decides (`hooks.on_stuck`, `--on-stuck`), each
    /// carrying `elapsedSeconds` (since the token was added) and `p95Seconds` (its segment's
    /// 95th-percentile duration). `marked` is false, and nothing is queued, when the warning was
    /// raised already or the token is no longer watching.
    /// - Throws: `StoreError` when the transaction fails (nothing is recorded).
    package func markStuck(
        tokenID: TokenID, at: Date, elapsedSeconds: Double, p95Seconds: Double,
        hooks planner: @escaping HookPlanner
    ) async throws -> (marked: Bool, hookRuns: Int) {
        let now = Timestamp.format(at)
        return try await asyncWrite { db in
            try db.execute(
                sql: "UPDATE tokens SET stuck_at = ? WHERE id = ? AND state = 'watching' AND stuck_at IS NULL",
                arguments: [now, tokenID])
            guard db.changesCount > 0 else { return (false, 0) }
            let runs = try Self.insertHookRuns(
                tokenID: tokenID, event: .stuck, at: now, planner: planner,
                stuck: (Self.milliseconds(elapsedSeconds), Self.milliseconds(p95Seconds)), db: db)
            return (true, runs)
        }
    }

    /// `seconds` rounded to the millisecond; `nil` (stored as NULL) when it is not finite.
    private static func milliseconds(_ seconds: Double) -> Double? {
        seconds.isFinite ? (seconds * 1000).rounded() / 1000 : nil
    }
}

/// A token with the status's `Expires` (`tokens.expires`, verbatim), for the worker's expiry rule.
package struct ExpiringToken: Sendable, Hashable {
    package var id: TokenID
    package var clientID: String
    package var accessToken: AccessToken
    package var state: TokenState
    /// `tokens.expires`, verbatim (the API/3 status form; its format is undocumented).
    package var expires: String
}

extension WatchedExportReads {
    /// Tokens in one of `states` whose status carried an `Expires`, by row id; rows that cannot be
    /// read are left out. Which of them are about to expire undelivered is the worker's decision
    /// (`ExpiryRule`, which passes its states).
    package func tokensWithExpiry(in states: Set<TokenState>) async throws -> [ExpiringToken] {
        let names = states.map(\.rawValue).sorted()
        guard !names.isEmpty else { return [] }
        return try await asyncRead { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, client_id, access_token, state, expires FROM tokens
                    WHERE state IN (\(databaseQuestionMarks(count: names.count))) AND expires IS NOT NULL ORDER BY id
                    """, arguments: StatementArguments(names)
            ).compactMap { row in
                guard let id = try? row.decode(TokenID.self, forColumn: "id"),
                    let clientID = try? row.decode(String.self, forColumn: "client_id"),
                    let accessToken = try? row.decode(AccessToken.self, forColumn: "access_token"),
                    let state = (try? row.decode(String.self, forColumn: "state")).flatMap(TokenState.init(rawValue:)),
                    let expires = try? row.decode(String.self, forColumn: "expires")
                else { return nil }
                return ExpiringToken(
                    id: id, clientID: clientID, accessToken: accessToken, state: state, expires: expires)
            }
        }
    }
}
