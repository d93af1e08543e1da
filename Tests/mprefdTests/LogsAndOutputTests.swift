import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.13: JSON logs that are JSON, the database note only when asked, one info line per
/// failing/recovering token and account, `status` degraded (exit 4), escaped hook output, safe labels.
@Suite(.serialized) struct LogsAndOutputTests {
    func yaml(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    @Test func withJSONLogsEveryStderrLineIsOneObjectWithNumbersAndFailuresAreLoggedOnceAtInfo() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 8201,
                    scenario: Scenario([
                        .http(500, repeat: 3), .status("Processing"), .status("Complete", rowCount: 2, byteCount: 20),
                    ]))
            ]))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.2")
        #expect(try await scene.mprefd(["add-token", "8201"]).status == 0)
        let daemon = try scene.startDaemon(environment: ["MPREFD_LOG_FORMAT": "json", "MPREFD_LOG_LEVEL": "debug"])
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            }, "\(daemon.log)")
        #expect(await daemon.stop() == 0)
        var objects: [[String: Any]] = []
        for line in daemon.log.split(separator: "\n") {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not one JSON object: \(line)")
            if let object { objects.append(object) }
        }
        let started = try #require(objects.first { $0["msg"] as? String == "mprefd started" })
        #expect(started["mprefd.pid"] is NSNumber, "numbers must be numbers: \(started)")
        #expect(
            objects.contains {
                $0["msg"] as? String == "database: \(scene.cli.databasePath) (database.path, file)"
                    && $0["db.path"] as? String == scene.cli.databasePath
            },
            "at debug the database note is shown, as JSON")
        let failing = objects.filter { $0["msg"] as? String == "token polls failing" }
        let recovered = objects.filter { $0["msg"] as? String == "token polls succeed again" }
        #expect(failing.count == 1 && recovered.count == 1, "\(daemon.log)")
        #expect(failing.first?["level"] as? String == "info")
        #expect(failing.first?["http.status"] as? Int == 500)
        #expect(failing.first?["export.access_token"] as? Int == 8201)
        #expect(recovered.first?["token.failed_polls"] as? Int == 3)
        #expect(objects.filter { $0["msg"] as? String == "account polls failing" }.count == 1)
        #expect(objects.filter { $0["msg"] as? String == "account polls succeed again" }.count == 1)
        // Admin commands follow log.format too: an error is one JSON object.
        let error = try await scene.mprefd(["show", "999"], environment: ["MPREFD_LOG_FORMAT": "json"])
        #expect(error.status == 1)
        let errorLines = error.stderr.split(separator: "\n")
        #expect(
            errorLines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] },
            "\(error.stderr)")
        let errorObject = try #require(
            try JSONSerialization.jsonObject(with: Data((errorLines.last ?? "").utf8)) as? [String: Any],
            "\(error.stderr)")
        #expect(errorObject["level"] as? String == "error")
        #expect(errorObject["exit_code"] as? Int == 1)
    }

    @Test func theDatabaseNoteIsShownOnlyWhenAsked() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let config = try cli.write("c.yaml", "database:\n  path: \(cli.databasePath)\n")
        #expect(
            try await cli.run(["add-token", "--client-id", "A", "1", "--config", config], database: .none).status == 0)
        let quiet = try await cli.run(["list", "--config", config], database: .none)
        #expect(quiet.status == 0)
        #expect(!quiet.stderr.contains("database:"), "\(quiet.stderr)")
        let verbose = try await cli.run(["list", "--verbose", "--config", config], database: .none)
        #expect(verbose.stderr.contains("database: \(cli.databasePath) (database.path, file)"), "\(verbose.stderr)")
        let debug = try await cli.run(
            ["list", "--config", config], database: .none, environment: ["MPREFD_LOG_LEVEL": "debug"])
        #expect(debug.stderr.contains("database: \(cli.databasePath)"), "\(debug.stderr)")
    }

    @Test func statusIsDegradedWithDeadHooksAndUnpolledTokensAndHookOutputIsEscaped() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 8301, scenario: Scenario([.status("Complete")]))
            ]))
        try scene.writeConfig(
            extra: """
                hooks:
                  max_attempts: 1
                  on_complete:
                    - \(yaml(#"printf 'a\033[31mred\rb\342\200\256c\n'; exit 7"#))
                """)
        #expect(try await scene.mprefd(["add-token", "8301"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'dead'") == 1
            }, "\(daemon.log)")

        let status = try await scene.mprefd(["status", "--json"])
        #expect(status.status == 4, "\(status.stdout)\(status.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(json["running"] as? Bool == true)
        #expect(json["degraded"] as? Bool == true)
        #expect((json["problems"] as? [String])?.contains { $0.contains("1 dead hook run") } == true)
        #expect(json["tokens_not_polled"] as? Int == 0)
        #expect(json["polls_10m"] as? Int == 1)
        #expect(json["error_rate_10m"] as? Double == 0)

        // A token of a client ID no account is configured for is not polled.
        let inserted = try await scene.cli.sqlite([
            scene.cli.databasePath,
            "INSERT INTO tokens (client_id, access_token, added_at, next_poll_at) VALUES ('Ghost_Co', 5, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
        ])
        #expect(inserted.status == 0, "\(inserted.stderr)")
        let human = try await scene.mprefd(["status"])
        #expect(human.status == 4)
        #expect(human.stdout.contains("running, DEGRADED"))
        #expect(
            human.stdout.contains("1 watched token is not polled: no account is configured for its client ID"),
            "\(human.stdout)")

        let runID = try await scene.count("SELECT id FROM hook_runs")
        let shown = try await scene.mprefd(["hooks", "show", String(runID)])
        #expect(shown.status == 0)
        #expect(
            !shown.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\r" || $0 == "\u{202E}" },
            "raw control characters reached the terminal")
        #expect(shown.stdout.contains(#"  | a\e[31mred\rb\u{202E}c"#), "\(shown.stdout)")
        #expect(await daemon.stop() == 0)
    }

    @Test(arguments: ["a\u{202E}b", "x\u{2066}y", "one\u{2028}two", "p\u{2029}q", "tab\tbed"])
    func labelsRefuseBidiOverridesAndLineSeparators(label: String) async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["add-token", "--client-id", "A", "1", "--label", label])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("bad --label"))
        #expect(
            !result.stderr.unicodeScalars.contains { TerminalScalars.unsafe.contains($0.value) },
            "the error must not echo it raw")
        #expect(
            try await cli.run(["add-token", "--client-id", "A", "1", "--label", "nightly contacts — Ünïcode ok"]).status
                == 0)
    }
}

enum TerminalScalars {
    static let unsafe: Set<UInt32> = [0x09, 0x202E, 0x2066, 0x2028, 0x2029]
}
