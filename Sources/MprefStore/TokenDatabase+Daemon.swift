import Foundation
import GRDB

/// The `daemon` row: who runs on this database and whether it is alive.
public struct DaemonRecord: Codable, Sendable, Hashable, FetchableRecord {
    public var pid: Int
    public var version: String
    public var hostname: String
    public var startedAt: String
    /// Written every few seconds while the daemon runs.
    public var heartbeatAt: String
    /// Set on a clean shutdown.
    public var stoppedAt: String?

    enum CodingKeys: String, CodingKey {
        case pid, version, hostname
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case stoppedAt = "stopped_at"
    }
}

extension TokenDatabase {
    /// Records the daemon's start (or a heartbeat, with the same `startedAt`).
    package func writeHeartbeat(pid: Int32, version: String, hostname: String, startedAt: Date, now: Date = .now) async throws {
        try await asyncWrite { db in
            try db.execute(sql: """
                INSERT INTO daemon (id, pid, version, hostname, started_at, heartbeat_at, stopped_at) VALUES (1, ?, ?, ?, ?, ?, NULL)
                ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, version = excluded.version, hostname = excluded.hostname,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, arguments: [Int(pid), version, hostname, Timestamp.format(startedAt), Timestamp.format(now)])
        }
    }

    /// Records a clean stop.
    package func markDaemonStopped(now: Date = .now) async throws {
        try await asyncWrite { db in
            try db.execute(sql: "UPDATE daemon SET stopped_at = ?, heartbeat_at = ? WHERE id = 1", arguments: [Timestamp.format(now), Timestamp.format(now)])
        }
    }

    /// The daemon row; `nil` when no daemon ever ran on this database.
    package func daemonRecord() throws -> DaemonRecord? {
        try read { db in try DaemonRecord.fetchOne(db, sql: "SELECT pid, version, hostname, started_at, heartbeat_at, stopped_at FROM daemon WHERE id = 1") }
    }

    /// Token counts by state, e.g. `["watching": 3, "complete": 10]`.
    package func tokenCounts() throws -> [String: Int] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT state, count(*) FROM tokens GROUP BY state").map { ($0[0] as String, $0[1] as Int) })
        }
    }

    /// The earliest `next_poll_at` of a watching token; `nil` when none is watched.
    package func nextPollDue() throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT min(next_poll_at) FROM tokens WHERE state = 'watching'") }
    }

    /// Pauses still in force (for `mprefd status`), synchronous.
    package func pausesInForce(now: Date = .now) throws -> [PauseRecord] {
        let nowText = Timestamp.format(now)
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT scope, subject, paused_until, started_at, reason, http_status, retry_after_s FROM pauses WHERE paused_until > ?", arguments: [nowText])
                .compactMap { row in
                    guard let until = Timestamp.parse(row[2]), let started = Timestamp.parse(row[3]) else { return nil }
                    return PauseRecord(scope: row[0], subject: row[1], pausedUntil: until, startedAt: started, reason: row[4], httpStatus: row[5], retryAfterS: row[6])
                }
        }
    }
}
