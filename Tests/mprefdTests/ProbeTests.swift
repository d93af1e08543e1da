import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.10: `check-config --probe` checks each account with one real request.
@Suite(.serialized) struct ProbeTests {
    @Test func aGoodAccountIsOkATypoInTheBaseURLIsMisconfiguredAndADeadHostUnreachable() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7001, scenario: Scenario([.status("Processing")]))
            ]))
        defer { Task { await scene.finish() } }
        try scene.writeConfig()
        #expect(try await scene.mprefd(["add-token", "7001"]).status == 0)

        let good = try await scene.mprefd(["check-config", "--probe"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("probe DEMO_Co: ok — HTTP 200 for access token 7001"), "\(good.stdout)")
        let requests = await scene.requests(for: 7001)
        #expect(requests.count == 1, "one real request")

        // A base_url typo: the path leads nowhere; the token is one the database watches.
        let typo = try scene.cli.write(
            "typo.yaml",
            """
            database:
              path: \(scene.cli.databasePath)
            accounts:
              DEMO_Co:
                base_url: \(scene.simulator.baseURL)/Profilez
            """)
        let misconfigured = try await scene.cli.run(["check-config", "--probe", "--config", typo], database: .none)
        #expect(misconfigured.status == 78, "\(misconfigured.stdout)\(misconfigured.stderr)")
        #expect(misconfigured.stderr.contains("mprefd: error: probe DEMO_Co: misconfigured"), "\(misconfigured.stderr)")

        let dead = try scene.cli.write(
            "dead.yaml",
            """
            accounts:
              DEMO_Co:
                base_url: http://127.0.0.1:1
                connect_timeout_s: 2
            """)
        let unreachable = try await scene.cli.run(
            ["check-config", "--probe", "--json", "--config", dead], database: .none)
        #expect(unreachable.status == 69, "\(unreachable.stdout)\(unreachable.stderr)")
        let probe = try #require((try unreachable.json() as? [String: Any])?["probe"] as? [[String: Any]])
        #expect(probe.first?["result"] as? String == "unreachable")

        let usage = try await scene.mprefd(["check-config", "--probe-token", "5"])
        #expect(usage.status == 64)
    }
}
