import Foundation
import Logging
import MprefStore

/// The daemon's row in the `daemon` table (`mprefd status` reads it): written when the daemon
/// starts and on every ``beat()``, every `Daemon.heartbeatInterval` (default 5 s).
struct Heartbeat: Sendable {
    let database: DaemonStore
    let pid: Int32
    let version: String
    let hostname: String
    let startedAt: Date
    let logger: Logger

    /// Writes the row now.
    /// - Throws: `StoreError` when the database refuses the write.
    func write() async throws {
        try await database.writeHeartbeat(pid: pid, version: version, hostname: hostname, startedAt: startedAt)
    }

    /// Writes the row; a failure is logged and the next beat tries again.
    func beat() async {
        do {
            try await write()
        } catch is CancellationError {
        } catch {
            logger.warning("cannot write the heartbeat", metadata: ["error": "\(error)"])
        }
    }
}
