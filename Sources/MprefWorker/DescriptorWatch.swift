import Foundation
import Logging
import Synchronization

/// Warns once when the daemon's open file descriptors near their limit (`RLIMIT_NOFILE`, systemd's
/// `LimitNOFILE=`): past that, every new connection, database file or hook pipe fails with EMFILE
/// and polling stalls. Checked with each heartbeat (every 5 s): one warning when the count reaches
/// ``threshold`` of the limit, one notice when it is back under it.
package final class DescriptorWatch: Sendable {
    private let logger: Logger
    private let isWarning = Mutex(false)
    /// The share of the limit that counts as nearly exhausted. 0.9.
    package let threshold: Double

    package init(logger: Logger, threshold: Double = 0.9) {
        self.logger = logger
        self.threshold = threshold
    }

    /// Whether `open` descriptors out of `limit` are too many. Pure.
    package static func isNearLimit(open: Int, limit: Int, threshold: Double) -> Bool {
        limit > 0 && Double(open) >= Double(limit) * threshold
    }

    /// Counts this process's descriptors (`/proc/self/fd`) and logs a change of state.
    package func check() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0,
            let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
        else { return }
        let soft = Int(clamping: limit.rlim_cur)  // RLIM_INFINITY (all ones) saturates to Int.max
        let open = entries.count
        let near = Self.isNearLimit(open: open, limit: soft, threshold: threshold)
        let changed = isWarning.withLock { state -> Bool in
            defer { state = near }
            return state != near
        }
        guard changed else { return }
        let metadata: Logger.Metadata = ["fd.open": "\(open)", "fd.limit": "\(soft)"]
        if near {
            logger.warning(
                "file descriptors nearly exhausted: new connections, hook runs and database files will fail with EMFILE (too many open files); raise LimitNOFILE= or find what holds them (ls -l /proc/<pid>/fd)",
                metadata: metadata)
        } else {
            logger.notice("file descriptors back under the limit", metadata: metadata)
        }
    }
}
