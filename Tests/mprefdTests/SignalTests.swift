import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.5: the reader of the daemon's stderr going away (SIGPIPE) and SIGHUP.
@Suite(.serialized) struct SignalTests {
    @Test func aClosedLogPipeDoesNotKillTheDaemonAndSIGHUPStopsItCleanly() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 1751, scenario: Scenario([.status("Processing")]))
            ]))
        let metricsPort = try PackagingTools.freeTCPPort()
        try scene.writeConfig(
            polling: "initial_delay_s: 0.1\n  max_delay_s: 0.2", extra: "metrics:\n  listen: 127.0.0.1:\(metricsPort)")
        #expect(try await scene.mprefd(["add-token", "1751"]).status == 0)
        // `mprefd run` with its stderr on a pipe nobody reads any more: every log write fails with EPIPE.
        let daemon = try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", scene.configPath], environment: scene.cli.baseEnvironment(),
            in: scene.cli.directory, output: .closedStderrPipe)
        defer { daemon.stopNow(grace: .zero) }
        defer { Task { await scene.finish() } }

        // Each poll logs a debug line (log.level: debug); several polls = several failed writes.
        let polled = try await scene.eventually {
            try await scene.count("SELECT count(*) FROM polls") >= 5 || !daemon.isRunning
        }
        #expect(polled)
        #expect(
            daemon.isRunning,
            "the daemon died: \(daemon.terminationReason == .uncaughtSignal ? "signal" : "exit") \(daemon.exitStatus ?? -1)"
        )
        guard daemon.isRunning else { return }
        let samples = try await MetricsEndpointTests.scrape(port: metricsPort)
        #expect((samples["mprefd_log_lines_dropped_total"] ?? 0) >= 5, "\(samples)")

        daemon.signal(SIGHUP)
        let status = await daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 0)
        #expect(daemon.terminationReason == .exit, "SIGHUP must be a clean stop, not a death by signal")
        #expect(try await scene.count("SELECT count(*) FROM daemon WHERE stopped_at IS NOT NULL") == 1)
    }
}
