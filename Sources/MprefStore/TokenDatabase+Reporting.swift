import Foundation
import MprefCore
import GRDB

/// What `mprefd status` reports from the database, read in one transaction (a consistent snapshot).
package struct StatusSnapshot: Sendable, Hashable {
    /// The `daemon` row; `nil` when no daemon ever ran on this database.
    package var daemon: DaemonRecord?
    /// Token counts by `tokens.state`; states without tokens are absent.
    package var tokenCounts: [String: Int]
    /// The earliest `next_poll_at` of a watching token (UTC text, see `Timestamp`); `nil` when none is watched.
    package var nextPollAt: String?
    /// Host and account pauses whose `paused_until` is after the snapshot's `now`.
    package var pauses: [PauseRecord]
    /// Hook runs by `hook_runs.state`; states without runs are absent.
    package var hookRunCounts: [String: Int]
    /// Polls recorded since `recentSince` (the `polls_by_time` index), and how many of them had no
    /// usable status (`outcome <> 'ok'`).
    package var recentPolls: Int = 0
    package var recentErrors: Int = 0
    /// Watching tokens by client ID.
    package var watchingByClientID: [String: Int] = [:]
    /// Watching tokens whose `next_poll_at` is before `overdueBefore`, by client ID.
    package var overdueByClientID: [String: Int] = [:]
}

/// What one round of `mprefd wait` reads: the waited-for tokens and the daemon row, in one transaction.
package struct WaitSnapshot: Sendable, Hashable {
    /// The tokens found, in the order of the ids asked for; a purged token is missing.
    package var tokens: [TokenRecord]
    /// The `daemon` row; `nil` when no daemon ever ran on this database.
    package var daemon: DaemonRecord?
}

extension ReportStore {
    /// Everything `mprefd status` shows from the database, in one read transaction.
    ///
    /// Uses the `tokens_by_state` and `hook_runs_due` indexes; `pauses` and `daemon` are tiny.
    /// - Parameters:
    ///   - now: pauses ending at or before it are left out.
    ///   - recentSince: polls from then on count in `recentPolls`/`recentErrors`; default 10 minutes before `now`.
    ///   - overdueBefore: a watching token due before then counts in `overdueByClientID`; default 5 minutes before `now`.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func statusSnapshot(now: Date = .now, recentSince: Date? = nil, overdueBefore: Date? = nil) throws
        -> StatusSnapshot
    {
        let recentText = Timestamp.format(recentSince ?? now.addingTimeInterval(-600))
        let overdueText = Timestamp.format(overdueBefore ?? now.addingTimeInterval(-300))
        return try read { db in
            let daemon = try Self.fetchDaemon(db)
            let tokenCounts = try Self.counts(
                db, sql: "SELECT state AS key, count(*) AS count FROM tokens GROUP BY state")
            let nextPollAt = try String.fetchOne(
                db,
                sql:
                    "SELECT min(next_poll_at) FROM tokens WHERE state = 'watching' AND next_poll_at GLOB \(Self.timestampGlob)"
            )
            let pauses = try PauseRecord.fetchInForce(db, now: now)
            let hookRunCounts = try Self.counts(
                db, sql: "SELECT state AS key, count(*) AS count FROM hook_runs GROUP BY state")
            var snapshot = StatusSnapshot(
                daemon: daemon, tokenCounts: tokenCounts, nextPollAt: nextPollAt, pauses: pauses,
                hookRunCounts: hookRunCounts)
            if let row = try Row.fetchOne(
                db, sql: "SELECT count(*) AS polls, total(outcome <> 'ok') AS errors FROM polls WHERE polled_at >= ?",
                arguments: [recentText])
            {
                snapshot.recentPolls = row["polls"]
                snapshot.recentErrors = Int(exactly: (row["errors"] as Double).rounded()) ?? 0
            }
            snapshot.watchingByClientID = try Self.counts(
                db,
                sql:
                    "SELECT client_id AS key, count(*) AS count FROM tokens WHERE state = 'watching' GROUP BY client_id"
            )
            snapshot.overdueByClientID = try Self.counts(
                db,
                sql:
                    "SELECT client_id AS key, count(*) AS count FROM tokens WHERE state = 'watching' AND next_poll_at < ? AND next_poll_at GLOB \(Self.timestampGlob) GROUP BY client_id",
                arguments: [overdueText])
            return snapshot
        }
    }

    /// The tokens with these row ids and the daemon row, in one read transaction (one set-based
    /// primary-key lookup).
    ///
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func waitSnapshot(tokenIDs: [TokenID]) throws -> WaitSnapshot {
        let ids = Self.jsonArray(tokenIDs)
        return try read { db in
            let rows = try TokenRecord.fetchAll(
                db, sql: "SELECT \(TokenRecord.columns) FROM tokens WHERE id IN (SELECT value FROM json_each(?))",
                arguments: [ids])
            let byID = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            return WaitSnapshot(tokens: tokenIDs.compactMap { byID[$0] }, daemon: try Self.fetchDaemon(db))
        }
    }

    private static func fetchDaemon(_ db: Database) throws -> DaemonRecord? {
        try DaemonRecord.fetchOne(
            db, sql: "SELECT pid, version, hostname, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1")
    }

    /// `sql` selects a `key` and its `count`.
    private static func counts(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [String: Int]
    {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
            counts[row["key"] as String] = row["count"] as Int
        }
        return counts
    }
}

extension ReportStore {
    /// SQL: the shape of a `Timestamp` (`YYYY-MM-DDTHH:MM:SS…`), so a hand-edited `next_poll_at`
    /// (`''`, `'garbage'`) is neither the "next poll" of `status` nor counted as overdue: such rows
    /// are reported once, as unusable rows.
    static let timestampGlob = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'"
}
