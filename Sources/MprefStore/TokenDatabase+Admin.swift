import Foundation
import MprefCore
import GRDB

/// A token to start watching (`mprefd add-token`).
package struct NewToken: Sendable, Hashable {
    package var clientID: ClientID
    package var accessToken: AccessToken
    package var label: String?
    /// When a still-processing export becomes `timed_out`; `nil` for no deadline.
    package var deadline: Date?
    /// The token's own hooks, run in addition to the global ones unless `globalHooks` is false.
    package var hooks: [TokenHook]
    package var globalHooks: Bool
    /// `--download` (true) / `--no-download` (false); `nil` = the account's `download.enabled`.
    package var download: Bool?
    /// The segment the export belongs to (`mprefd export`, `add-token --segment`); `nil` = none.
    package var segment: SegmentName?

    package init(
        clientID: ClientID, accessToken: AccessToken, label: String? = nil, deadline: Date? = nil,
        hooks: [TokenHook] = [],
        globalHooks: Bool = true,
        download: Bool? = nil, segment: SegmentName? = nil
    ) {
        self.download = download
        self.segment = segment
        self.clientID = clientID
        self.accessToken = accessToken
        self.label = label
        self.deadline = deadline
        self.hooks = hooks
        self.globalHooks = globalHooks
    }
}

/// A hook attached to one token: a shell command run on an event.
package struct TokenHook: Sendable, Hashable, Codable {
    /// `complete`, `failure` (failed, timed_out), `expired`, `retrieved`.
    package var onEvent: String
    package var command: String
    enum CodingKeys: String, CodingKey {
        case onEvent = "on_event", command
    }
    package init(onEvent: String, command: String) {
        self.onEvent = onEvent
        self.command = command
    }
}

/// What `addTokens` did with one token.
package enum AddResult: Sendable, Hashable {
    /// A new row, watching.
    case added(TokenRecord)
    /// Already watched or paused: nothing changed.
    case alreadyWatched(TokenRecord)
    /// Already finished (or removed) and `reset` was not asked: nothing changed.
    case alreadyFinished(TokenRecord)
    /// Finished (or removed) and `reset` was asked: watching again from attempt 0 with `added_at`
    /// now (so durations measure this run), history kept.
    case reArmed(TokenRecord)

    package var token: TokenRecord {
        switch self {
        case .added(let t), .alreadyWatched(let t), .alreadyFinished(let t), .reArmed(let t): t
        }
    }
}

extension AdminStore {
    /// Adds `tokens` in one transaction (10,000 at once is fine), due for a first poll at `now`.
    ///
    /// An already-watched token is left unchanged; a finished one is re-armed only when `reset`.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func addTokens(_ tokens: [NewToken], reset: Bool, now: Date = .now) throws -> [AddResult] {
        let nowText = Timestamp.format(now)
        return try write { db in
            let seq = try Self.nextAdminSeq(db)
            var results: [AddResult] = []
            results.reserveCapacity(tokens.count)
            for token in tokens {
                results.append(try Self.add(token, reset: reset, seq: seq, nowText: nowText, db: db))
            }
            return results
        }
    }

    /// One token of ``addTokens(_:reset:now:)``, inside the caller's transaction (also `mprefd export`'s).
    static func add(_ token: NewToken, reset: Bool, seq: Int64, nowText: String, db: Database) throws -> AddResult {
        let find = try db.cachedStatement(
            sql: "SELECT \(TokenRecord.columns) FROM tokens WHERE client_id = ? AND access_token = ?")
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO tokens (client_id, access_token, label, state, added_at, next_poll_at, deadline_at, global_hooks, admin_seq, download, segment)
                VALUES (?, ?, ?, 'watching', ?, ?, ?, ?, ?, ?, ?)
                """)
        let deadline = token.deadline.map(Timestamp.format)
        if let existing = try TokenRecord.fetchOne(find, arguments: [token.clientID, token.accessToken]) {
            if existing.state == .watching || existing.state == .paused || existing.state == .downloading {
                return .alreadyWatched(existing)
            } else if !reset {
                return .alreadyFinished(existing)
            }
            try db.execute(
                sql: """
                    UPDATE tokens SET state = 'watching', label = coalesce(?, label), last_status = NULL, added_at = ?,
                           row_count = NULL, byte_count = NULL, next_poll_at = ?, deadline_at = ?,
                           finished_at = NULL, attempt = 0, consecutive_errors = 0, last_error = NULL,
                           global_hooks = ?, admin_seq = ?, download = ?, segment = coalesce(?, segment), stuck_at = NULL
                    WHERE id = ?
                    """,
                arguments: [
                    token.label, nowText, nowText, deadline, token.globalHooks, seq, token.download,
                    token.segment?.value, existing.id,
                ])
            // Watched again from the start: a new download, if any (the old file stays on disk).
            try db.execute(sql: "DELETE FROM downloads WHERE token_id = ?", arguments: [existing.id])
            if !token.hooks.isEmpty {
                try db.execute(sql: "DELETE FROM token_hooks WHERE token_id = ?", arguments: [existing.id])
                try Self.insertHooks(token.hooks, tokenID: existing.id, db: db)
            }
            return .reArmed(try Self.fetchToken(id: existing.id, db: db))
        }
        try insert.execute(arguments: [
            token.clientID, token.accessToken, token.label, nowText, nowText, deadline, token.globalHooks, seq,
            token.download,
            token.segment?.value,
        ])
        let id = TokenID(db.lastInsertedRowID)
        try Self.insertHooks(token.hooks, tokenID: id, db: db)
        return .added(try Self.fetchToken(id: id, db: db))
    }

    /// The access token most recently added for `clientID` (highest `tokens.id`), or `nil` when the
    /// client ID has none. One indexed lookup (`UNIQUE (client_id, access_token)` leads with client_id).
    package func newestAccessToken(clientID: ClientID) throws -> AccessToken? {
        try read { db in
            try AccessToken.fetchOne(
                db, sql: "SELECT access_token FROM tokens WHERE client_id = ? ORDER BY id DESC LIMIT 1",
                arguments: [clientID])
        }
    }

}

extension TokenLookup {
    /// Tokens, optionally filtered, ordered by id.
    package func listTokens(state: TokenState? = nil, clientID: ClientID? = nil) throws -> [TokenRecord] {
        let (filter, arguments) = Self.tokenFilter(state: state, clientID: clientID)
        return try read { db in
            try TokenRecord.fetchAll(
                db, sql: "SELECT \(TokenRecord.columns) FROM tokens \(filter) ORDER BY id", arguments: arguments)
        }
    }

}

extension AdminStore {
    /// The same rows as ``listTokens(state:clientID:)``, each as one line of compact JSON text built by
    /// SQLite's `json_object` (keys = column names, sorted; `null` for NULL; `global_hooks` a boolean:
    /// the shape `TokenRecord` encodes to), passed to `body` in id order while the rows are read, so
    /// 100,000 tokens never sit in memory at once. One read transaction: a consistent snapshot.
    /// - Throws: `StoreError` from the read; whatever `body` throws, which ends the read.
    package func forEachTokenJSON(
        state: TokenState? = nil, clientID: ClientID? = nil, _ body: @Sendable (String) throws -> Void
    ) throws {
        let (filter, arguments) = Self.tokenFilter(state: state, clientID: clientID)
        try read { db in
            let objects = try String.fetchCursor(
                db, sql: "SELECT \(TokenRecord.jsonObject) FROM tokens \(filter) ORDER BY id", arguments: arguments)
            while let object = try objects.next() { try body(object) }
        }
    }

}

extension TokenLookup {
    static func tokenFilter(state: TokenState?, clientID: ClientID?) -> (
        sql: String, arguments: StatementArguments
    ) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let state {
            conditions.append("state = ?")
            arguments += [state.rawValue]
        }
        if let clientID {
            conditions.append("client_id = ?")
            arguments += [clientID]
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    /// The tokens with this access token (one per client ID), optionally of one client ID.
    package func findTokens(accessToken: AccessToken, clientID: ClientID?) throws -> [TokenRecord] {
        try findTokens(accessTokens: [accessToken], clientID: clientID)
    }

    /// The tokens with any of these access tokens (one row per client ID and access token),
    /// optionally of one client ID, ordered by access token then client ID.
    ///
    /// One set-based query in one read transaction, whatever the number of tokens: the list travels as
    /// one JSON array (`json_each`) and each element is found through the `tokens_by_access_token`
    /// index (migration 0007), or the `(client_id, access_token)` unique index with a client ID.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func findTokens(accessTokens: [AccessToken], clientID: ClientID?) throws -> [TokenRecord] {
        guard !accessTokens.isEmpty else { return [] }
        let list = Self.jsonArray(accessTokens)
        return try read { db in
            if let clientID {
                return try TokenRecord.fetchAll(
                    db, sql: Self.findByAccessTokensSQL(withClientID: true), arguments: [list, clientID])
            }
            return try TokenRecord.fetchAll(db, sql: Self.findByAccessTokensSQL(withClientID: false), arguments: [list])
        }
    }

    /// The query behind ``findTokens(accessTokens:clientID:)``: parameter 1 is a JSON array of access
    /// tokens, parameter 2 (when `withClientID`) the client ID. Tests check its query plan.
    package static func findByAccessTokensSQL(withClientID: Bool) -> String {
        """
        SELECT \(TokenRecord.columns) FROM tokens
        WHERE access_token IN (SELECT value FROM json_each(?))\(withClientID ? " AND client_id = ?" : "")
        ORDER BY access_token, client_id
        """
    }

}

extension StoreView {
    /// `[1,2,3]`: integers as one JSON array, for `json_each(?)`.
    static func jsonArray(_ values: [some CustomStringConvertible]) -> String {
        "[" + values.map(\.description).joined(separator: ",") + "]"
    }

}

extension AdminStore {
    /// The last `limit` polls of a token, newest first.
    package func polls(tokenID: TokenID, limit: Int) throws -> [PollRecord] {
        try read { db in
            try PollRecord.fetchAll(
                db,
                sql: """
                    SELECT id, token_id, polled_at, http_status, status, row_count, byte_count, latency_ms,
                           retry_after_s, next_delay_s, outcome, error
                    FROM polls WHERE token_id = ? ORDER BY id DESC LIMIT ?
                    """, arguments: [tokenID, limit])
        }
    }

    /// The hooks attached to one token.
    package func tokenHooks(tokenID: TokenID) throws -> [TokenHook] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT on_event, command FROM token_hooks WHERE token_id = ? ORDER BY id",
                arguments: [tokenID]
            )
            .map { TokenHook(onEvent: $0["on_event"], command: $0["command"]) }
        }
    }

    /// An admin state change applied by `changeState`.
    package enum AdminChange: Sendable {
        /// watching → paused.
        case pause
        /// paused → watching, due now.
        case resume
        /// any → removed (history kept).
        case remove
        /// delete the rows (history, hook runs and all).
        case purge
    }

    /// Applies `change` to the given token ids in one transaction, with one set-based statement
    /// (primary-key lookups); returns the ids actually changed (a pause of a finished token, say,
    /// changes nothing), in no particular order.
    package func changeState(_ change: AdminChange, tokenIDs: [TokenID], now: Date = .now) throws -> [TokenID] {
        guard !tokenIDs.isEmpty else { return [] }
        let nowText = Timestamp.format(now)
        let ids = Self.jsonArray(tokenIDs)
        let selected = "id IN (SELECT value FROM json_each(?))"
        return try write { db in
            let seq = try Self.nextAdminSeq(db)
            switch change {
            case .pause:
                return try TokenID.fetchAll(
                    db,
                    sql:
                        "UPDATE tokens SET state = 'paused', next_poll_at = NULL, admin_seq = ? WHERE \(selected) AND state IN ('watching', 'downloading') RETURNING id",
                    arguments: [seq, ids])
            case .resume:
                return try TokenID.fetchAll(
                    db,
                    sql:
                        "UPDATE tokens SET state = 'watching', next_poll_at = ?, admin_seq = ? WHERE \(selected) AND state = 'paused' RETURNING id",
                    arguments: [nowText, seq, ids])
            case .remove:
                return try TokenID.fetchAll(
                    db,
                    sql:
                        "UPDATE tokens SET state = 'removed', next_poll_at = NULL, admin_seq = ? WHERE \(selected) AND state <> 'removed' RETURNING id",
                    arguments: [seq, ids])
            case .purge:
                let purged = try TokenID.fetchAll(
                    db, sql: "DELETE FROM tokens WHERE \(selected) RETURNING id", arguments: [ids])
                if !purged.isEmpty {
                    try db.execute(
                        sql:
                            "INSERT INTO purged_tokens (token_id, admin_seq, purged_at) SELECT value, ?, ? FROM json_each(?)",
                        arguments: [seq, nowText, Self.jsonArray(purged)])
                    try db.execute(
                        sql: "DELETE FROM purged_tokens WHERE purged_at < ?",
                        arguments: [Timestamp.format(now.addingTimeInterval(-86_400))])
                }
                return purged
            }
        }
    }

    /// The next value of the admin change counter (`admin_sequence`), which never decreases.
    static func nextAdminSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "UPDATE admin_sequence SET value = value + 1 WHERE id = 1 RETURNING value") ?? 1
    }

    /// The row of `id` (a cached statement: `add-token --stdin` reads back every row it writes).
    static func fetchToken(id: TokenID, db: Database) throws -> TokenRecord {
        let select = try db.cachedStatement(sql: "SELECT \(TokenRecord.columns) FROM tokens WHERE id = ?")
        guard let token = try TokenRecord.fetchOne(select, arguments: [id]) else {
            throw StoreError(.notFound, "token row \(id) does not exist")
        }
        return token
    }

    private static func insertHooks(_ hooks: [TokenHook], tokenID: TokenID, db: Database) throws {
        for hook in hooks {
            try db.cachedStatement(sql: "INSERT INTO token_hooks (token_id, on_event, command) VALUES (?, ?, ?)")
                .execute(arguments: [tokenID, hook.onEvent, hook.command])
        }
    }
}
