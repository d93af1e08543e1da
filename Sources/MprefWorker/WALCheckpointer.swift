import Foundation
import Logging
import MprefCore
import MprefStore
import Synchronization

/// Keeps the database's `-wal` file from staying large.
///
/// SQLite's automatic checkpoints copy frames back but never shrink the `-wal` file, and cannot
/// restart it at all while any reader holds a snapshot older than the newest frames — an analyst's
/// `sqlite3` session left inside `BEGIN … COMMIT` lets it grow without bound. So, on every
/// ``checkIfNeeded()`` (the daemon calls it with each heartbeat, every 5 s), when the `-wal` file is
/// larger than ``walSizeLimit``, a `wal_checkpoint(TRUNCATE)` is tried, waiting at most ``maxWait``
/// for other connections. When a reader blocks it, a warning naming "a long-running reader" is
/// logged (then at most once per ``warningInterval``) and the next check tries again; once the
/// reader is gone the file is truncated to zero bytes and that is logged.
package final class WALCheckpointer: Sendable {
    private struct State {
        var blockedSince: ContinuousClock.Instant?
        var lastWarning: ContinuousClock.Instant?
    }

    private let database: DaemonStore
    private let logger: Logger
    private let state = Mutex(State())
    /// `-wal` size above which a TRUNCATE checkpoint is tried. Default 16 MiB (four times what the
    /// automatic checkpoint every 1000 pages keeps it at).
    package let walSizeLimit: Int64
    /// Longest the writer connection waits for other connections per attempt. Default 250 ms.
    package let maxWait: Duration
    /// Least time between two "long-running reader" warnings of one episode. Default 60 s.
    package let warningInterval: Duration

    package init(
        database: DaemonStore, logger: Logger, walSizeLimit: Int64 = 16 << 20,
        maxWait: Duration = .milliseconds(250), warningInterval: Duration = .seconds(60)
    ) {
        self.database = database
        self.logger = logger
        self.walSizeLimit = walSizeLimit
        self.maxWait = maxWait
        self.warningInterval = warningInterval
    }

    /// Tries a TRUNCATE checkpoint when the `-wal` file is over the limit; logs what happened.
    /// Never throws: a failure is logged and the next call tries again.
    package func checkIfNeeded() async {
        let before = database.sizeOnDisk().wal
        guard before > walSizeLimit else { return }
        let metadata: Logger.Metadata = ["db.wal_bytes": "\(before)", "db.wal_limit_bytes": "\(walSizeLimit)"]
        do {
            let result = try await database.checkpointWAL(maxWait: maxWait.seconds)
            let now = ContinuousClock.now
            if result.isBlocked {
                let shouldWarn = state.withLock { s -> Bool in
                    if s.blockedSince == nil { s.blockedSince = now }
                    guard s.lastWarning.map({ now - $0 >= warningInterval }) ?? true else { return false }
                    s.lastWarning = now
                    return true
                }
                if shouldWarn {
                    var m = metadata
                    m["db.wal_frames"] = "\(result.walFrames)"
                    m["db.checkpointed_frames"] = "\(result.checkpointedFrames)"
                    logger.warning(
                        "cannot checkpoint the WAL: a long-running reader holds an old snapshot (e.g. an open sqlite3 transaction); the WAL shrinks once it ends",
                        metadata: m)
                }
            } else {
                let blockedFor = state.withLock { s -> Duration? in
                    defer { s = State() }
                    return s.blockedSince.map { now - $0 }
                }
                var m = metadata
                m["db.wal_bytes_after"] = "\(database.sizeOnDisk().wal)"
                if let blockedFor { m["db.blocked_s"] = "\(Int(saturating: blockedFor.seconds))" }
                logger.notice("WAL checkpointed and truncated", metadata: m)
            }
        } catch {
            var m = metadata
            m["error"] = "\(error)"
            logger.warning("cannot checkpoint the WAL; trying again later", metadata: m)
        }
    }
}
