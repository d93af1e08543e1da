import Foundation
import MprefCore
import MprefTestSupport
import MyPreferencesSimulator
import Testing
import Logging

/// `mprefd run` as a user runs it: the real binary against the simulator over loopback, a real SQLite file.
@Suite(.serialized) struct DaemonEndToEndTests {
    @Test func theThreeDemoScenariosRunToTheirEnd() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 1001,
                    scenario: Scenario([
                        .status("Processing", repeat: 3), .status("Complete", rowCount: 1200, byteCount: 4_500_000_000),
                    ])),
                TokenScenario(
                    accessToken: 1002,
                    scenario: Scenario([
                        .unavailable(retryAfter: RetryAfter(seconds: 1), repeat: 2),
                        .status("Complete", rowCount: 5, byteCount: 50),
                    ])),
                TokenScenario(accessToken: 1003, scenario: Scenario([.status("Error")])),
            ]))
        try scene.writeConfig()
        #expect(try await scene.mprefd(["add-token", "1001", "1002", "1003", "--label", "demo"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let finished = try await scene.eventually {
            try await scene.count("SELECT count(*) FROM tokens WHERE state = 'watching'") == 0
        }
        #expect(finished, "daemon log:\n\(daemon.log)")

        let listed = try await scene.mprefd(["list", "--json"])
        let tokens = try #require(try listed.json() as? [[String: Any]])
        let byToken = Dictionary(uniqueKeysWithValues: tokens.map { ($0["access_token"] as? Int ?? 0, $0) })
        #expect(byToken[1001]?["state"] as? String == "complete")
        #expect(byToken[1001]?["byte_count"] as? Int == 4_500_000_000)
        #expect(byToken[1002]?["state"] as? String == "complete")
        #expect(byToken[1003]?["state"] as? String == "failed")

        let history = try await scene.rows(
            "SELECT t.access_token AS token, p.outcome, p.http_status, p.status, p.retry_after_s FROM polls p JOIN tokens t ON t.id = p.token_id ORDER BY p.id"
        )
        let outcomes = { (token: Int) in
            history.filter { $0["token"] as? Int == token }.map {
                "\($0["outcome"] as? String ?? "")/\($0["status"] as? String ?? "-")"
            }
        }
        #expect(outcomes(1001) == ["ok/Processing", "ok/Processing", "ok/Processing", "ok/Complete"])
        #expect(outcomes(1002) == ["unavailable/-", "unavailable/-", "ok/Complete"])
        #expect(outcomes(1003) == ["ok/Error"])
        #expect(
            history.filter { $0["token"] as? Int == 1002 && $0["http_status"] as? Int == 503 }.allSatisfy {
                $0["retry_after_s"] as? Double == 1
            })
        #expect(await daemon.stop() == 0)
    }

    @Test(arguments: [RetryAfter.Form.seconds, .httpDate])
    func retryAfterHoldsBackEveryTokenOfTheHost(form: RetryAfter.Form) async throws {
        let tokens = Array(Int64(2001)...2020)
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(
                scenarios: tokens.map {
                    TokenScenario(
                        accessToken: $0,
                        scenario: Scenario([
                            .unavailable(retryAfter: RetryAfter(seconds: 2, form: form)),
                            .status("Complete", rowCount: 1, byteCount: 1),
                        ]))
                }))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  pause_jitter_s: 0.2")
        #expect(try await scene.mprefd(["add-token"] + tokens.map(String.init)).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == tokens.count
            }, "\(daemon.log)")

        let requests = await scene.simulator.requests().filter { $0.accessToken != nil }
        let unavailable = requests.filter { $0.status == 503 }
        #expect(unavailable.count >= 1)
        #expect(unavailable.allSatisfy { $0.retryAfter != nil })
        #expect(await daemon.stop() == 0)
        // Every 503 answer pauses the host: no poll may be sent within 2 s after any 503 answer came
        // back. Judged on the daemon's own clock (each poll's send time plus its latency), which a
        // simulator slowed by a busy machine cannot skew; 0.25 s of slack for polls already starting.
        let polls = try await scene.rows("SELECT polled_at, latency_ms, http_status FROM polls ORDER BY id")
        let sent = polls.map { ($0["polled_at"] as? String).flatMap(Timestamp.parse) ?? .distantPast }
        #expect(
            polls.filter { $0["http_status"] as? Int == 503 }.count == unavailable.count, "every 503 answer is recorded"
        )
        for (index, poll) in polls.enumerated() where poll["http_status"] as? Int == 503 {
            let answered = sent[index].addingTimeInterval(Double(poll["latency_ms"] as? Int ?? 0) / 1000)
            let tooEarly = sent.filter {
                $0 > answered.addingTimeInterval(0.25) && $0 < answered.addingTimeInterval(2.0 - 0.05)
            }
            #expect(
                tooEarly.isEmpty,
                "polls sent inside the Retry-After window of the 503 answered at \(answered): \(tooEarly)")
        }
    }
}

/// `mprefd run` across host and account pauses, and pausing or removing a token while it runs: a
/// serialized suite of its own beside ``DaemonEndToEndTests`` and ``DaemonLifecycleEndToEndTests``.
@Suite(.serialized) struct DaemonPauseEndToEndTests {
    @Test func aHostPauseSurvivesARestart() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 3001,
                    scenario: Scenario([.unavailable(retryAfter: RetryAfter(seconds: 8)), .status("Complete")]))
            ]))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  pause_jitter_s: 0.1")
        _ = try await scene.mprefd(["add-token", "3001"])
        let first = try scene.startDaemon()
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM polls WHERE outcome = 'unavailable'") == 1
            })
        // 8 s: room for the stop and `status` below on a loaded machine (with 4 s, a loaded run's
        // `status` came after the pause had ended).
        #expect(await first.stop() == 0)
        #expect(try await scene.count("SELECT count(*) FROM pauses WHERE scope = 'host'") == 1)
        let status = try await scene.mprefd(["status"])
        #expect(
            status.stdout.contains("ends by itself; to lift it early: mprefd resume --host http://127.0.0.1:"),
            "\(status.stdout)")
        let second = try scene.startDaemon()
        defer { Task { await scene.finish(first, second) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            })
        let requests = await scene.requests(for: 3001)
        #expect(requests.count == 2)
        #expect(await second.stop() == 0)
        // On the daemon's own clock: the second poll was sent no sooner than 8 s after the 503 came back.
        let polls = try await scene.rows("SELECT polled_at, latency_ms FROM polls ORDER BY id")
        let sent = polls.map { ($0["polled_at"] as? String).flatMap(Timestamp.parse) ?? .distantPast }
        #expect(polls.count == 2)
        if polls.count == 2 {
            let answered = sent[0].addingTimeInterval(Double(polls[0]["latency_ms"] as? Int ?? 0) / 1000)
            #expect(
                sent[1].timeIntervalSince(answered) >= 8.0 - 0.05,
                "the restarted daemon polled before the stored pause ended")
        }
    }

    @Test func anAccountPauseLiftedWithResumeIsPolledAgainAtOnce() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 3101,
                    scenario: Scenario([
                        .status("Processing"), .http(401), .status("Complete", rowCount: 7, byteCount: 70),
                    ])),
                TokenScenario(accessToken: 3102, scenario: Scenario([.status("Processing")])),
            ]))
        try scene.writeConfig(
            polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  pause_jitter_s: 0.1\n  auth_pause_s: 600")
        _ = try await scene.mprefd(["add-token", "3101", "3102"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM pauses WHERE scope = 'account'") == 1
            }, "\(daemon.log)")
        let status = try await scene.mprefd(["status"])
        #expect(status.stdout.contains("mprefd resume --account \(scene.clientID)"), "\(status.stdout)")
        // 3102's planned poll passes while the account pause holds it: status says why.
        #expect(
            try await scene.eventually {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE access_token = 3102 AND next_poll_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
                ) == 1
            })
        let held = try await scene.mprefd(["status"])
        #expect(held.stdout.contains("wait for the pause below"), "\(held.stdout)")
        let listed = try await scene.mprefd(["list"])
        let row3102 = listed.stdout.split(separator: "\n").first { $0.contains(" 3102 ") } ?? ""
        #expect(row3102.contains("(account paused)"), "\(listed.stdout)")

        let mixed = try await scene.mprefd(["resume", "--account", scene.clientID, "3101"])
        #expect(mixed.status == 64, "\(mixed.stderr)")
        let unknown = try await scene.mprefd(["resume", "--host", "https://elsewhere.example.com"])
        #expect(unknown.status == 1)
        #expect(
            unknown.stderr.contains(
                "no pause in force for host https://elsewhere.example.com:443; account \(scene.clientID) is in force"),
            "\(unknown.stderr)")
        for bad in ["not a url", "", "127.0.0.1:8080", "ftp://127.0.0.1:8080"] {
            let result = try await scene.mprefd(["resume", "--host", bad])
            #expect(result.status == 64, "--host '\(bad)': \(result.stderr)")
            #expect(result.stderr.contains("bad --host '\(bad)'"), "\(result.stderr)")
        }
        #expect(try await scene.count("SELECT count(*) FROM pauses") == 1)

        let liftedAt = Date()
        let lifted = try await scene.mprefd(["resume", "--account", scene.clientID])
        #expect(lifted.status == 0, "\(lifted.stderr)")
        #expect(lifted.stdout.hasPrefix("lifted account pause \(scene.clientID) (was until "), "\(lifted.stdout)")
        #expect(
            try await scene.eventually(timeout: .seconds(5)) {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            }, "\(daemon.log)")
        let requests = await scene.requests(for: 3101)
        #expect(requests.count == 3)
        if let second = requests.last {
            #expect(
                second.time.timeIntervalSince(liftedAt) < 2.0,
                "polled \(second.time.timeIntervalSince(liftedAt)) s after the lift")
        }
        #expect(daemon.log.contains("account pause lifted by an operator"), "\(daemon.log)")
        let again = try await scene.mprefd(["resume", "--account", scene.clientID])
        #expect(again.status == 1)
        #expect(again.stderr.contains("none is in force"), "\(again.stderr)")
        #expect(await daemon.stop() == 0)
    }

    /// Paused and removed tokens stop being polled once the daemon has seen the change (it checks every
    /// 0.5 s, asserted on a manual clock in `AdminChangeTableTests`, and logs "stopped watching
    /// token"); a third token, polled every 0.1 s throughout, is the clock the "no more polls" check
    /// waits on, not a fixed sleep.
    @Test func pausedAndRemovedTokensStopBeingPolled() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(defaultScenario: Scenario([.status("Processing")])))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.1")
        _ = try await scene.mprefd(["add-token", "8001", "8002", "8003"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                let a = await scene.requests(for: 8001).count, b = await scene.requests(for: 8002).count
                return a >= 3 && b >= 3
            })
        #expect(try await scene.mprefd(["pause", "8001"]).status == 0)
        #expect(try await scene.mprefd(["remove", "8002"]).status == 0)
        let changed = ContinuousClock.now
        #expect(
            try await scene.eventually { daemon.log.components(separatedBy: "stopped watching token").count == 3 },
            "\(daemon.log.suffix(2000))")
        let noticedAfter = ContinuousClock.now - changed
        #expect(noticedAfter < .seconds(5), "the daemon saw the pause and the removal \(noticedAfter) after them")
        // A poll in flight when the change was seen is answered within one of the clock token's polls.
        func clockTicks(_ ticks: Int) async throws -> Bool {
            let start = await scene.requests(for: 8003).count
            return try await scene.eventually { await scene.requests(for: 8003).count >= start + ticks }
        }
        #expect(try await clockTicks(1))
        let pausedCount = await scene.requests(for: 8001).count, removedCount = await scene.requests(for: 8002).count
        #expect(try await clockTicks(5))
        #expect(await scene.requests(for: 8001).count == pausedCount, "a paused token was polled")
        #expect(await scene.requests(for: 8002).count == removedCount, "a removed token was polled")
        #expect(try await scene.mprefd(["resume", "8001"]).status == 0)
        #expect(
            try await scene.eventually(timeout: .seconds(3)) { await scene.requests(for: 8001).count > pausedCount })
        #expect(await daemon.stop() == 0)
    }
}

/// `mprefd run` across restarts, signals and `kill -9`: a serialized suite of its own beside
/// ``DaemonEndToEndTests`` and ``DaemonPauseEndToEndTests``, so that the three run side by side.
@Suite(.serialized) struct DaemonLifecycleEndToEndTests {
    /// The running daemon sees `add-token` (its admin check runs every 0.5 s; that bound is asserted on a
    /// manual clock in `AdminChangeTableTests`; here, on a machine loaded by the whole suite, within 5 s).
    @Test func aTokenAddedWhileTheDaemonRunsIsPolledPromptly() async throws {
        let scene = try await DaemonScene.start()
        try scene.writeConfig()
        _ = try await scene.mprefd(["migrate"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { daemon.log.contains("scheduler started") })
        let added = try await scene.mprefd(["add-token", "4001"])
        #expect(added.status == 0)
        let addedAt = Date()
        #expect(try await scene.eventually(timeout: .seconds(5)) { await !scene.requests(for: 4001).isEmpty })
        let first = try #require(await scene.requests(for: 4001).first)
        let lag = first.time.timeIntervalSince(addedAt)
        #expect(lag < 5.0, "first poll \(lag) s after add-token")
        #expect(await daemon.stop() == 0)
    }

    @Test func aSecondDaemonOnTheSameDatabaseIsRefusedWithTheFirstOnesPID() async throws {
        let scene = try await DaemonScene.start()
        try scene.writeConfig()
        _ = try await scene.mprefd(["migrate"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { daemon.log.contains("mprefd started") })
        let second = try await scene.mprefd(["run"])
        #expect(second.status == 75)
        #expect(second.stderr.contains("PID \(daemon.pid)"), "\(second.stderr)")
        #expect(await daemon.stop() == 0)
    }

    @Test func sigtermDuringAPollLetsItFinishAndRecordsIt() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 5001, scenario: Scenario([.status("Processing", delay: .seconds(2))]))
            ]))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  shutdown_grace_s: 10")
        _ = try await scene.mprefd(["add-token", "5001"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        // The simulator holds the poll for 2 s; it lists a request only once answered.
        #expect(await scene.eventually { await scene.simulator.requestsInFlight() == 1 })
        #expect(await scene.requests(for: 5001).isEmpty, "the poll must still be in flight")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(15)) == 0)
        #expect(try await scene.count("SELECT count(*) FROM polls") == 1)
        #expect(try await scene.count("SELECT attempt FROM tokens WHERE access_token = 5001") == 1)
    }

    @Test func sigtermPastTheGraceAbandonsThePollUnrecorded() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 5002, scenario: Scenario([.status("Processing", delay: .seconds(6))]))
            ]))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.5\n  shutdown_grace_s: 1")
        _ = try await scene.mprefd(["add-token", "5002"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(await scene.eventually { await scene.simulator.requestsInFlight() == 1 })
        let signalled = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(15)) == 0)
        #expect(ContinuousClock.now - signalled < .seconds(10))
        #expect(try await scene.count("SELECT count(*) FROM polls") == 0)
        #expect(try await scene.count("SELECT attempt FROM tokens WHERE access_token = 5002") == 0)
        #expect(try await scene.rows("PRAGMA integrity_check").first?.values.first as? String == "ok")
        #expect(daemon.log.contains("abandoning in-flight polls unrecorded"))
    }

    @Test func killDashNineThenRestartLosesNoCommittedPoll() async throws {
        let tokens = Array(Int64(6001)...6050)
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(defaultScenario: Scenario([.status("Processing")])))
        try scene.writeConfig(
            polling: "initial_delay_s: 0.05\n  max_delay_s: 0.1\n  max_requests_per_second_per_host: 1000")
        _ = try await scene.mprefd(["add-token"] + tokens.map(String.init))
        for round in 1...3 {
            let daemon = try scene.startDaemon()
            #expect(try await scene.eventually { try await scene.count("SELECT count(*) FROM polls") >= 100 * round })
            let before = try await scene.count("SELECT count(*) FROM polls")
            daemon.signal(SIGKILL)
            _ = await daemon.waitForExit()
            let after = try await scene.count("SELECT count(*) FROM polls")
            #expect(after >= before)
            #expect(try await scene.rows("PRAGMA integrity_check").first?.values.first as? String == "ok")
            // Each poll row and its token update commit together: attempt counts match the history.
            let mismatched = try await scene.count(
                "SELECT count(*) FROM tokens t WHERE t.attempt <> (SELECT count(*) FROM polls p WHERE p.token_id = t.id)"
            )
            #expect(mismatched == 0)
        }
        let last = try scene.startDaemon()
        defer { Task { await scene.finish(last) } }
        let resumedFrom = try await scene.count("SELECT count(*) FROM polls")
        #expect(
            try await scene.eventually { try await scene.count("SELECT count(*) FROM polls") > resumedFrom + 50 },
            "the schedule did not continue after restart")
        #expect(await last.stop() == 0)
    }

    @Test func pnauthinfo3FromACredentialFileWorksAndTheSecretLeaksNowhere() async throws {
        let secret = "hmac-\(UUID().uuidString)"
        let cli = try CLI()
        var configuration = SimulatorConfiguration()
        configuration.auth = .pnauthinfo3(users: ["etl.user": secret])
        configuration.defaultScenario = Scenario([
            .status("Processing"), .status("Complete", rowCount: 1, byteCount: 2),
        ])
        let simulator = try await MyPreferencesSimulator.start(configuration, logger: .init(label: "sim"))
        let scene = DaemonScene(cli: cli, simulator: simulator)
        let credentials = cli.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try Data(secret.utf8).write(to: credentials.appendingPathComponent("acme-hmac"))
        try cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(cli.databasePath)
            log:
              level: trace
            polling:
              initial_delay_s: 0.1
            accounts:
              \(scene.clientID):
                base_url: \(simulator.baseURL)
                auth:
                  scheme: pnauthinfo3
                  user_id: etl.user
                  secret_file: acme-hmac
            """)
        _ = try await scene.mprefd(["add-token", "9001"])
        let daemon = try scene.startDaemon(environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            }, "\(daemon.log)")
        #expect(
            await simulator.requests().allSatisfy { $0.authScheme == "PNAUTHINFO3-HMAC-SHA256" && $0.status == 200 })
        let arguments = (try? String(contentsOfFile: "/proc/\(daemon.pid)/cmdline", encoding: .utf8)) ?? ""
        #expect(!arguments.contains(secret))
        let environment = (try? String(contentsOfFile: "/proc/\(daemon.pid)/environ", encoding: .utf8)) ?? ""
        #expect(!environment.contains(secret))
        #expect(await daemon.stop() == 0)
        #expect(!daemon.log.contains(secret), "the secret reached the log")
        let dump = try await cli.sqlite([cli.databasePath, ".dump"])
        #expect(!dump.stdout.contains(secret), "the secret reached the database")
        let shown = try await scene.mprefd(["check-config"], environment: ["CREDENTIALS_DIRECTORY": credentials.path])
        #expect(!shown.stdout.contains(secret) && !shown.stderr.contains(secret))
    }

    /// Regression: a purge used to lower the admin sequence (and free the row id), so the daemon
    /// ignored later tokens or polled a purged one under a new token's row.
    @Test func purgedTokensStopAndLaterTokensAreStillNoticed() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(
                defaultScenario: Scenario([.status("Processing")]),
                scenarios: [
                    TokenScenario(accessToken: 8101, scenario: Scenario([.status("Complete")])),
                    TokenScenario(
                        accessToken: 8103, scenario: Scenario([.status("Complete", rowCount: 3, byteCount: 4)])),
                ]))
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.1")
        _ = try await scene.mprefd(["add-token", "8101", "8102"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
            })
        #expect(try await scene.eventually { await scene.requests(for: 8102).count >= 2 })
        // Purge the finished token (the newest admin_seq) and the one being polled.
        #expect(try await scene.mprefd(["remove", "--purge", "8101", "8102"]).status == 0)
        // The daemon drops 8102 at its next admin check (0.5 s); 8101 had finished, nothing to drop.
        #expect(await scene.eventually { daemon.log.contains("stopped watching token") }, "\(daemon.log.suffix(2000))")
        let purgedPolls = await scene.requests(for: 8102).count
        #expect(try await scene.mprefd(["add-token", "8103"]).status == 0)
        #expect(
            try await scene.eventually(timeout: .seconds(5)) {
                try await scene.count("SELECT count(*) FROM tokens WHERE access_token = 8103 AND state = 'complete'")
                    == 1
            },
            "a token added after a purge was not noticed: \(daemon.log.suffix(2000))")
        let row = try #require(try await scene.rows("SELECT row_count, id FROM tokens WHERE access_token = 8103").first)
        #expect(row["row_count"] as? Int == 3, "8103's own answer, not a purged token's")
        #expect((row["id"] as? Int ?? 0) > 2, "row ids are never reused")
        #expect(await scene.requests(for: 8102).count <= purgedPolls + 1, "a purged token is still polled")
        #expect(!daemon.log.contains("FOREIGN KEY"))
        #expect(await daemon.stop() == 0)
    }
}
