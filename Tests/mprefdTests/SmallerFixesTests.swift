import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.14 (the sub-items of this branch), each through the real binary.
@Suite(.serialized) struct SmallerFixesTests {
    func yaml(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    @Test func dailyVolumeSumsAbsurdCountsWithoutIntegerOverflow() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "A", "1", "2", "3"]).status == 0)
        let updated = try await cli.sqlite([
            cli.databasePath,
            """
            UPDATE tokens SET state = 'complete', finished_at = '2026-03-01T10:00:00.000Z', row_count = 9223372036854775000, byte_count = 9223372036854775000 WHERE access_token IN (1, 2);
            UPDATE tokens SET state = 'complete', finished_at = '2026-03-01T11:00:00.000Z', row_count = 5, byte_count = 50 WHERE access_token = 3;
            """,
        ])
        #expect(updated.status == 0, "\(updated.stderr)")
        let rows = try await cli.query(
            "SELECT day, finished, complete, rows, bytes, typeof(rows) AS t FROM daily_volume")
        let row = try #require(rows.first)
        #expect(row["finished"] as? Int == 3)
        #expect(row["t"] as? String == "integer")
        #expect(row["rows"] as? Int == Int.max, "saturates instead of failing the whole report")
    }

    @Test func aYAMLSyntaxErrorNeverEchoesTheLineWithAnInlineSecret() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let config = try cli.write(
            "bad.yaml",
            """
            accounts:
              ACME_Co:
                auth:
                  scheme: pnauthinfo3
                  user_id: etl
                  secret: "hunter2-TOPSECRET
            """)
        let result = try await cli.run(["check-config", "--config", config], database: .none)
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderr.contains("not valid YAML"), "\(result.stderr)")
        #expect(!result.stderr.contains("TOPSECRET") && !result.stdout.contains("TOPSECRET"), "\(result.stderr)")
        let tabbed = try cli.write(
            "tab.yaml", "accounts:\n  ACME_Co:\n    auth:\n      secret: TOPSECRET\n\tscheme: x\n")
        let second = try await cli.run(["check-config", "--config", tabbed], database: .none)
        #expect(second.status == 78)
        #expect(!second.stderr.contains("TOPSECRET"), "\(second.stderr)")
    }

    @Test(arguments: [
        "https://etl:TOPSECRET@pm.mypreferences.com/Profiles", "https://TOPSECRET@pm.mypreferences.com/Profiles",
    ])
    func aPasswordInsideBaseURLIsRefused(url: String) async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let config = try cli.write("c.yaml", "accounts:\n  ACME_Co:\n    base_url: \(url)\n")
        let result = try await cli.run(["check-config", "--config", config], database: .none)
        #expect(result.status == 78, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("accounts.ACME_Co.base_url"), "\(result.stderr)")
        #expect(result.stderr.contains("<redacted>@pm.mypreferences.com"), "\(result.stderr)")
        #expect(!result.stderr.contains("TOPSECRET") && !result.stdout.contains("TOPSECRET"))
    }

    @Test func deadlineZeroMeansNoDeadlineAsDeadlineSZeroDoes() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        for zero in ["0", "0s", "0h0m"] {
            let result = try await cli.run(["add-token", "--client-id", "A", "7", "--deadline", zero, "--reset"])
            #expect(result.status == 0, "--deadline \(zero): \(result.stderr)")
        }
        #expect(try await cli.run(["add-token", "--client-id", "A", "8", "--deadline", "2h"]).status == 0)
        let rows = try await cli.query("SELECT access_token, deadline_at FROM tokens ORDER BY access_token")
        #expect(rows.first?["deadline_at"] is NSNull)
        #expect(rows.last?["deadline_at"] is String)
        #expect(try await cli.run(["add-token", "--client-id", "A", "9", "--deadline", "0x"]).status == 64)
    }

    @Test func attemptKeepsCountingAfterHooksRetry() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 8401, scenario: Scenario([.status("Complete")]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  max_attempts: 1
                  on_complete:
                    - \(yaml("echo \"$MPREFD_ATTEMPT\" >> \(dir)/attempts.txt; exit 3"))
                """)
        #expect(try await scene.mprefd(["add-token", "8401"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'dead'") == 1
            }, "\(daemon.log)")
        #expect(try await scene.mprefd(["hooks", "retry", "--dead"]).status == 0)
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'dead' AND attempt = 2") == 1
            }, "\(daemon.log)")
        let attempts = try String(contentsOfFile: "\(dir)/attempts.txt", encoding: .utf8).split(separator: "\n")
        #expect(attempts == ["1", "2"], "MPREFD_ATTEMPT restarted after hooks retry")
        #expect(await daemon.stop() == 0)
    }
}
