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
        // Added while OLD_Co was configured (here: with no accounts configured at all).
        // The deadline leaves time for the checks below while the token still waits, on a busy machine too.
        let added = try await scene.cli.run(["add-token", "--client-id", "OLD_Co", "--deadline", "25s", "1791"])
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

        // `wait` names the reason and ends when the deadline times the token out.
        let wait = try await scene.mprefd(["wait", "1791", "--timeout", "40s"])
        #expect(wait.status == 1, "\(wait.stdout)\n\(wait.stderr)")
        #expect(
            wait.stderr.contains("OLD_Co/1791 is not polled: no account is configured for client ID OLD_Co"),
            "\(wait.stderr)")
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
