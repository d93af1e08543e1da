import Foundation
import MyPreferencesSimulator
import Testing
import MprefTestSupport

/// Issue 12: nothing from outside may crash `mprefd run`. The real binary against the simulator,
/// with the two inputs that trapped it (and crash-looped it under `Restart=on-failure`), and a
/// database edited with the `sqlite3` CLI as an operator would.
@Suite(
    .serialized,
    .enabled("needs the sqlite3 CLI (apt-get install sqlite3)") { PackagingTools.ensure("sqlite3", package: "sqlite3") }
)
struct ExtremeValuesEndToEndTests {
    /// Crash 1: `503 Retry-After: 9223372036854775807` trapped while the hint became the error text.
    @Test func aRetryAfterNearTheTopOfInt64PausesTheHostCappedAndTheDaemonLives() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 4001,
                    scenario: Scenario([
                        .unavailable(retryAfter: RetryAfter(seconds: Int.max)),
                        .status("Complete", rowCount: 3, byteCount: 30),
                    ]))
            ]))
        try scene.writeConfig(
            polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  max_retry_after_s: 1\n  pause_jitter_s: 0.1")
        #expect(try await scene.mprefd(["add-token", "4001"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            }, "\(daemon.log)")
        let polls = try await scene.rows("SELECT outcome, http_status, retry_after_s, error FROM polls ORDER BY id")
        #expect(polls.first?["outcome"] as? String == "unavailable")
        #expect(polls.first?["retry_after_s"] as? Double == 9_000_000_000, "pinned to Duration.longest: \(polls)")
        #expect((polls.first?["error"] as? String)?.contains("Retry-After 9000000000 s") == true)
        #expect(daemon.log.contains("Retry-After longer than polling.max_retry_after_s; capped"))
        let requests = await scene.requests(for: 4001)
        if requests.count == 2 {
            let gap = requests[1].time.timeIntervalSince(requests[0].time)
            #expect(gap >= 1 - 0.05 && gap < 10, "the pause is capped at max_retry_after_s (1 s): \(gap) s")
        }
        #expect(await daemon.stop() == 0, "the daemon must live and stop cleanly:\n\(daemon.log)")
    }

    /// Crash 2 and its class: every column the daemon reads, edited with sqlite3 to an extreme or
    /// unusable value. Usable extremes are polled (counters saturate); unusable rows are logged once,
    /// kept, not polled, shown by `status` and `show` — and after the documented repair they are polled.
    @Test func aDatabaseEditedWithExtremeValuesNeitherCrashesNorStopsTheOtherTokens() async throws {
        let tokens: [Int64] = [5001, 5002, 5003, 5004, 5005]
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(
                scenarios: tokens.map {
                    TokenScenario(
                        accessToken: $0,
                        scenario: Scenario([.status("Processing"), .status("Complete", rowCount: 1, byteCount: 1)]))
                }))
        try scene.writeConfig()
        #expect(try await scene.mprefd(["add-token"] + tokens.map(String.init)).status == 0)
        let edit = try await scene.cli.sqlite([
            scene.cli.databasePath,
            """
            UPDATE tokens SET attempt = 9223372036854775807, consecutive_errors = 9223372036854775807,
                              consecutive_not_found = 9223372036854775807 WHERE access_token = 5001;
            UPDATE tokens SET next_poll_at = 'not a time' WHERE access_token = 5002;
            UPDATE tokens SET deadline_at = '9999-12-31T23:59:59.999Z', row_count = 9223372036854775807,
                              byte_count = 9223372036854775807, next_poll_at = '0000-01-01T00:00:00.000Z' WHERE access_token = 5003;
            UPDATE tokens SET attempt = -3 WHERE access_token = 5004;
            """,
        ])
        #expect(edit.status == 0, "\(edit.stderr)")
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE state = 'complete' AND access_token IN (5001, 5003, 5005)") == 3
            }, "\(daemon.log)")
        let states = try await scene.rows("SELECT access_token, state, attempt FROM tokens ORDER BY access_token")
        #expect(
            states.first { $0["access_token"] as? Int == 5001 }?["attempt"] as? Int == Int.max,
            "the counter saturated: \(states)")
        #expect(
            states.filter { [5002, 5004].contains($0["access_token"] as? Int) }.allSatisfy {
                $0["state"] as? String == "watching"
            }, "kept: \(states)")
        let unusableRequests = await scene.requests(for: 5002).count + scene.requests(for: 5004).count
        #expect(unusableRequests == 0, "unusable rows are not polled")
        let logged = daemon.log.components(separatedBy: "\n").filter { $0.contains("token row cannot be used") }
        #expect(logged.count == 2, "one line per unusable row: \(logged)")
        #expect(
            logged.contains { $0.contains("db.column=next_poll_at") && $0.contains("export.access_token=5002") },
            "\(logged)")
        #expect(
            logged.contains { $0.contains("db.column=attempt") && $0.contains("export.access_token=5004") }, "\(logged)"
        )

        let status = try await scene.mprefd(["status"])
        #expect(status.status == 4, "degraded: two watched exports are not polled")
        #expect(
            status.stdout.contains("unusable rows:") && status.stdout.contains("5002")
                && status.stdout.contains("next_poll_at"), "\(status.stdout)")
        let statusJSON = try #require(try await scene.mprefd(["status", "--json"]).json() as? [String: Any])
        #expect((statusJSON["unusable_rows"] as? [[String: Any]])?.count == 2)
        let show = try await scene.mprefd(["show", "5004"])
        #expect(show.stdout.contains("NOT POLLED") && show.stdout.contains("column attempt holds -3"), "\(show.stdout)")
        #expect(show.stdout.contains("mprefd pause 5004 && mprefd resume 5004"), "\(show.stdout)")
        let list = try await scene.mprefd(["list", "--json"])
        #expect(list.status == 0, "list reads the extreme counts: \(list.stderr)")

        // The documented repair: fix the value with sqlite3, then pause and resume.
        #expect(
            try await scene.cli.sqlite([
                scene.cli.databasePath,
                "UPDATE tokens SET attempt = 0 WHERE access_token = 5004; UPDATE tokens SET next_poll_at = NULL WHERE access_token = 5002",
            ]).status == 0)
        for token in ["5002", "5004"] {
            #expect(try await scene.mprefd(["pause", token]).status == 0)
            #expect(try await scene.mprefd(["resume", token]).status == 0)
        }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 5
            }, "\(daemon.log)")
        #expect(await daemon.stop() == 0, "\(daemon.log)")
    }
}

/// Issue 17.3: an answer for another export is never trusted.
@Suite(.serialized) struct ForeignAnswerEndToEndTests {
    @Test func anAnswerNamingAnotherAccessTokenNeverCompletesThisOne() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 70,
                    scenario: Scenario([
                        .raw(
                            code: 200, contentType: "application/json",
                            body: #"{"AccessToken": 71, "Status": "Complete", "RowCount": 9}"#, repeat: 2),
                        .raw(
                            code: 200, contentType: "application/json",
                            body: #"{"Status": "Processing", "status": "Complete"}"#),
                        .status("Complete", rowCount: 1, byteCount: 1),
                    ]))
            ]))
        let marker = scene.cli.directory.appendingPathComponent("completed.out")
        try scene.writeConfig(extra: "hooks:\n  on_complete:\n    - 'echo \"$MPREFD_ACCESS_TOKEN\" >> \(marker.path)'")
        #expect(try await scene.mprefd(["add-token", "70"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            }, "\(daemon.log)")
        let polls = try await scene.rows("SELECT outcome, status, error FROM polls ORDER BY id")
        #expect(
            polls.map { $0["outcome"] as? String } == ["undecodable", "undecodable", "undecodable", "ok"], "\(polls)")
        #expect(
            (polls.first?["error"] as? String)?.contains("the answer names AccessToken 71, not the polled 70") == true,
            "\(polls)")
        #expect((polls[2]["error"] as? String)?.contains("Status appears more than once") == true, "\(polls)")
        #expect(await scene.eventually { (try? String(contentsOf: marker, encoding: .utf8)) == "70\n" })
        #expect(await daemon.stop() == 0)
    }
}

/// Issue 17.10: a `base_url` typo (every token answers 404) pauses the account once, fails nothing.
@Suite(.serialized) struct AccountWideNotFoundEndToEndTests {
    @Test func everyTokenAnswering404PausesTheAccountWithOneErrorAndNoFailureHooks() async throws {
        let tokens: [Int64] = [6001, 6002, 6003, 6004, 6005]
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(
                scenarios: tokens.map {
                    TokenScenario(accessToken: $0, scenario: Scenario([.http(404)]))
                }))
        let marker = scene.cli.directory.appendingPathComponent("failed.out")
        try scene.writeConfig(extra: "hooks:\n  on_failure:\n    - 'echo \"$MPREFD_ACCESS_TOKEN\" >> \(marker.path)'")
        #expect(try await scene.mprefd(["add-token"] + tokens.map(String.init)).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM pauses WHERE scope = 'account' AND http_status = 404") == 1
            }, "\(daemon.log)")
        let status = try await scene.mprefd(["status"])
        #expect(
            status.stdout.contains("account pause:") && status.stdout.contains("base_url and status_path"),
            "\(status.stdout)")
        // Stopping settles every poll in flight: none of them may have failed a token either.
        #expect(await daemon.stop() == 0)
        #expect(try await scene.count("SELECT count(*) FROM tokens WHERE state = 'watching'") == tokens.count)
        #expect(try await scene.count("SELECT count(*) FROM hook_runs") == 0, "no failure hook queued")
        let paused = daemon.log.components(separatedBy: "\n").filter {
            $0.contains("account paused: every token answers 404")
        }
        #expect(paused.count == 1, "one clear error: \(paused)")
    }
}

/// Found by a newcomer trying to break the CLI with hand edits and hostile API text.
@Suite(
    .serialized,
    .enabled("needs the sqlite3 CLI (apt-get install sqlite3)") { PackagingTools.ensure("sqlite3", package: "sqlite3") }
)
struct HandEditedOutputTests {
    @Test func aStateOutsideTheSchemaIsOneLineExit65NotADecodingDump() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "37", "38"]).status == 0)
        #expect(
            try await cli.sqlite([
                cli.databasePath,
                "PRAGMA ignore_check_constraints = 1; UPDATE tokens SET state = 'bogus' WHERE access_token = 37",
            ]).status == 0)
        let list = try await cli.run(["list"])
        #expect(list.status == 65, "\(list.stderr)")
        #expect(
            list.stderr.hasPrefix("mprefd: error: a row of the database cannot be read (column state:"),
            "\(list.stderr)")
        #expect(list.stderr.split(separator: "\n").count == 1, "\(list.stderr)")
    }

    /// A `client_id` within the schema's length CHECK that is no client ID (`a/b` would name a
    /// directory path): an unusable row for `status`, a bad-data error for `download`, still listed.
    @Test func aClientIDThatIsNoClientIDIsAnUnusableRow() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "41"]).status == 0)
        #expect(
            try await cli.sqlite([cli.databasePath, "UPDATE tokens SET client_id = 'a/b' WHERE access_token = 41"])
                .status == 0)
        let status = try #require(try await cli.run(["status", "--json"]).json() as? [String: Any])
        #expect((status["unusable_rows"] as? [[String: Any]])?.first?["column"] as? String == "client_id", "\(status)")
        let download = try await cli.run(["download", "41"])
        #expect(download.status == 65, "\(download.stderr)")
        #expect(download.stderr.contains("client_id 'a/b' is no client ID"), "\(download.stderr)")
        let list = try await cli.run(["list"])
        #expect(list.status == 0 && list.stdout.contains("a/b"), "\(list.stdout)\(list.stderr)")
    }

    @Test func anEmptyNextPollIsAnUnusableRowNotTheNextPoll() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "11", "12"]).status == 0)
        #expect(
            try await cli.sqlite([cli.databasePath, "UPDATE tokens SET next_poll_at = '' WHERE access_token = 11"])
                .status == 0)
        let status = try #require(try await cli.run(["status", "--json"]).json() as? [String: Any])
        #expect((status["next_poll_at"] as? String)?.isEmpty == false, "\(status)")
        #expect((status["unusable_rows"] as? [[String: Any]])?.first?["column"] as? String == "next_poll_at")
    }

    @Test func textFromTheAPIOrTheDatabaseCannotDriveTheTerminal() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "302"]).status == 0)
        #expect(
            try await cli.sqlite([
                cli.databasePath,
                "UPDATE tokens SET last_status = 'Proc' || char(27) || '[31m' || char(10) || 'essing' || char(8238), last_error = 'x' || char(13) || 'y' WHERE access_token = 302",
            ]).status == 0)
        for command in [["list"], ["show", "302"]] {
            let result = try await cli.run(command)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(
                !result.stdout.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x202E || $0.value == 0x0D },
                "\(command): \(result.stdout.debugDescription)")
            #expect(result.stdout.contains(#"Proc\e[31m\u{A}essing\u{202E}"#), "\(command): \(result.stdout)")
        }
    }
}

/// Issue 17.14: a refused connection is said as it is, fails the poll at once (not after
/// connect_timeout_s) and so never holds SIGTERM.
@Suite(.serialized) struct RefusedConnectionEndToEndTests {
    @Test func aRefusedConnectionIsHistoryAtOnceAndSIGTERMIsNotHeld() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let config = try cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(cli.databasePath)
            polling:
              initial_delay_s: 60
              max_delay_s: 60
              shutdown_grace_s: 60
            accounts:
              DOWN_Co:
                base_url: http://127.0.0.1:1/Profiles
                allow_insecure_http: true
                connect_timeout_s: 60
                request_timeout_s: 120
            """)
        #expect(try await cli.run(["add-token", "4711", "--config", config], database: .none).status == 0)
        let daemon = try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", config], environment: cli.baseEnvironment(), in: cli.directory,
            output: .log("daemon"))
        defer { daemon.stopNow() }
        // With the pool retrying connects, the first row would come only after connect_timeout_s (60 s).
        #expect(try await eventually { try await !cli.query("SELECT 1 FROM polls").isEmpty }, "\(daemon.log)")
        let rows = try await cli.query("SELECT outcome, error FROM polls")
        #expect(rows.first?["outcome"] as? String == "transport_error", "\(daemon.log)")
        #expect((rows.first?["error"] as? String)?.contains("(connect): connection refused") == true, "\(rows)")
        #expect(await daemon.stop() == 0)
    }
}
