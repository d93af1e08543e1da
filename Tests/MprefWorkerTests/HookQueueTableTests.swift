import Foundation
import Logging
import MprefCore
import MprefStore
import MprefTestSupport
import ServiceLifecycle
import Testing

@testable import MprefWorker

/// The hook queue in process on a manual clock (issue 13 §3): the real `HookService` over a real
/// SQLite file, running real child processes; the retry schedule is driven by advancing the clock
/// (its wall time goes with it), and the test waits on the queue's sleep and its log lines.
@Suite struct HookQueueTableTests {
    /// One row: the clock moves `advance`, after which the hook has started `started` times in all.
    struct Step: CustomStringConvertible {
        var advance: Duration
        var started: Int
        var description: String { "+\(advance) → \(started) started" }
    }

    /// A failing `on_failure` hook (`exit 1`), `max_attempts` 3, retries 30 s and 60 s apart: each
    /// retry runs exactly when due, not a second before; after the third failure the run is dead.
    @Test func aFailingHookRunsAgainAtEachRetryDelayThenIsDead() async throws {
        try await Self.run(
            maxAttempts: 3,
            steps: [
                Step(advance: .seconds(29), started: 1), Step(advance: .seconds(1), started: 2),
                Step(advance: .seconds(59), started: 2), Step(advance: .seconds(1), started: 3),
                Step(advance: .seconds(3600), started: 3),
            ],
            finalState: .dead)
    }

    static func run(maxAttempts: Int, steps: [Step], finalState: HookRunState) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-hook-table-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mprefd.sqlite3").path
        let database = try TokenDatabase(path: path, mode: .readWrite)
        let clock = ManualClock(wallStart: Date())

        var hooks = HookConfiguration()
        hooks.onFailure = ["exit 1"]
        hooks.maxAttempts = maxAttempts
        hooks.retryInitialDelay = .seconds(30)
        hooks.retryMaxDelay = .seconds(3600)
        // A token past its deadline, of a client ID with no account: its on_failure run is queued.
        _ = try AdminStore(database).addTokens(
            [NewToken(clientID: "GONE_Co", accessToken: 1, deadline: clock.wallNow.addingTimeInterval(-1))],
            reset: false)
        let queued = try await DaemonStore(database).timeOutUnconfiguredTokens(
            configuredClientIDs: [], now: clock.wallNow,
            hooks: HookSelection(global: HookConfiguration.globalHooks(hooks)).planner)
        #expect(queued.hookRuns == 1)

        let started = LogLineCounter(["hook started"])
        let ended = LogLineCounter([
            "hook succeeded", "hook failed; it will run again",
            "hook failed for the last time; it is dead (see `mprefd hooks list --state dead`)",
        ])
        let service = HookService(
            database: DaemonStore(database), configuration: hooks, databasePath: path,
            logger: LogLineCounter.logger(started, ended, level: .info), wallNow: { clock.wallNow }, clock: clock)
        let group = ServiceGroup(services: [service], logger: DaemonServicesTests.quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            try await withTimeLimit(.seconds(120), "the first run") { await ended.wait(for: 1) }
            for (row, step) in steps.enumerated() {
                // Idle: the queue looks again at most every recheck interval (1 s); after the clock
                // passed every such deadline, a sleep of the queue is a fresh one, taken after it
                // looked at the queue.
                let bound = clock.now.advanced(by: .seconds(2))
                _ = try await withTimeLimit(.seconds(120), "row \(row) \(step): idle") {
                    await clock.nextDeadline(before: bound)
                }
                clock.advance(by: step.advance)
                let after = clock.now.advanced(by: .seconds(2))
                if step.started > started.count {
                    // The run ends, or the queue sleeps again: it either started the run before (it
                    // sleeps while the run runs) or did not start it (fails at once).
                    let ran = try await withTimeLimit(.seconds(120), "row \(row) \(step): the run") {
                        await firstOf(
                            {
                                await ended.wait(for: step.started); return true
                            },
                            {
                                _ = await clock.nextDeadline(before: after); return false
                            })
                    }
                    if !ran {
                        #expect(started.count == step.started, "row \(row) \(step): the run did not start")
                        if started.count < step.started { break }
                        try await withTimeLimit(.seconds(120), "row \(row) \(step): the run") {
                            await ended.wait(for: step.started)
                        }
                    }
                } else {
                    _ = try await withTimeLimit(.seconds(120), "row \(row) \(step): a look at the queue") {
                        await clock.nextDeadline(before: after)
                    }
                }
                #expect(
                    started.count == step.started, "row \(row) \(step) at +\(clock.elapsed): \(started.count) started")
            }
            await group.triggerGracefulShutdown()
        }
        let runs = try AdminStore(database).listHookRuns()
        #expect(runs.count == 1 && runs.first?.state == finalState, "\(runs)")
    }
}
