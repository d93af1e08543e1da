import Foundation
import Logging
import MprefCore
import MprefStore
import ServiceLifecycle

/// Runs the durable hook queue (`hook_runs`): claims due runs, runs each as a child process beside
/// polling (never blocking it), at most `concurrency` at once, and stores how each ended.
///
/// At-least-once: a run is claimed (`running`, attempt + 1) in a transaction before its process
/// starts; a run found `running` at start (the daemon died during it) is re-run with the same
/// event id. Failures retry with exponential backoff until `maxAttempts`, then the run is `dead`.
/// At shutdown, running hooks get SIGTERM, `killGrace`, then SIGKILL, and are re-queued.
package final class HookService<C: Clock>: Service where C.Duration == Duration {
    private let database: DaemonStore
    private let configuration: HookConfiguration
    private let databasePath: String
    private let runner: HookProcessRunner
    private let logger: Logger
    private let wakeups = Mailbox<Void>()
    private let wallNow: @Sendable () -> Date
    /// Longest sleep between looks at the queue (retries coming due, `mprefd hooks retry`). Default 1 s.
    package let recheckInterval: Duration
    /// The clock of the waits between looks at the queue (a test's manual clock; `wallNow` goes with it).
    private let clock: C

    package init(
        database: DaemonStore, configuration: HookConfiguration, databasePath: String, logger: Logger,
        recheckInterval: Duration = .seconds(1), wallNow: @escaping @Sendable () -> Date = { Date() }, clock: C
    ) {
        self.database = database
        self.configuration = configuration
        self.databasePath = databasePath
        self.runner = HookProcessRunner(logger: logger)
        self.logger = logger
        self.recheckInterval = recheckInterval
        self.wallNow = wallNow
        self.clock = clock
    }

    /// Wakes the queue at once (called when a poll commit queued hook runs).
    package func wake() { wakeups.post(()) }

    /// Stops claiming runs; running hooks are interrupted (SIGTERM, grace, SIGKILL) and re-queued.
    private func requestShutdown() { wakeups.close() }

    /// Runs until a graceful shutdown of its group (then running hooks are interrupted as in
    /// ``requestShutdown()``) or until cancelled.
    package func run() async throws {
        try await withGracefulShutdownHandler {
            try await runQueue()
        } onGracefulShutdown: {
            self.requestShutdown()
        }
    }

    private func runQueue() async throws {
        // A killed daemon's hooks may still run in their own process groups: end them first, so
        // that no two runs of one event overlap (issue 17.4).
        await StaleHookRuns(killGrace: configuration.killGrace, logger: logger).end(
            try await database.interruptedHookRuns())
        let requeued = try await database.requeueInterruptedHookRuns(now: wallNow())
        if requeued > 0 {
            logger.warning(
                "hook runs interrupted by the last stop will run again", metadata: ["hook.runs": "\(requeued)"])
        }
        let running = RunningCount()
        await withDiscardingTaskGroup { group in
            // Cancelled: `take` returns at once from then on, so the loop must end (running hooks
            // are torn down by the cancellation: SIGTERM, grace, SIGKILL).
            while !wakeups.isClosed, !Task.isCancelled {
                let free = configuration.concurrency - running.value
                if free > 0 {
                    do {
                        // A cheap indexed read first: the claiming write transaction only when a run is due.
                        let now = wallNow()
                        guard let due = try await database.nextHookRunDue(), due <= now else {
                            _ = await wakeups.take(until: clock.now.advanced(by: recheckInterval), on: clock)
                            continue
                        }
                        for job in try await database.claimDueHookRuns(now: now, limit: free) {
                            running.add(1)
                            group.addTask { [self] in
                                await self.execute(job)
                                running.add(-1)
                                self.wakeups.post(())
                            }
                        }
                    } catch {
                        logger.error("cannot read the hook queue; retrying", metadata: ["error": "\(error)"])
                    }
                }
                _ = await wakeups.take(until: clock.now.advanced(by: recheckInterval), on: clock)
            }
            group.cancelAll()
        }
    }

    private func execute(_ job: HookJob) async {
        var metadata: Logger.Metadata = [
            "hook.run_id": "\(job.runID)", "hook.event_id": "\(job.eventID)", "hook.event": "\(job.event.rawValue)",
            "hook.attempt": "\(job.attempt)", "export.client_id": "\(job.clientID)",
            "export.access_token": "\(job.accessToken)",
        ]
        logger.info("hook started", metadata: metadata)
        let invocation = HookInvocation(
            command: job.command,
            environment: HookPayload.environment(for: job, databasePath: databasePath),
            standardInput: HookPayload.standardInput(for: job, databasePath: databasePath),
            timeout: configuration.timeout,
            killGrace: configuration.killGrace)
        let finishedAt = { Timestamp.format(self.wallNow()) }
        let hookStarted = ContinuousClock.now
        let outcome: HookRunOutcome
        do {
            let result = try await runner.run(invocation) { pid in
                let identity = ProcessIdentity.identity(of: pid)
                Task { [database, logger] in
                    do {
                        try await database.recordHookRunProcess(
                            id: job.runID, attempt: job.attempt, pgid: pid, leaderIdentity: identity)
                    } catch {
                        logger.warning(
                            "cannot record the hook's process group",
                            metadata: ["hook.run_id": "\(job.runID)", "error": "\(error)"])
                    }
                }
            }
            metadata["hook.exit_code"] = result.exitCode.map { "\($0)" } ?? "none"
            metadata["hook.duration_ms"] = "\(result.duration.milliseconds)"
            if let signal = result.signal { metadata["hook.signal"] = "\(signal)" }
            if !result.stdoutTail.isEmpty { metadata["hook.stdout_tail"] = "\(result.stdoutTail)" }
            if !result.stderrTail.isEmpty { metadata["hook.stderr_tail"] = "\(result.stderrTail)" }
            if result.succeeded {
                outcome = HookRunOutcome(
                    state: .succeeded, finishedAt: finishedAt(), exitCode: result.exitCode.map(Int.init), signal: nil,
                    stdoutTail: result.stdoutTail, stderrTail: result.stderrTail, nextAttemptAt: nil, error: nil)
                logger.info("hook succeeded", metadata: metadata)
            } else if result.interrupted {
                outcome = HookRunOutcome(
                    state: .pending, finishedAt: finishedAt(), exitCode: result.exitCode.map(Int.init),
                    signal: result.signal.map(Int.init),
                    stdoutTail: result.stdoutTail, stderrTail: result.stderrTail, nextAttemptAt: finishedAt(),
                    error: "interrupted: the daemon stopped while the hook ran")
                logger.warning("hook interrupted by shutdown; it runs again at the next start", metadata: metadata)
            } else {
                let reason =
                    result.timedOut
                    ? "timed out after \(Int(saturating: configuration.timeout.seconds)) s"
                    : result.signal.map { "killed by signal \($0)" }
                        ?? "exit code \(result.exitCode.map(String.init) ?? "?")"
                outcome = failure(job, reason: reason, result: result, finishedAt: finishedAt(), metadata: &metadata)
            }
        } catch {
            outcome = failure(
                job, reason: "could not start: \(error)", result: nil, finishedAt: finishedAt(), metadata: &metadata)
        }
        MprefMetrics.hookRunEnded(state: outcome.state, duration: ContinuousClock.now - hookStarted)
        // Stored even when shutting down (shutdown cancels this task): the run must not stay
        // `running`; `finishHookRun` writes in a task the cancellation does not reach.
        for attempt in 1...3 {
            do {
                try await database.finishHookRun(id: job.runID, outcome)
                return
            } catch {
                logger.error(
                    "cannot store the hook run's result",
                    metadata: ["hook.run_id": "\(job.runID)", "error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func failure(
        _ job: HookJob, reason: String, result: HookProcessResult?, finishedAt: String, metadata: inout Logger.Metadata
    ) -> HookRunOutcome {
        metadata["error"] = "\(reason)"
        let policy = HookRetryPolicy(
            maxAttempts: configuration.maxAttempts, initialDelay: configuration.retryInitialDelay,
            maxDelay: configuration.retryMaxDelay)
        var next: String? = nil
        let isDead: Bool
        switch policy.decide(attemptsSinceRetry: job.attemptsSinceRetry, now: wallNow()) {
        case .dead:
            isDead = true
            logger.error(
                "hook failed for the last time; it is dead (see `mprefd hooks list --state dead`)", metadata: metadata)
        case .retry(let at):
            isDead = false
            next = Timestamp.format(at)
            metadata["hook.next_attempt_at"] = "\(next ?? "")"
            logger.warning("hook failed; it will run again", metadata: metadata)
        }
        return HookRunOutcome(
            state: isDead ? .dead : .failed, finishedAt: finishedAt, exitCode: result?.exitCode.map(Int.init),
            signal: result?.signal.map(Int.init), stdoutTail: result?.stdoutTail ?? "",
            stderrTail: result?.stderrTail ?? "",
            nextAttemptAt: next, error: reason)
    }
}

/// A counter shared by the hook tasks and the queue loop.
private final class RunningCount: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ delta: Int) { count.withLock { $0 += delta } }
}

import Synchronization
