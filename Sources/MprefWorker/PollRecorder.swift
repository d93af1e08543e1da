import Logging
import MprefCore
import MprefStore
import ServiceLifecycle
import Synchronization

/// Commits polls to the history in batches: every poll waiting while a transaction runs goes into
/// the next one. A poll's caller resumes only once its row is committed, so nothing the daemon does
/// because of a poll (reschedule, hook) happens before the poll is durable.
///
/// When the database refuses writes (disk full, its lock held past the busy timeout),
/// ``recordHolding(_:)`` keeps the poll's result and retries the commit with backoff instead of
/// dropping it; its token is not polled again meanwhile. The first failure of an episode is logged
/// as an error (then a reminder every minute), the recovery as a notice. A commit that had to wait
/// longer than ``slowCommitThreshold`` (another process held the write lock) logs a warning.
package final class PollRecorder: Service {
    package struct Receipt: Sendable {
        /// The token row was updated (it was still watching).
        package var tokenUpdated: Bool
        /// Hook runs were queued by this batch.
        package var hookRunsCreated: Bool
    }

    private struct Item: Sendable {
        var decision: PollPolicy.Decision
        var continuation: CheckedContinuation<Receipt, any Error>
    }

    private let database: DaemonStore
    /// Which hook commands run for a terminal event (decided here, persisted by the store).
    package let hooks: HookSelection
    private let mailbox = Mailbox<Item>()
    private let logger: Logger
    private let health = Mutex(CommitHealth())
    /// Largest batch in one transaction.
    package let maxBatch: Int
    /// A commit slower than this logs "database write waited …". Default 1 s.
    package let slowCommitThreshold: Duration
    /// Longest wait between two commit attempts of a held poll. Default 10 s (first retry after 0.5 s, doubling).
    package let maxHoldRetryDelay: Duration

    /// Whether commits currently fail, and since when; counts successful commits.
    private struct CommitHealth {
        var successes: UInt64 = 0
        var failingSince: ContinuousClock.Instant?
        var lastReminder: ContinuousClock.Instant?
        var failedPolls = 0
    }

    package init(
        database: DaemonStore, hooks: HookConfiguration, logger: Logger, maxBatch: Int = 512,
        slowCommitThreshold: Duration = .seconds(1), maxHoldRetryDelay: Duration = .seconds(10)
    ) {
        self.database = database
        self.hooks = HookSelection(global: HookConfiguration.globalHooks(hooks))
        self.logger = logger
        self.maxBatch = maxBatch
        self.slowCommitThreshold = slowCommitThreshold
        self.maxHoldRetryDelay = maxHoldRetryDelay
    }

    /// Commits `decision` like ``record(_:)``, but holds it through failures that refuse writes
    /// (disk full, I/O errors, the lock held past the busy timeout): the commit is retried after
    /// 0.5 s, 1 s, 2 s … (at most ``maxHoldRetryDelay`` apart) until it succeeds.
    /// - Throws: `CancellationError` when the task is cancelled while holding (shutdown: the poll is
    ///   abandoned unrecorded); the commit's `StoreError` once this write was refused
    ///   ``maxRefusalsWhileOthersCommit`` times while other commits succeeded — the database is
    ///   writable and this write itself is refused (e.g. its token was purged meanwhile).
    package func recordHolding(_ decision: PollPolicy.Decision) async throws -> Receipt {
        var delay: Duration = .milliseconds(500)
        var refusedAlone = 0
        while true {
            let successesBefore = health.withLock { $0.successes }
            do {
                return try await record(decision)
            } catch {
                if health.withLock({ $0.successes }) != successesBefore {
                    refusedAlone += 1
                    if refusedAlone >= maxRefusalsWhileOthersCommit { throw error }
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, maxHoldRetryDelay)
            }
        }
    }

    /// How often a held poll may be refused while other commits succeed before it is given up. 5.
    package let maxRefusalsWhileOthersCommit = 5

    /// Commits `decision` (with others waiting at the same time) and returns once it is durable.
    /// - Throws: `StoreError` when the transaction failed (e.g. disk full); the poll is then not recorded.
    package func record(_ decision: PollPolicy.Decision) async throws -> Receipt {
        try await withCheckedThrowingContinuation { continuation in
            if !mailbox.postUnlessClosed(Item(decision: decision, continuation: continuation)) {
                // The commit loop has ended (cancelled): nobody would ever answer.
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Runs the commit loop until `close()` and everything posted before it is committed, or until
    /// the task is cancelled: then polls not yet committed fail with `CancellationError` (abandoned
    /// unrecorded, like at the end of the shutdown grace) and later ``record(_:)`` calls fail at once.
    /// As a service of the daemon's group, a graceful shutdown is a ``close()``: the group stops the
    /// scheduler first, so every poll it let finish has been handed over by then.
    package func run() async {
        await withGracefulShutdownHandler {
            await commitLoop()
        } onGracefulShutdown: {
            self.close()
        }
    }

    private func commitLoop() async {
        while true {
            if Task.isCancelled {
                mailbox.close()
                for item in mailbox.drain() { item.continuation.resume(throwing: CancellationError()) }
                return
            }
            let items = await mailbox.take()
            if items.isEmpty {
                if mailbox.isClosed { return }
                continue
            }
            var start = 0
            while start < items.count {
                let batch = Array(items[start..<min(start + maxBatch, items.count)])
                start += batch.count
                await commit(batch)
            }
        }
    }

    /// Stops the loop once what is already posted is committed.
    package func close() { mailbox.close() }

    private func commit(_ batch: [Item]) async {
        let writes = batch.map(\.decision.write)
        let pauses = batch.compactMap(\.decision.pause)
        let started = ContinuousClock.now
        do {
            let summary = try await database.recordPolls(writes, pauses: pauses, hooks: hooks.planner)
            let took = ContinuousClock.now - started
            if took >= slowCommitThreshold {
                logger.warning(
                    "database write waited for the lock (another process held it)",
                    metadata: [
                        "db.wait_s": "\((took.seconds * 10).rounded() / 10)", "batch.size": "\(batch.count)",
                    ])
            }
            noteSuccess()
            let skipped = Set(summary.notWatchingAnyMore)
            for item in batch {
                item.continuation.resume(
                    returning: Receipt(
                        tokenUpdated: !skipped.contains(item.decision.write.tokenID),
                        hookRunsCreated: summary.hookRunsCreated > 0))
            }
        } catch is CancellationError {
            // Stopping without a grace (the task was cancelled): abandoned, not a database problem.
            for item in batch { item.continuation.resume(throwing: CancellationError()) }
        } catch {
            // One refused write must not sink the others: unless the whole database is busy,
            // commit each poll of a failed batch alone.
            if batch.count > 1, (error as? StoreError)?.code != .busy {
                for item in batch { await commit([item]) }
                return
            }
            noteFailure(error, polls: batch.count)
            for item in batch { item.continuation.resume(throwing: error) }
        }
    }

    private func noteSuccess() {
        let recovered = health.withLock { h -> (Duration, Int)? in
            h.successes &+= 1
            guard let since = h.failingSince else { return nil }
            defer { h.failingSince = nil; h.lastReminder = nil; h.failedPolls = 0 }
            return (ContinuousClock.now - since, h.failedPolls)
        }
        if let (failedFor, failedPolls) = recovered {
            logger.notice(
                "database accepts writes again; held polls are being recorded and polling resumes",
                metadata: [
                    "db.failing_s": "\(Int(saturating: failedFor.seconds))", "polls.failed_commits": "\(failedPolls)",
                ])
        }
    }

    private func noteFailure(_ error: any Error, polls: Int) {
        let now = ContinuousClock.now
        let (isFirst, isReminder) = health.withLock { h -> (Bool, Bool) in
            h.failedPolls += polls
            if h.failingSince == nil {
                h.failingSince = now
                h.lastReminder = now
                return (true, false)
            }
            if let last = h.lastReminder, now - last >= .seconds(60) {
                h.lastReminder = now
                return (false, true)
            }
            return (false, false)
        }
        let metadata: Logger.Metadata = ["error": "\(error)", "batch.size": "\(polls)"]
        if isFirst {
            logger.error(
                "cannot record polls: the database refuses writes (disk full, or locked past the busy timeout); their results are held and retried, and their tokens are not polled until a commit succeeds",
                metadata: metadata)
        } else if isReminder {
            logger.error("still cannot record polls; results held, polling suspended", metadata: metadata)
        } else {
            logger.debug("commit failed again; results held", metadata: metadata)
        }
    }
}
