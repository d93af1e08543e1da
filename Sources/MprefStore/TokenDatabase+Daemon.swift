import Foundation
import MprefCore
import GRDB

/// The `daemon` row: who runs on this database and whether it is alive.
package struct DaemonRecord: Codable, Sendable, Hashable, FetchableRecord {
    package var pid: Int
    package var version: String
    package var hostname: String
    package var startedAt: String
    /// Written every few seconds while the daemon runs.
    package var heartbeatAt: String
    /// Set on a clean shutdown.
    package var stoppedAt: String?

    enum CodingKeys: String, CodingKey {
        case pid, version, hostname
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
        case stoppedAt = "stopped_at"
    }
}

extension DaemonStore {
    /// Records the daemon's start (or a heartbeat, with the same `startedAt`).
    package func writeHeartbeat(pid: Int32, version: String, hostname: String, startedAt: Date, now: Date = .now)
        async throws
    {
        try await asyncWrite { db in
            try db.execute(
                sql: """
                    INSERT INTO daemon (id, pid, version, hostname, started_at, heartbeat_at, stopped_at) VALUES (1, ?, ?, ?, ?, ?, NULL)
                    ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, version = excluded.version, hostname = excluded.hostname,
                        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                    """, arguments: [Int(pid), version, hostname, Timestamp.format(startedAt), Timestamp.format(now)])
        }
    }

    /// Records a clean stop.
    package func markDaemonStopped(now: Date = .now) async throws {
        try await asyncWrite { db in
            try db.execute(
                sql: "UPDATE daemon SET stopped_at = ?, heartbeat_at = ? WHERE id = 1",
                arguments: [Timestamp.format(now), Timestamp.format(now)])
        }
    }
}
