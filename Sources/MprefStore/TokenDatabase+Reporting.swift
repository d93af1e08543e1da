import Foundation
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
}

/// What one round of `mprefd wait` reads: the waited-for tokens and the daemon row, in one transaction.
package struct WaitSnapshot: Sendable, Hashable {
    /// The tokens found, in the order of the ids asked for; a purged token is missing.
    package var tokens: [TokenRecord]
    /// The `daemon` row; `nil` when no daemon ever ran on this database.
    package var daemon: DaemonRecord?
}

extension TokenDatabase {
    /// Everything `mprefd status` shows from the database, in one read transaction.
    ///
    /// Uses the `tokens_by_state` and `hook_runs_due` indexes; `pauses` and `daemon` are tiny.
    /// - Parameter now: pauses ending at or before it are left out.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func statusSnapshot(now: Date = .now) throws -> StatusSnapshot {
        try read { db in
            let daemon = try Self.fetchDaemon(db)
            let tokenCounts = try Self.counts(db, sql: "SELECT state, count(*) FROM tokens GROUP BY state")
            let nextPollAt = try String.fetchOne(db, sql: "SELECT min(next_poll_at) FROM tokens WHERE state = 'watching'")
            let pauses = try PauseRecord.fetchInForce(db, now: now)
            let hookRunCounts = try Self.counts(db, sql: "SELECT state, count(*) FROM hook_runs GROUP BY state")
            return StatusSnapshot(daemon: daemon, tokenCounts: tokenCounts, nextPollAt: nextPollAt, pauses: pauses,
                                  hookRunCounts: hookRunCounts)
        }
    }

    /// The tokens with these row ids and the daemon row, in one read transaction (one set-based
    /// primary-key lookup).
    ///
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func waitSnapshot(tokenIDs: [Int64]) throws -> WaitSnapshot {
        let ids = Self.jsonArray(tokenIDs)
        return try read { db in
            let rows = try TokenRecord.fetchAll(db, sql: "SELECT \(TokenRecord.columns) FROM tokens WHERE id IN (SELECT value FROM json_each(?))", arguments: [ids])
            let byID = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            return WaitSnapshot(tokens: tokenIDs.compactMap { byID[$0] }, daemon: try Self.fetchDaemon(db))
        }
    }

    private static func fetchDaemon(_ db: Database) throws -> DaemonRecord? {
        try DaemonRecord.fetchOne(db, sql: "SELECT pid, version, hostname, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1")
    }

    private static func counts(_ db: Database, sql: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: sql) {
            counts[row[0] as String] = row[1] as Int
        }
        return counts
    }
}
