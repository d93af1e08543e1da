import Foundation
import Logging
import MprefStore
import Synchronization

/// The cutoffs of `retention.*`: pure, from the configured days and the wall clock.
package enum RetentionPolicy {
    /// `now` minus `days` days; `nil` when `days` is 0 (keep forever) or negative.
    package static func cutoff(days: Int, now: Date) -> Date? {
        guard days > 0 else { return nil }
        return now.addingTimeInterval(-Double(days) * 86_400)
    }
}

/// Prunes history and finished tokens older than `retention.*` (issue 17.12), in small batches so
/// polls and admin commands never wait long for the write lock, and then returns the freed pages to
/// the file system (`incremental_vacuum`) so the file shrinks.
///
/// ``pruneIfDue(now:)`` is called with every heartbeat (5 s). A pass starts at most once per
/// ``passInterval`` (and at the first call); each call does at most ``batchesPerCall`` batches of
/// ``batchSize`` rows, so a first prune of a big backlog spreads over several heartbeats.
package final class RetentionPruner: Sendable {
    private struct State {
        var lastPassStart: Date?
        var pending = false
        var loggedVacuumMode = false
        var deletedPolls = 0
        var deletedTokens = 0
    }

    private let database: DaemonStore
    private let retention: RetentionConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    /// Time between two passes. Default 10 min.
    package let passInterval: TimeInterval
    /// Rows (polls) or tokens per write transaction. Default 1000 polls; tokens use a fifth of it,
    /// as each brings its polls and hook runs along.
    package let batchSize: Int
    /// Batches per call. Default 10.
    package let batchesPerCall: Int

    package init(
        database: DaemonStore, retention: RetentionConfiguration, logger: Logger,
        passInterval: TimeInterval = 600, batchSize: Int = 1000, batchesPerCall: Int = 10
    ) {
        self.database = database
        self.retention = retention
        self.logger = logger
        self.passInterval = passInterval
        self.batchSize = max(1, batchSize)
        self.batchesPerCall = max(1, batchesPerCall)
    }

    /// Prunes a little when a pass is due or unfinished. Never throws: a failure is logged and the
    /// next call tries again.
    package func pruneIfDue(now: Date = Date()) async {
        guard retention.historyDays > 0 || retention.finishedTokensDays > 0 else { return }
        let due = state.withLock { s -> Bool in
            if s.pending { return true }
            guard s.lastPassStart.map({ now.timeIntervalSince($0) >= passInterval || now < $0 }) ?? true else {
                return false
            }
            s.lastPassStart = now
            s.pending = true
            return true
        }
        guard due else { return }
        do {
            try await logVacuumModeOnce()
            var budget = batchesPerCall
            var more = false
            if let cutoff = RetentionPolicy.cutoff(days: retention.historyDays, now: now) {
                while budget > 0 {
                    budget -= 1
                    let deleted = try await database.pruneHistory(before: cutoff, limit: batchSize)
                    state.withLock { $0.deletedPolls += deleted }
                    if deleted < batchSize { break }
                    if budget == 0 { more = true }
                }
            }
            if let cutoff = RetentionPolicy.cutoff(days: retention.finishedTokensDays, now: now), !more {
                // The history's last batch took this call's last budget: the tokens come in the next call.
                if budget == 0 { more = true }
                let tokenBatch = max(1, batchSize / 5)
                while budget > 0 {
                    budget -= 1
                    let deleted = try await database.pruneFinishedTokens(before: cutoff, limit: tokenBatch)
                    state.withLock { $0.deletedTokens += deleted }
                    if deleted < tokenBatch { break }
                    if budget == 0 { more = true }
                }
            }
            let free = try await database.incrementalVacuum(pages: batchSize)
            if !more && free > 0 { more = try await database.autoVacuumMode() == 2 }
            if !more { await finishPass() }
        } catch {
            logger.warning("cannot prune old history; trying again later", metadata: ["error": "\(error)"])
        }
    }

    /// Ends the pass: when it deleted anything, checkpoints and logs what it deleted.
    private func finishPass() async {
        let (polls, tokens) = state.withLock { s -> (Int, Int) in
            defer { s.pending = false; s.deletedPolls = 0; s.deletedTokens = 0 }
            return (s.deletedPolls, s.deletedTokens)
        }
        guard polls > 0 || tokens > 0 else { return }
        // The vacuum's truncation reaches the database file only at a checkpoint: one now makes the
        // file shrink at the end of the pass, not at the next automatic checkpoint, which a small
        // pass on a quiet daemon may not reach for long. A reader in the way leaves it to that one.
        _ = try? await database.checkpointWAL(maxWait: 0.25)
        logger.info(
            "pruned old history",
            metadata: [
                "retention.polls_deleted": "\(polls)", "retention.tokens_deleted": "\(tokens)",
                "retention.history_days": "\(retention.historyDays)",
                "retention.finished_tokens_days": "\(retention.finishedTokensDays)",
                "db.bytes": "\(database.sizeOnDisk().database)",
            ])
    }

    private func logVacuumModeOnce() async throws {
        guard !state.withLock({ $0.loggedVacuumMode }) else { return }
        state.withLock { $0.loggedVacuumMode = true }
        if try await database.autoVacuumMode() != 2 {
            logger.notice(
                "the database was created before incremental auto-vacuum: pruned pages are reused but the file does not shrink; to switch once, stop the daemon and run `sqlite3 DB 'PRAGMA auto_vacuum=INCREMENTAL; VACUUM'`",
                metadata: ["db.path": "\(database.path)"])
        }
    }
}
