import Foundation
import Logging
import MprefCore
import MprefStore
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// `download.retention_days`: removes delivered files (committed, every hook run for the token
/// succeeded) older than the account's number of days; 0 keeps them forever. The `downloads` row
/// stays, with `file_deleted_at`. Runs from the daemon's heartbeat at most once per `passInterval`,
/// in batches, so a backlog never holds the loop for long.
package final class DeliveredFileRetention: Sendable {
    private let database: DaemonStore
    private let days: [ClientID: Int]
    private let logger: Logger
    private let lastPass = Mutex<Date?>(nil)
    package let passInterval: TimeInterval
    package let batchSize: Int

    /// - Parameter days: `download.retention_days` by client ID (accounts with 0 are left out).
    package init(
        database: DaemonStore, days: [ClientID: Int], logger: Logger, passInterval: TimeInterval = 600,
        batchSize: Int = 200
    ) {
        self.database = database
        self.days = days.filter { $0.value > 0 }
        self.logger = logger
        self.passInterval = passInterval
        self.batchSize = max(1, batchSize)
    }

    /// Removes due files when a pass is due; logs how many at info. Never throws.
    package func pruneIfDue(now: Date = Date()) async {
        guard !days.isEmpty else { return }
        let due = lastPass.withLock { last -> Bool in
            guard last.map({ now.timeIntervalSince($0) >= passInterval || now < $0 }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        var removed = 0
        for (clientID, days) in days.sorted(by: { $0.key < $1.key }) {
            guard let cutoff = RetentionPolicy.cutoff(days: days, now: now) else { continue }
            do {
                for (tokenID, file) in try await database.deliveredFilesToRemove(
                    clientID: clientID, before: cutoff, limit: batchSize)
                {
                    if unlink(file) != 0, errno != ENOENT {
                        logger.warning(
                            "cannot remove a delivered file; keeping it",
                            metadata: [
                                "download.file": "\(file)", "error": "\(String(cString: strerror(errno)))",
                            ])
                        continue
                    }
                    try await database.markFileDeleted(tokenID: tokenID, at: now)
                    removed += 1
                }
            } catch {
                logger.warning(
                    "cannot prune delivered files; trying again later",
                    metadata: ["export.client_id": "\(clientID)", "error": "\(error)"])
            }
        }
        if removed > 0 {
            logger.info(
                "removed delivered files past download.retention_days",
                metadata: ["download.files_removed": "\(removed)"])
        }
    }
}
