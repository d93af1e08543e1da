import Foundation
import MyPreferencesSimulator
import Testing

/// Issue 17.5: the reader of the daemon's stderr going away (SIGPIPE) and SIGHUP.
@Suite(.serialized) struct SignalTests {
    /// `mprefd run` with its stderr on a pipe nobody reads any more: every log write fails with EPIPE.
    final class DaemonOnAClosedPipe: @unchecked Sendable {
        let process = Process()

        init(_ scene: DaemonScene) throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw OpsTestFailure("pipe: errno \(errno)") }
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["run", "--config", scene.configPath]
            process.environment = scene.cli.baseEnvironment()
            process.currentDirectoryURL = scene.cli.directory
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(fileDescriptor: ends[1], closeOnDealloc: false)
            try process.run()
            // The reader goes away: from now on every write to the daemon's stderr fails.
            close(ends[0])
            close(ends[1])
        }

        func waitForExit(timeout: Duration) async -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning {
                if ContinuousClock.now > deadline { return nil }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return process.terminationStatus
        }

        func stopNow() {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func aClosedLogPipeDoesNotKillTheDaemonAndSIGHUPStopsItCleanly() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 1751, scenario: Scenario([.status("Processing")]))
            ]))
        let metricsPort = try PackagingTools.freeTCPPort()
        try scene.writeConfig(
            polling: "initial_delay_s: 0.1\n  max_delay_s: 0.2", extra: "metrics:\n  listen: 127.0.0.1:\(metricsPort)")
        #expect(try await scene.mprefd(["add-token", "1751"]).status == 0)
        let daemon = try DaemonOnAClosedPipe(scene)
        defer { daemon.stopNow() }
        defer { Task { await scene.finish() } }

        // Each poll logs a debug line (log.level: debug); several polls = several failed writes.
        let polled = try await scene.eventually {
            try await scene.count("SELECT count(*) FROM polls") >= 5 || !daemon.process.isRunning
        }
        #expect(polled)
        #expect(
            daemon.process.isRunning,
            "the daemon died: \(daemon.process.terminationReason == .uncaughtSignal ? "signal" : "exit") \(daemon.process.terminationStatus)"
        )
        guard daemon.process.isRunning else { return }
        let samples = try await MetricsEndpointTests.scrape(port: metricsPort)
        #expect((samples["mprefd_log_lines_dropped_total"] ?? 0) >= 5, "\(samples)")

        kill(daemon.process.processIdentifier, SIGHUP)
        let status = await daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 0)
        #expect(daemon.process.terminationReason == .exit, "SIGHUP must be a clean stop, not a death by signal")
        #expect(try await scene.count("SELECT count(*) FROM daemon WHERE stopped_at IS NOT NULL") == 1)
    }
}
