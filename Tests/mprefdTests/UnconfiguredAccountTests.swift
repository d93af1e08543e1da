import Foundation
import MprefTestSupport
import Testing

/// Issue 17.9: tokens of a client ID that has no configured account (any more) are never polled;
/// their deadline still applies, and `status`, `list` and `wait` say why they do not move.
@Suite(.serialized) struct UnconfiguredAccountTests {
    @Test func aTokenWithoutAnAccountTimesOutAtItsDeadlineAndCommandsSayWhy() async throws {
        let scene = try await DaemonScene.start()
        let hookOutput = scene.cli.directory.appendingPathComponent("failure-hook.txt").path
        try scene.writeConfig(extra: "hooks:\n  on_failure: ['printf %s \"$MPREFD_EVENT\" > \(hookOutput)']")
        // Added while OLD_Co was configured (here: with no accounts configured at all). The deadline is far
        // off while the checks below run; then the test moves it into the past (as time passing would).
        let added = try await scene.cli.run(["add-token", "--client-id", "OLD_Co", "--deadline", "1h", "1791"])
        #expect(added.status == 0, "\(added.stderr)")
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { daemon.log.contains("scheduler started") }, "\(daemon.log)")

        let status = try await scene.mprefd(["status", "--json"])
        #expect(try status.object()["not_polled"] as? [String: Int] == ["OLD_Co": 1], "\(status.stdout)")
        let statusText = try await scene.mprefd(["status"])
        #expect(statusText.stdout.contains("not polled:"), "\(statusText.stdout)")
        let list = try await scene.mprefd(["list"])
        #expect(list.stdout.contains("no account configured"), "\(list.stdout)")

        // `wait` names the reason (on stderr) and ends when the deadline times the token out: once it has
        // said why, the deadline passes; the daemon applies it at its next heartbeat (every 5 s).
        let waitErr = scene.cli.directory.appendingPathComponent("wait.err").path
        let wait = try ChildProcess(
            "/bin/sh",
            [
                "-c", "exec \"$0\" \"$@\" 2>'\(waitErr)'", BuiltBinaries.mprefd, "wait", "1791", "--timeout", "40s",
                "--config",
                scene.configPath,
            ],
            environment: scene.cli.baseEnvironment(), in: scene.cli.directory, output: .log("wait"))
        defer { wait.stopNow() }
        let reason = "OLD_Co/1791 is not polled: no account is configured for client ID OLD_Co"
        let waitStderr = { (try? String(contentsOfFile: waitErr, encoding: .utf8)) ?? "" }
        #expect(await scene.eventually { waitStderr().contains(reason) || !wait.isRunning }, "\(waitStderr())")
        #expect(try await scene.count("SELECT count(*) FROM tokens WHERE state = 'watching'") == 1)
        let moved = try await scene.cli.sqlite([
            "-cmd", ".timeout 10000", scene.cli.databasePath,
            "UPDATE tokens SET deadline_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 second') WHERE access_token = 1791",
        ])
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(await wait.waitForExit(timeout: .seconds(40)) == 1, "\(wait.log)\n\(waitStderr())")
        #expect(waitStderr().contains(reason), "\(waitStderr())")
        let rows = try await scene.rows("SELECT state, last_error, finished_at FROM tokens WHERE access_token = 1791")
        #expect(rows.first?["state"] as? String == "timed_out")
        #expect((rows.first?["last_error"] as? String)?.contains("no account is configured") == true)
        #expect(try await scene.count("SELECT count(*) FROM polls") == 0)
        let hookRan = await scene.eventually {
            ((try? String(contentsOfFile: hookOutput, encoding: .utf8)) ?? "") == "timed_out"
        }
        #expect(hookRan, "\(daemon.log)")
        #expect(await daemon.stop() == 0)
    }
}
