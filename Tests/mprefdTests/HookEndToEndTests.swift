import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Hooks as an operator configures them, run by the real daemon as real child processes.
@Suite(.serialized) struct HookEndToEndTests {
    /// Single-quotes `text` for YAML.
    func yaml(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    @Test func aHookGetsExactlyTheDocumentedEnvironmentAndStdin() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(
                    accessToken: 7001,
                    scenario: Scenario([.status("Complete", rowCount: 3_000_000_000, byteCount: 9_000_000_000)]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  on_complete:
                    - \(yaml("env > \(dir)/env.txt; cat > \(dir)/stdin.json"))
                """)
        _ = try await scene.mprefd(["add-token", "7001", "--label", "nightly"])
        // A credential in the daemon's environment must not reach the hook.
        let daemon = try scene.startDaemon(environment: [
            "MYPREFERENCES_HMAC_KEY": "hunter2-not-for-hooks", "AWS_SECRET_ACCESS_KEY": "nope",
        ])
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") == 1
            }, "\(daemon.log)")

        let envText = try String(contentsOfFile: "\(dir)/env.txt", encoding: .utf8)
        var env: [String: String] = [:]
        for line in envText.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let run = try #require(try await scene.rows("SELECT event_id, attempt FROM hook_runs").first)
        let token = try #require(try await scene.rows("SELECT added_at, finished_at FROM tokens").first)
        let expected: [String: String] = [
            "MPREFD_EVENT_ID": run["event_id"] as? String ?? "?", "MPREFD_EVENT": "complete",
            "MPREFD_CLIENT_ID": "DEMO_Co",
            "MPREFD_ACCESS_TOKEN": "7001", "MPREFD_LABEL": "nightly", "MPREFD_STATUS": "Complete",
            "MPREFD_ROW_COUNT": "3000000000", "MPREFD_BYTE_COUNT": "9000000000",
            "MPREFD_ADDED_AT": token["added_at"] as? String ?? "?",
            "MPREFD_FINISHED_AT": token["finished_at"] as? String ?? "?", "MPREFD_ATTEMPT": "1",
            "MPREFD_DB": scene.cli.databasePath,
            // No download for this account: the file variables are there, empty.
            "MPREFD_FILE": "", "MPREFD_RECORDS": "", "MPREFD_FILE_BYTES": "", "MPREFD_FILE_SHA256": "",
            // Added with add-token, not started by `mprefd export`: the segment variables are there, empty.
            "MPREFD_SEGMENT": "", "MPREFD_WINDOW_START": "", "MPREFD_WINDOW_END": "",
            // Not a `stuck` event: its facts are there, empty.
            "MPREFD_STUCK_ELAPSED_S": "", "MPREFD_STUCK_P95_S": "",
        ]
        for (key, value) in expected { #expect(env[key] == value, "\(key)") }
        // Nothing else: PATH, HOME, LANG, TZ (and PWD, which /bin/sh exports itself).
        #expect(Set(env.keys) == Set(expected.keys).union(["PATH", "HOME", "LANG", "TZ", "PWD"]))
        #expect(!envText.contains("hunter2") && !envText.contains("nope"))

        let stdin = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/stdin.json")))
                as? [String: Any])
        #expect(stdin["event_id"] as? String == expected["MPREFD_EVENT_ID"])
        #expect(stdin["access_token"] as? Int == 7001)
        #expect(stdin["row_count"] as? Int == 3_000_000_000)
        #expect(stdin["label"] as? String == "nightly")
        #expect(stdin["attempt"] as? Int == 1)
        #expect(Set(stdin.keys) == Set(expected.keys.map { String($0.dropFirst("MPREFD_".count)).lowercased() }))
        #expect(await daemon.stop() == 0)
    }

    @Test func valuesFromTheAPIAndTheLabelAreNeverExecuted() async throws {
        let marker = NSTemporaryDirectory() + "pwned-\(UUID().uuidString)"
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7101, scenario: Scenario([.status("$(touch \(marker)-status)")])),
                TokenScenario(accessToken: 7102, scenario: Scenario([.status("Complete")])),
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  on_complete:
                    - \(yaml("echo \"$MPREFD_LABEL\" >> \(dir)/labels.txt"))
                  on_failure:
                    - \(yaml("echo \"$MPREFD_STATUS\" >> \(dir)/statuses.txt"))
                """)
        _ = try await scene.mprefd(["add-token", "7101", "--deadline", "2s", "--label", "; rm -rf \(dir)"])
        _ = try await scene.mprefd(["add-token", "7102", "--label", "$(touch \(marker)-label)"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") == 2
            }, "\(daemon.log)")
        #expect(
            try await scene.rows("SELECT state FROM tokens WHERE access_token = 7101").first?["state"] as? String
                == "timed_out")
        #expect(!FileManager.default.fileExists(atPath: marker + "-status"))
        #expect(!FileManager.default.fileExists(atPath: marker + "-label"))
        #expect(try String(contentsOfFile: "\(dir)/labels.txt", encoding: .utf8) == "$(touch \(marker)-label)\n")
        #expect(try String(contentsOfFile: "\(dir)/statuses.txt", encoding: .utf8) == "$(touch \(marker)-status)\n")
        #expect(await daemon.stop() == 0)
    }

    @Test func aFailingHookIsRetriedUntilItSucceeds() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7201, scenario: Scenario([.status("Complete")]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  retry_initial_delay_s: 0.2
                  on_complete:
                    - \(yaml("echo \"$MPREFD_ATTEMPT $MPREFD_EVENT_ID\" >> \(dir)/runs.txt; [ -e \(dir)/flag ] && exit 0; touch \(dir)/flag; exit 3"))
                """)
        _ = try await scene.mprefd(["add-token", "7201"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") == 1
            }, "\(daemon.log)")
        let run = try #require(try await scene.rows("SELECT attempt, exit_code, event_id FROM hook_runs").first)
        #expect(run["attempt"] as? Int == 2)
        #expect(run["exit_code"] as? Int == 0)
        let lines = try String(contentsOfFile: "\(dir)/runs.txt", encoding: .utf8).split(separator: "\n")
        let eventID = run["event_id"] as? String ?? "?"
        #expect(lines == ["1 \(eventID)", "2 \(eventID)"])
        #expect(await daemon.stop() == 0)
    }

    @Test func anAlwaysFailingHookIsDeadAfterMaxAttempts() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7301, scenario: Scenario([.status("Expired")]))
            ]))
        try scene.writeConfig(
            extra: """
                hooks:
                  retry_initial_delay_s: 0.1
                  retry_max_delay_s: 0.2
                  max_attempts: 3
                  on_expired:
                    - 'echo nope >&2; exit 7'
                """)
        _ = try await scene.mprefd(["add-token", "7301"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'dead'") == 1
            }, "\(daemon.log)")
        let run = try #require(
            try await scene.rows("SELECT attempt, exit_code, stderr_tail, event FROM hook_runs").first)
        #expect(run["attempt"] as? Int == 3)
        #expect(run["exit_code"] as? Int == 7)
        #expect(run["stderr_tail"] as? String == "nope\n")
        #expect(run["event"] as? String == "expired")
        #expect(daemon.log.contains("it is dead"))
        #expect(await daemon.stop() == 0)
    }

    @Test func aHookInterruptedByKillDashNineRunsAgainWithTheSameEventID() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7401, scenario: Scenario([.status("Complete")]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  on_complete:
                    - \(yaml("echo \"$MPREFD_ATTEMPT $MPREFD_EVENT_ID\" >> \(dir)/runs.txt; if [ \"$MPREFD_ATTEMPT\" = 1 ]; then echo $$ > \(dir)/first.pid; sleep 30; fi"))
                """)
        _ = try await scene.mprefd(["add-token", "7401"])
        let first = try scene.startDaemon()
        #expect(
            try await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/first.pid") }, "\(first.log)")
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        // The orphaned first run (its own process group) is the test's to clean up.
        if let text = try? String(contentsOfFile: "\(dir)/first.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(-pid, SIGKILL)
        }
        #expect(try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'running'") == 1)
        let second = try scene.startDaemon()
        defer { Task { await scene.finish(first, second) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") == 1
            }, "\(second.log)")
        let run = try #require(try await scene.rows("SELECT attempt, event_id FROM hook_runs").first)
        let eventID = run["event_id"] as? String ?? "?"
        #expect(run["attempt"] as? Int == 2)
        let lines = try String(contentsOfFile: "\(dir)/runs.txt", encoding: .utf8).split(separator: "\n")
        #expect(lines == ["1 \(eventID)", "2 \(eventID)"])
        #expect(await second.stop() == 0)
    }

    /// Issue 17.4: after `kill -9` the old run keeps running in its own process group; the
    /// restarted daemon must end it before it runs the same event again.
    @Test func afterKillDashNineTheOldRunIsEndedBeforeTheEventRunsAgain() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7411, scenario: Scenario([.status("Complete")]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  kill_grace_s: 2
                  on_complete:
                    - \(yaml("echo \"start $MPREFD_ATTEMPT\" >> \(dir)/runs.txt; if [ \"$MPREFD_ATTEMPT\" = 1 ]; then echo $$ > \(dir)/first.pid; sleep 60; fi; echo \"end $MPREFD_ATTEMPT\" >> \(dir)/runs.txt"))
                """)
        _ = try await scene.mprefd(["add-token", "7411"])
        let first = try scene.startDaemon()
        #expect(
            try await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/first.pid") }, "\(first.log)")
        let pgid = try #require(
            Int32(
                try String(contentsOfFile: "\(dir)/first.pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        // The process group is recorded when the hook starts.
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT pgid FROM hook_runs WHERE state = 'running'") == Int(pgid)
            })
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        defer { kill(-pgid, SIGKILL) }  // only matters when the daemon failed to end it
        #expect(liveMembers(ofGroup: pgid) > 0, "the killed daemon's hook still runs")
        let second = try scene.startDaemon()
        defer { Task { await scene.finish(first, second) } }
        var liveWhenRerun = -1
        #expect(
            try await scene.eventually {
                let text = (try? String(contentsOfFile: "\(dir)/runs.txt", encoding: .utf8)) ?? ""
                guard text.contains("start 2") else { return false }
                if liveWhenRerun < 0 { liveWhenRerun = liveMembers(ofGroup: pgid) }
                return text.contains("end 2")
            }, "\(second.log)")
        #expect(liveWhenRerun == 0, "the first run's process group must be gone before the second run starts")
        let lines = try String(contentsOfFile: "\(dir)/runs.txt", encoding: .utf8).split(separator: "\n")
        #expect(lines == ["start 1", "start 2", "end 2"], "the first run was ended, never finished")
        #expect(second.log.contains("still running; ending it"), "\(second.log)")
        #expect(await second.stop() == 0)
    }

    /// Members of process group `pgid` that are alive (not zombies), from `/proc`.
    func liveMembers(ofGroup pgid: Int32) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { entry in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[2]) == pgid && fields[0] != "Z" && fields[0] != "X"
        }.count
    }

    @Test func sigtermDuringAHookStopsItAndRequeuesTheRun() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7501, scenario: Scenario([.status("Complete")]))
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            extra: """
                hooks:
                  kill_grace_s: 1
                  on_complete:
                    - \(yaml("echo $$ > \(dir)/hook.pid; sleep 60 & wait"))
                """)
        _ = try await scene.mprefd(["add-token", "7501"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/hook.pid") })
        let started = ContinuousClock.now
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit(timeout: .seconds(20)) == 0)
        #expect(ContinuousClock.now - started < .seconds(45))  // the hook's `sleep 60` was ended, not waited for
        let run = try #require(try await scene.rows("SELECT state, error FROM hook_runs").first)
        #expect(run["state"] as? String == "pending" || run["state"] as? String == "running", "re-run at next start")
        let pid =
            Int32(
                try String(contentsOfFile: "\(dir)/hook.pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)) ?? 0
        #expect(pid > 0 && kill(-pid, 0) != 0, "the hook's process group must be gone")
    }

    @Test func aSlowHookNeverDelaysThePollsOfOtherTokens() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7601, scenario: Scenario([.status("Complete")])),
                TokenScenario(accessToken: 7602, scenario: Scenario([.status("Processing")])),
            ]))
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            polling: "initial_delay_s: 0.1\n  max_delay_s: 0.2",
            extra: """
                hooks:
                  on_complete:
                    - \(yaml("touch \(dir)/hook-started; sleep 3; touch \(dir)/hook-done"))
                """)
        _ = try await scene.mprefd(["add-token", "7601", "7602"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/hook-started") })
        let before = await scene.requests(for: 7602).count
        #expect(
            try await scene.eventually(timeout: .seconds(10)) {
                FileManager.default.fileExists(atPath: "\(dir)/hook-done")
            })
        let during = await scene.requests(for: 7602).count - before
        #expect(during >= 5, "only \(during) polls of the other token during a 3 s hook")
        #expect(await daemon.stop() == 0)
    }

    @Test func hookOutputWithNULBytesIsKeptWhole() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 7701, scenario: Scenario([.status("Complete")]))
            ]))
        try scene.writeConfig(
            extra: """
                hooks:
                  on_complete:
                    - 'printf "before\\000after\\n"'
                """)
        _ = try await scene.mprefd(["add-token", "7701"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") == 1
            }, "\(daemon.log)")
        let run = try #require(try await scene.rows("SELECT stdout_tail FROM hook_runs").first)
        #expect(run["stdout_tail"] as? String == "before\u{FFFD}after\n")
        #expect(await daemon.stop() == 0)
    }
}
