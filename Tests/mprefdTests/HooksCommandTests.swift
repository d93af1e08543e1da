import Foundation
import MprefTestSupport
import Testing

/// `mprefd hooks list|show|retry` on hook runs a real daemon ran.
@Suite struct HooksCommandTests {
    @Test func aDeadHookRunIsListedShownAndRetried() async throws {
        let scene = try await OpsScene(
            scenarios:
                #"{"default": [{"status": "Processing"}, {"status": "Complete", "row_count": 3, "byte_count": 30}]}"#,
            extraYAML: """
                hooks:
                  on_complete: ['echo out-marker; echo err-marker >&2; exit 3']
                  max_attempts: 1
                """)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "7"]).status == 0)
        let daemon = try await scene.startDaemon()
        #expect(try await scene.mprefd(["wait", "7", "--timeout", "40s"]).status == 0)

        var dead: [[String: Any]] = []
        let wentDead = try await scene.eventually {
            dead = try #require(
                try await scene.mprefd(["hooks", "list", "--state", "dead", "--json"]).json() as? [[String: Any]])
            return !dead.isEmpty
        }
        #expect(wentDead, "\(daemon.log)")
        #expect(await daemon.stop() == 0)
        let run = try #require(dead.first)
        let id = try #require(run["id"] as? Int)
        #expect(run["client_id"] as? String == "DEMO_Co")
        #expect(run["access_token"] as? Int == 7)
        #expect(run["event"] as? String == "complete")
        #expect(run["attempt"] as? Int == 1)
        #expect(try await scene.mprefd(["hooks", "list", "--state", "pending", "--json"]).json() as? [Any] != nil)

        let table = try await scene.mprefd(["hooks", "list"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("DEMO_Co/7"))
        #expect(table.stdout.contains("dead"))

        let shown = try await scene.mprefd(["hooks", "show", String(id)])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("hook run \(id)  dead"))
        #expect(shown.stdout.contains("exit code:    3"))
        #expect(shown.stdout.contains("| out-marker"))
        #expect(shown.stdout.contains("| err-marker"))
        let shownJSON = try await scene.mprefd(["hooks", "show", String(id), "--json"]).object()
        #expect(shownJSON["exit_code"] as? Int == 3)
        #expect(shownJSON["stdout_tail"] as? String == "out-marker\n")
        #expect(shownJSON["stderr_tail"] as? String == "err-marker\n")
        #expect(shownJSON["signal"] is NSNull)

        let retried = try await scene.mprefd(["hooks", "retry", "--dead"])
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stdout.contains("re-armed hook run \(id)"))
        let rows = try await scene.cli.query(
            "SELECT state, attempt, attempts_before_retry, error FROM hook_runs WHERE id = \(id)")
        #expect(rows.first?["state"] as? String == "pending")
        // MPREFD_ATTEMPT keeps counting (the next run is attempt 2), with max_attempts runs granted again.
        #expect(rows.first?["attempt"] as? Int == 1)
        #expect(rows.first?["attempts_before_retry"] as? Int == 1)

        // A pending run is not re-armed again; an unknown id changes nothing and exits 1.
        let again = try await scene.mprefd(["hooks", "retry", String(id)])
        #expect(again.status == 0)
        #expect(again.stdout.contains("not re-armed: hook run \(id)"))
        #expect(again.stdout.contains("is pending"))
        let unknown = try await scene.mprefd(["hooks", "retry", String(id), "999"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no hook run 999"))
        #expect(try await scene.mprefd(["hooks", "retry", "--dead"]).stdout.contains("no dead hook runs"))
        #expect(try await scene.mprefd(["hooks", "show", "999"]).status == 1)
    }

    @Test(arguments: [
        ["hooks", "list", "--state", "exploded"],
        ["hooks", "list", "--limit", "0"],
        ["hooks", "show", "x1"],
        ["hooks", "retry"],
        ["hooks", "retry", "1", "--dead"],
        ["hooks", "retry", "-3"],
    ])
    func badArgumentsAreUsageErrors(arguments: [String]) throws {
        let result = try #require(parseFailure(arguments), "\(arguments) parsed")
        #expect(result.status == 64, "\(result.stderr)")
    }

    @Test func readCommandsOnAnEmptyQueue() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "5"]).status == 0)
        let listed = try await cli.run(["hooks", "list", "--json"])
        #expect(listed.status == 0)
        #expect((try listed.json() as? [Any])?.isEmpty == true)
        let human = try await cli.run(["hooks", "list"])
        #expect(human.status == 0)
        #expect(human.stderr.contains("no hook runs"))
    }
}
