import Foundation
import MprefCore
import GRDB

/// A token the daemon polls, as it keeps it in memory.
package struct WatchedToken: Sendable, Hashable {
    package var id: TokenID
    package var clientID: ClientID
    package var accessToken: AccessToken
    package var attempt: Int
    package var consecutiveErrors: Int
    package var consecutiveNotFound: Int
    /// `watching` (status polls) or `downloading` (page and commit requests).
    package var state: TokenState
    /// The token's own download setting (`add-token --download/--no-download`); `nil` = the account's.
    package var download: Bool?
    /// The latest `RowCount` seen, for verifying a download; `nil` = unknown.
    package var rowCount: Int64?
    /// The latest `ByteCount` seen, for the free-space check before a download; `nil` = unknown.
    package var byteCount: Int64?
    /// When the daemon planned to poll next (wall clock, from `next_poll_at`); `nil` = now.
    package var nextPollAt: Date?
    /// When a still-processing export becomes `timed_out`; `nil` = never.
    package var deadlineAt: Date?
    /// When the token was (re-)armed (`added_at`): elapsed time is measured from here; `nil` = unknown.
    package var addedAt: Date?
    /// The segment the export belongs to (`tokens.segment`); `nil` = none, or an unusable value.
    package var segment: SegmentName?
    /// The export was initiated with a `CallbackURL` (`exports.callback_id`): its completion is
    /// announced by a callback, and its scheduled polls are a safety net (`callbacks.safety_interval_s`).
    package var awaitsCallback: Bool

    package init(
        id: TokenID, clientID: ClientID, accessToken: AccessToken, attempt: Int = 0, consecutiveErrors: Int = 0,
        consecutiveNotFound: Int = 0, nextPollAt: Date? = nil, deadlineAt: Date? = nil,
        state: TokenState = .watching, download: Bool? = nil, rowCount: Int64? = nil, byteCount: Int64? = nil,
        addedAt: Date? = nil, segment: SegmentName? = nil, awaitsCallback: Bool = false
    ) {
        self.awaitsCallback = awaitsCallback
        self.addedAt = addedAt
        self.segment = segment
        self.byteCount = byteCount
        self.state = state
        self.download = download
        self.rowCount = rowCount
        self.id = id
        self.clientID = clientID
        self.accessToken = accessToken
        self.attempt = attempt
        self.consecutiveErrors = consecutiveErrors
        self.consecutiveNotFound = consecutiveNotFound
        self.nextPollAt = nextPollAt
        self.deadlineAt = deadlineAt
    }
}

/// A token whose row an admin command changed since the daemon last looked.
package struct TokenChange: Sendable, Hashable {
    package var tokenID: TokenID
    package var state: TokenState
    /// The token as it now is, when its state is `watching` or `downloading` and its row can be used.
    package var watched: WatchedToken?
    /// Why the row cannot be polled, when its state is `watching` and a column is unusable.
    package var defect: TokenRowDefect?
}

/// The tokens in state `watching` at the daemon's start.
package struct WatchingTokens: Sendable {
    /// The rows the daemon can poll.
    package var tokens: [WatchedToken] = []
    /// The rows it cannot use as they are (kept, not polled; logged once).
    package var defects: [TokenRowDefect] = []
}

/// One poll to append to the history, with the token row's new values.
package struct PollWrite: Sendable, Hashable {
    package var tokenID: TokenID
    // The `polls` row.
    package var polledAt: Date
    package var httpStatus: Int?
    package var status: String?
    package var rowCount: Int64?
    package var byteCount: Int64?
    package var latencyMs: Int64?
    /// Seconds.
    package var retryAfterS: Double?
    /// Seconds; `nil` when polling stopped.
    package var nextDelayS: Double?
    /// One of the `polls.outcome` values (`ok`, `unavailable`, …).
    package var outcome: OutcomeKind
    package var error: String?
    // The `tokens` row.
    package var newState: TokenState
    package var nextPollAt: Date?
    package var attempt: Int
    package var consecutiveErrors: Int
    package var consecutiveNotFound: Int
    package var lastError: String?
    /// The answer's `Expires` (API/3 status form), verbatim and bounded; `nil` = none (the stored one is kept).
    package var expires: String?

    package init(
        tokenID: TokenID, polledAt: Date, httpStatus: Int?, status: String?, rowCount: Int64?, byteCount: Int64?,
        latencyMs: Int64?, retryAfterS: Double?, nextDelayS: Double?, outcome: OutcomeKind, error: String?,
        newState: TokenState, nextPollAt: Date?, attempt: Int, consecutiveErrors: Int, consecutiveNotFound: Int,
        lastError: String?, expires: String? = nil
    ) {
        self.expires = expires.flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        self.tokenID = tokenID
        self.polledAt = polledAt
        self.httpStatus = httpStatus
        self.status = status
        self.rowCount = rowCount
        self.byteCount = byteCount
        self.latencyMs = latencyMs
        self.retryAfterS = retryAfterS
        self.nextDelayS = nextDelayS
        self.outcome = outcome
        self.error = error
        self.newState = newState
        self.nextPollAt = nextPollAt
        self.attempt = attempt
        self.consecutiveErrors = consecutiveErrors
        self.consecutiveNotFound = consecutiveNotFound
        self.lastError = lastError
    }
}

/// A host or account pause, stored so that it survives a restart.
package struct PauseRecord: Sendable, Hashable, Codable {
    /// `host` (a 503: subject = scheme://host:port) or `account` (401/403: subject = client ID).
    package var scope: PauseScope
    package var subject: String
    package var pausedUntil: Date
    package var startedAt: Date
    package var reason: String
    package var httpStatus: Int?
    /// Seconds.
    package var retryAfterS: Double?

    package init(
        scope: PauseScope, subject: String, pausedUntil: Date, startedAt: Date, reason: String, httpStatus: Int?,
        retryAfterS: Double?
    ) {
        self.scope = scope
        self.subject = subject
        self.pausedUntil = pausedUntil
        self.startedAt = startedAt
        self.reason = reason
        self.httpStatus = httpStatus
        self.retryAfterS = retryAfterS
    }
}

extension PauseRecord {
    /// The pauses with `paused_until` after `now`, ordered by scope and subject.
    static func fetchInForce(_ db: Database, now: Date) throws -> [PauseRecord] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT scope, subject, paused_until, started_at, reason, http_status, retry_after_s
                FROM pauses WHERE paused_until > ? ORDER BY scope, subject
                """, arguments: [Timestamp.format(now)]
        )
        .compactMap { row in
            // A row edited into something unusable is skipped (not a pause), never a trap.
            guard let until = (try? row.decode(String.self, forColumn: "paused_until")).flatMap(Timestamp.parse),
                let started = (try? row.decode(String.self, forColumn: "started_at")).flatMap(Timestamp.parse),
                let scope = (try? row.decode(String.self, forColumn: "scope")).flatMap(PauseScope.init(rawValue:)),
                let subject = try? row.decode(String.self, forColumn: "subject")
            else { return nil }
            return PauseRecord(
                scope: scope, subject: subject, pausedUntil: until, startedAt: started,
                reason: (try? row.decode(String?.self, forColumn: "reason")).flatMap { $0 } ?? "",
                httpStatus: (try? row.decode(Int?.self, forColumn: "http_status")).flatMap { $0 },
                retryAfterS: (try? row.decode(Double?.self, forColumn: "retry_after_s")).flatMap { $0 })
        }
    }
}

/// What one `recordPolls` transaction did.
package struct RecordSummary: Sendable, Hashable {
    /// Hook runs inserted (pending) for terminal events.
    package var hookRunsCreated = 0
    /// Tokens whose row was not updated because an admin command changed their state meanwhile
    /// (their poll row is still appended).
    package var notWatchingAnyMore: [TokenID] = []
}

extension DaemonStore {
    /// Every token in state `watching`, for the scheduler's start: the usable rows and the defects of the others.
    package func loadWatchingTokens() async throws -> WatchingTokens {
        try await asyncRead { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT \(WatchedToken.columns) FROM tokens WHERE state IN ('watching', 'downloading')")
            var result = WatchingTokens()
            while let row = try rows.next() {
                switch WatchedToken.decode(row) {
                case .success(let token): result.tokens.append(token)
                case .failure(let defect): result.defects.append(defect)
                }
            }
            return result
        }
    }

    /// The highest `admin_seq` in the table: where watching for admin changes starts.
    package func currentAdminSeq() async throws -> Int64 {
        try await asyncRead { db in try Int64.fetchOne(db, sql: "SELECT value FROM admin_sequence WHERE id = 1") ?? 0 }
    }

    /// Tokens changed and pauses lifted by admin commands after `seq` (indexed range queries: cheap
    /// when nothing changed), with the new high-water mark.
    package func adminChanges(since seq: Int64) async throws -> AdminChanges {
        try await asyncRead { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(WatchedToken.columns), admin_seq FROM tokens WHERE admin_seq > ? ORDER BY admin_seq",
                arguments: [seq])
            var high = seq
            var changes = rows.compactMap { row -> TokenChange? in
                high = max(high, (try? row.decode(Int64.self, forColumn: "admin_seq")) ?? high)
                guard let id = try? row.decode(TokenID.self, forColumn: "id"),
                    let state = (try? row.decode(String.self, forColumn: "state")).flatMap(TokenState.init(rawValue:))
                else { return nil }
                guard state.isActive else { return TokenChange(tokenID: id, state: state, watched: nil, defect: nil) }
                switch WatchedToken.decode(row) {
                case .success(let token): return TokenChange(tokenID: id, state: state, watched: token, defect: nil)
                case .failure(let defect): return TokenChange(tokenID: id, state: state, watched: nil, defect: defect)
                }
            }
            // Purged rows: gone from `tokens`, so reported as removed.
            for row in try Row.fetchAll(
                db, sql: "SELECT token_id, admin_seq FROM purged_tokens WHERE admin_seq > ?", arguments: [seq])
            {
                guard let id = try? row.decode(TokenID.self, forColumn: "token_id") else { continue }
                high = max(high, (try? row.decode(Int64.self, forColumn: "admin_seq")) ?? high)
                changes.append(TokenChange(tokenID: id, state: .removed, watched: nil, defect: nil))
            }
            let lifts = try Self.pauseLifts(since: seq, db)
            return AdminChanges(tokens: changes, pauseLifts: lifts.lifts, seq: max(high, lifts.seq))
        }
    }

    /// Appends the polls and updates their tokens in ONE transaction; inserts the pending hook runs
    /// of every terminal event in that same transaction, and stores `pauses`: one row per host and
    /// per account, the one that ends last (a shorter pause never overwrites a longer one in force,
    /// whatever order a batch brings them in), as the scheduler keeps it in memory.
    ///
    /// `planner` is the worker's decision of which hook commands run (``HookPlanner``). A token's row is only updated while it is still `watching` (an admin
    /// pause or remove during the poll wins); its poll row is appended regardless.
    package func recordPolls(_ writes: [PollWrite], pauses: [PauseRecord] = [], hooks planner: @escaping HookPlanner)
        async throws -> RecordSummary
    {
        try await asyncWrite { db in
            var summary = RecordSummary()
            // A token purged while its poll was in flight has no row to attach history to: the
            // INSERT … SELECT … WHERE EXISTS appends nothing then (one statement instead of two).
            let insertPoll = try db.cachedStatement(
                sql: """
                    INSERT INTO polls (token_id, polled_at, http_status, status, row_count, byte_count, latency_ms,
                                       retry_after_s, next_delay_s, outcome, error)
                    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?1)
                    """)
            let updateToken = try db.cachedStatement(
                sql: """
                    UPDATE tokens SET state = ?, last_status = coalesce(?, last_status), row_count = coalesce(?, row_count),
                           byte_count = coalesce(?, byte_count), last_polled_at = ?, next_poll_at = ?, attempt = ?,
                           consecutive_errors = ?, consecutive_not_found = ?, last_error = ?, finished_at = ?, expires = coalesce(?, expires)
                    WHERE id = ? AND state = 'watching'
                    """)
            for w in writes {
                let polledAt = Timestamp.format(w.polledAt)
                try insertPoll.execute(arguments: [
                    w.tokenID, polledAt, w.httpStatus, w.status, w.rowCount, w.byteCount, w.latencyMs,
                    w.retryAfterS, w.nextDelayS, w.outcome.rawValue, w.error,
                ])
                guard db.changesCount > 0 else {
                    summary.notWatchingAnyMore.append(w.tokenID)
                    continue
                }
                let finishedAt = w.newState.isTerminal ? polledAt : nil
                try updateToken.execute(arguments: [
                    w.newState.rawValue, w.status, w.rowCount, w.byteCount, polledAt,
                    w.nextPollAt.map(Timestamp.format),
                    w.attempt, w.consecutiveErrors, w.consecutiveNotFound, w.lastError, finishedAt, w.expires,
                    w.tokenID,
                ])
                guard db.changesCount > 0 else {
                    summary.notWatchingAnyMore.append(w.tokenID)
                    continue
                }
                if w.newState.isTerminal {
                    summary.hookRunsCreated += try Self.insertHookRuns(
                        tokenID: w.tokenID, state: w.newState, at: polledAt, planner: planner, db: db)
                }
            }
            try Self.storePauses(pauses, db)
            return summary
        }
    }
}

extension StoreView {
    /// Upserts pauses: one row per host and per account, the one that ends last.
    static func storePauses(_ pauses: [PauseRecord], _ db: Database) throws {
        for pause in pauses {
            try db.execute(
                sql: """
                    INSERT INTO pauses (scope, subject, paused_until, started_at, reason, http_status, retry_after_s)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (scope, subject) DO UPDATE SET paused_until = excluded.paused_until,
                        started_at = excluded.started_at, reason = excluded.reason, http_status = excluded.http_status,
                        retry_after_s = excluded.retry_after_s
                    WHERE excluded.paused_until > pauses.paused_until
                    """,
                arguments: [
                    pause.scope.rawValue, pause.subject, Timestamp.format(pause.pausedUntil),
                    Timestamp.format(pause.startedAt),
                    pause.reason, pause.httpStatus, pause.retryAfterS,
                ])
        }
    }

    /// Inserts, `pending`, the hook runs the worker's `planner` decides for token `tokenID` reaching
    /// the terminal `state`, from the token's hook settings as its rows now say. Returns how many.
    static func insertHookRuns(tokenID: TokenID, state: TokenState, at now: String, planner: HookPlanner, db: Database)
        throws -> Int
    {
        guard let event = HookEvent(state) else { return 0 }
        return try insertHookRuns(tokenID: tokenID, event: event, at: now, planner: planner, db: db)
    }

    /// Inserts, `pending`, the hook runs the worker's `planner` decides for `event` of token
    /// `tokenID`, from the token's hook settings as its rows now say; `stuck` carries the facts of a
    /// `stuck` event (seconds elapsed, the segment's p95) into each run. Returns how many.
    static func insertHookRuns(
        tokenID: TokenID, event: HookEvent, at now: String, planner: HookPlanner,
        stuck: (elapsedSeconds: Double?, p95Seconds: Double?)? = nil, db: Database
    ) throws -> Int {
        let useGlobal =
            try Bool.fetchOne(db, sql: "SELECT global_hooks FROM tokens WHERE id = ?", arguments: [tokenID]) ?? true
        var own: [HookTrigger: [String]] = [:]
        for row in try Row.fetchAll(
            db, sql: "SELECT on_event, command FROM token_hooks WHERE token_id = ? ORDER BY id", arguments: [tokenID])
        {
            guard
                let trigger = (try? row.decode(String.self, forColumn: "on_event")).flatMap(
                    HookTrigger.init(rawValue:)),
                let command = try? row.decode(String.self, forColumn: "command")
            else { continue }
            own[trigger, default: []].append(command)
        }
        guard let plan = planner(event, TokenHookSettings(globalHooks: useGlobal, own: own)) else { return 0 }
        var inserted = 0
        for command in plan.commands {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO hook_runs (event_id, token_id, event, command, state, created_at, next_attempt_at,
                                                     stuck_elapsed_s, stuck_p95_s)
                    VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
                    """,
                arguments: [
                    plan.eventID, tokenID, plan.event.rawValue, command, now, now, stuck?.elapsedSeconds,
                    stuck?.p95Seconds,
                ])
            inserted += db.changesCount
        }
        return inserted
    }
}

extension SchedulingReads {
    /// Pauses still in force at `now`: where the daemon's scheduler starts from, what `list` shows.
    package func pausesInForce(now: Date = .now) async throws -> [PauseRecord] {
        try await asyncRead { db in try PauseRecord.fetchInForce(db, now: now) }
    }
}
