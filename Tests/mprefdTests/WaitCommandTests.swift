import Foundation
import MprefTestSupport
import Testing

/// `mprefd wait` between `add-token` and a loader: the real binary watching the database a real daemon writes.
@Suite struct WaitCommandTests {
    /// Tokens 1 and 4 follow the simulator's default (Processing ×3, then Complete with 1000 rows
    /// and 123456 bytes); 2 ends in Error; 3 stays Processing forever.
    static let scenarios = """
        {"scenarios": [
          {"access_token": 2, "steps": [{"status": "Processing"}, {"status": "Error"}]},
          {"access_token": 3, "steps": [{"status": "Processing"}]}
        ]}
        """

    @Test func exits0WhenEveryTokenCompletes() async throws {
        let scene = try await OpsScene(scenarios: Self.scenarios)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "1", "4"]).status == 0)
        let daemon = try await scene.startDaemon()
        let result = try await scene.mprefd(["wait", "1", "4", "--timeout", "40s"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n\(daemon.log)")
        // Not a terminal: plain lines, one per change, the finished state last.
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("DEMO_Co/1 complete Complete rows=1000 bytes=123456"))
        #expect(lines.contains("DEMO_Co/4 complete Complete rows=1000 bytes=123456"))
        #expect(lines.last == "finished: 2 complete")
        #expect(!result.stdout.contains("\r"))

        // Finished tokens give their result without a daemon.
        #expect(await daemon.stop() == 0)
        let again = try await scene.mprefd(["wait", "1"])
        #expect(again.status == 0, "\(again.stderr)")
    }

    @Test func exits1WhenATokenFails() async throws {
        let scene = try await OpsScene(scenarios: Self.scenarios)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "1", "2"]).status == 0)
        let daemon = try await scene.startDaemon()
        let result = try await scene.mprefd(["wait", "1", "2", "--timeout", "40s"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)\n\(daemon.log)")
        #expect(result.stdout.contains("DEMO_Co/2 failed Error"))
        #expect(result.stderr.contains("1 of 2 tokens did not complete: DEMO_Co/2 failed (Error)"))
    }

    @Test func exits2OnTimeoutWhileATokenStaysProcessing() async throws {
        let scene = try await OpsScene(scenarios: Self.scenarios)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "3"]).status == 0)
        let daemon = try await scene.startDaemon()
        let result = try await scene.mprefd(["wait", "3", "--timeout", "1s"])
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)\n\(daemon.log)")
        #expect(result.stderr.contains("timed out after 1s"))
        #expect(result.stderr.contains("DEMO_Co/3 watching"))
    }

    /// The daemon stops cleanly mid-wait: once its last heartbeat is older than --stale-after, exit 3.
    @Test func exits3WhenTheDaemonStopsMidWait() async throws {
        let scene = try await OpsScene(scenarios: Self.scenarios)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "3"]).status == 0)
        let daemon = try await scene.startDaemon()
        let waiting = try scene.startMprefd(["wait", "3", "--stale-after", "1", "--timeout", "60s"], logName: "wait")
        defer { waiting.stopNow() }
        // Let the wait see the daemon alive: its first line is printed after that check.
        let sawToken = await scene.eventually { waiting.log.contains("DEMO_Co/3 watching") }
        #expect(sawToken, "\(waiting.log)")
        #expect(waiting.isRunning)
        #expect(await daemon.stop() == 0)
        let status = await waiting.waitForExit(timeout: .seconds(30))
        #expect(status == 3, "\(waiting.log)")
        #expect(waiting.log.contains("stopped waiting: the daemon is not running"))
    }

    @Test func exits3WithoutADaemon() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "5"]).status == 0)
        let result = try await cli.run(["wait", "5", "--timeout", "30s"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("the daemon is not running"))
        #expect(result.stderr.contains("ACME_Co/5 watching"))

        let noDatabase = try await cli.run(
            ["wait", "5"], database: .some(cli.directory.appendingPathComponent("none.sqlite3").path))
        #expect(noDatabase.status == 3)
        #expect(noDatabase.stderr.contains("no database at"))
    }

    @Test func exits64ForATokenNotInTheDatabase() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "5"]).status == 0)
        let result = try await cli.run(["wait", "5", "77"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("access token 77 is not in the database"))
        #expect(result.stderr.contains("mprefd add-token"))
    }

    @Test(arguments: [
        ["wait"],
        ["wait", "abc"],
        ["wait", "5", "--timeout", "0"],
        ["wait", "5", "--timeout", "soon"],
        ["wait", "5", "--interval", "1x"],
        ["wait", "5", "--client-id", "bad id"],
    ])
    func badArgumentsAreUsageErrors(arguments: [String]) throws {
        let result = try #require(parseFailure(arguments), "\(arguments) parsed")
        #expect(result.status == 64, "\(result.stderr)")
    }
}
