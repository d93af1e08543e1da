import Logging
import MprefStore

/// Commits polls to the history in batches: every poll waiting while a transaction runs goes into
/// the next one. A poll's caller resumes only once its row is committed, so nothing the daemon does
/// because of a poll (reschedule, hook) happens before the poll is durable.
package final class PollRecorder: Sendable {
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

    private let database: TokenDatabase
    private let globalHooks: [String: [String]]
    private let mailbox = Mailbox<Item>()
    private let logger: Logger
    /// Largest batch in one transaction.
    package let maxBatch: Int

    package init(database: TokenDatabase, hooks: HookConfiguration, logger: Logger, maxBatch: Int = 512) {
        self.database = database
        self.globalHooks = ["complete": hooks.onComplete, "failure": hooks.onFailure, "expired": hooks.onExpired, "retrieved": hooks.onRetrieved]
        self.logger = logger
        self.maxBatch = maxBatch
    }

    /// Commits `decision` (with others waiting at the same time) and returns once it is durable.
    /// - Throws: `StoreError` when the transaction failed (e.g. disk full); the poll is then not recorded.
    package func record(_ decision: PollPolicy.Decision) async throws -> Receipt {
        try await withCheckedThrowingContinuation { continuation in
            mailbox.post(Item(decision: decision, continuation: continuation))
        }
    }

    /// Runs the commit loop until `close()` and everything posted before it is committed.
    package func run() async {
        while true {
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
        do {
            let summary = try await database.recordPolls(writes, pauses: pauses, globalHooks: globalHooks)
            let skipped = Set(summary.notWatchingAnyMore)
            for item in batch {
                item.continuation.resume(returning: Receipt(
                    tokenUpdated: !skipped.contains(item.decision.write.tokenID),
                    hookRunsCreated: summary.hookRunsCreated > 0))
            }
        } catch {
            logger.error("cannot record polls; they will be polled again", metadata: ["error": "\(error)", "batch.size": "\(batch.count)"])
            for item in batch { item.continuation.resume(throwing: error) }
        }
    }
}
