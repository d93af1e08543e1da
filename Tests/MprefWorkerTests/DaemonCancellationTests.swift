import MprefCore
import Foundation
import Logging
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// Issue 17.6: when the service group cancels the daemon (because another service failed), every
/// loop — scheduler, recorder, hook queue, heartbeat — must end; `Mailbox.take` returns at once in
/// a cancelled task, so a loop that does not check for cancellation spins at full CPU forever.
@Suite struct DaemonCancellationTests {
    /// Answers every poll after a short delay: token 1 is always Processing, token 2 Complete.
    struct Source: StatusSource {
        func status(of accessToken: AccessToken) async -> PollResult {
            try? await Task.sleep(for: .milliseconds(5))
            return PollResult(
                outcome: .ok(ExportStatus(status: accessToken == 2 ? "Complete" : "Processing")), httpStatus: 200,
                latency: .milliseconds(5))
        }
    }

    @Test func aCancelledDaemonEndsPromptlyWithEveryLoopBusy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("mprefd.sqlite3").path
        let database = try TokenDatabase(path: path, mode: .readWrite)
        _ = try AdminStore(database).addTokens(
            [NewToken(clientID: "T_Co", accessToken: 1), NewToken(clientID: "T_Co", accessToken: 2)], reset: false)

        var polling = PollingConfiguration()
        polling.initialDelay = .milliseconds(20)
        polling.maxDelay = .milliseconds(50)
        var hooks = HookConfiguration()
        hooks.onComplete = ["sleep 60"]
        hooks.killGrace = .milliseconds(200)
        let configuration = WorkerConfiguration(
            accounts: ["T_Co": AccountConfiguration(clientID: "T_Co", baseURL: "http://127.0.0.1:9/Profiles")],
            polling: polling, hooks: hooks, databasePath: path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let daemon = Daemon(
            configuration: configuration, database: database, logger: logger, version: "test",
            heartbeatInterval: .milliseconds(50), sources: ["T_Co": Source()])
        let task = Task { try await daemon.run() }

        // Busy: token 1 is polled again and again, token 2's hook is running.
        // a deadline, not a wait: a starved 2-core machine can be slow
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let running = try AdminStore(database).listHookRuns(state: .running).count
            let tokens = try AdminStore(database).listTokens()
            let attempts: Int = tokens.first(where: { $0.accessToken == 1 }).map { $0.attempt } ?? 0
            if running == 1, attempts >= 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try AdminStore(database).listHookRuns(state: .running).count == 1)

        task.cancel()
        let ended = await ends(task, within: .seconds(20))
        #expect(ended, "the cancelled daemon did not end (a loop spins on the cancelled mailbox)")
        guard ended else { return }
        #expect(
            try ReportStore(database).statusSnapshot().daemon?.stoppedAt != nil,
            "the stop is recorded even when cancelled")
        // The interrupted hook is re-queued, not left running.
        #expect(try AdminStore(database).listHookRuns(state: .running).isEmpty)
    }
}
