import Foundation
import MprefCore
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 16 §2 through the real daemon: a token of a segment with history is polled where that
/// segment's exports complete (its learned schedule), not by the backoff; a token without one, and
/// `polling.schedule_effort: 0`, keep the backoff.
@Suite struct LearnedScheduleEndToEndTests {
    /// Past exports of segment Newsletter, one per entry of `milliseconds`, each completing that long
    /// after it was added: a Processing poll 50 ms before, the Complete one 50 ms after (token 9000 + n).
    func history(_ scene: DaemonScene, milliseconds: [Int]) async throws {
        #expect(try await scene.mprefd(["migrate"]).status == 0)
        for (index, ms) in milliseconds.enumerated() {
            let added = Date(timeIntervalSince1970: 1_796_000_000 + Double(index) * 86_400)
            func at(_ offset: Int) -> String { Timestamp.format(added.addingTimeInterval(Double(offset) / 1000)) }
            let token = 9001 + index
            _ = try await scene.cli.query(
                """
                INSERT INTO tokens (client_id, access_token, state, added_at, finished_at, segment)
                VALUES ('DEMO_Co', \(token), 'complete', '\(at(0))', '\(at(ms + 50))', 'Newsletter');
                INSERT INTO polls (token_id, polled_at, http_status, status, outcome)
                SELECT id, '\(at(ms - 50))', 200, 'Processing', 'ok' FROM tokens WHERE access_token = \(token);
                INSERT INTO polls (token_id, polled_at, http_status, status, outcome)
                SELECT id, '\(at(ms + 50))', 200, 'Complete', 'ok' FROM tokens WHERE access_token = \(token);
                """)
        }
    }

    func firstDelays(_ scene: DaemonScene, _ token: Int) async throws -> [Double] {
        try await scene.rows(
            "SELECT p.next_delay_s FROM polls p JOIN tokens t ON t.id = p.token_id WHERE t.access_token = \(token) ORDER BY p.id"
        )
        .compactMap { ($0["next_delay_s"] as? NSNumber)?.doubleValue }
    }

    @Test(arguments: [1.0, 0.0])
    func aSegmentWithHistoryIsPolledByItsSchedule(effort: Double) async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(
            Scenario([.status("Processing", repeat: 1000)]), accessToken: 5001, clientID: scene.clientID)
        await scene.simulator.setScenario(
            Scenario([.status("Processing", repeat: 1000)]), accessToken: 5002, clientID: scene.clientID)
        // The backoff alone would wait at least 20 s after the first poll.
        try scene.writeConfig(polling: "initial_delay_s: 20\n  max_delay_s: 60\n  schedule_effort: \(effort)")
        // Three past exports completing 20, 25 and 30 s after they were added.
        try await history(scene, milliseconds: [20_000, 25_000, 30_000])
        #expect(try await scene.mprefd(["add-token", "5001", "--segment", "Newsletter"]).status == 0)
        #expect(try await scene.mprefd(["add-token", "5002"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let polled = try await scene.eventually {
            let a = try await firstDelays(scene, 5001), b = try await firstDelays(scene, 5002)
            return !a.isEmpty && !b.isEmpty
        }
        #expect(polled, "daemon log:\n\(daemon.log.suffix(2000))")
        let scheduled = try #require(try await firstDelays(scene, 5001).first)
        let backoff = try #require(try await firstDelays(scene, 5002).first)
        #expect(backoff == 20, "no segment: the backoff's first delay, initial_delay_s")
        if effort > 0 {
            // Its segment completes 20–30 s after the add: the schedule places the next poll inside that
            // window (the backoff's first delay is exactly initial_delay_s, 20 s, as token 5002 shows).
            #expect(scheduled > 12 && scheduled < 32 && scheduled != backoff, "next delay \(scheduled) s")
        } else {
            #expect(scheduled == 20, "schedule_effort 0: the backoff")
        }
    }

    /// A token still processing beyond stuck_factor × its segment's p95 raises one stuck warning: a
    /// log line, `tokens.stuck_at`, `status` degraded naming it, and its `stuck` hooks — the global
    /// `hooks.on_stuck` and its own `--on-stuck`, not the global ones with `--no-global-hooks` — run as
    /// real child processes with the event's facts. A token of no segment never does.
    @Test func anExportFarBeyondItsSegmentsUsualDurationIsStuck() async throws {
        let scene = try await DaemonScene.start()
        for token: Int64 in [5101, 5102, 5106] {
            await scene.simulator.setScenario(
                Scenario([.status("Processing", repeat: 1000)]), accessToken: token, clientID: scene.clientID)
        }
        let dir = scene.cli.directory.path
        try scene.writeConfig(
            polling: "initial_delay_s: 0.5\n  max_delay_s: 1\n  stuck_factor: 1",
            extra: """
                hooks:
                  on_stuck:
                    - 'env > \(dir)/global-$MPREFD_ACCESS_TOKEN.env; cat > \(dir)/global-$MPREFD_ACCESS_TOKEN.json'
                """)
        // History: three exports of Newsletter done in 0.2–0.3 s.
        try await history(scene, milliseconds: [200, 250, 300])
        #expect(
            try await scene.mprefd([
                "add-token", "5101", "--segment", "Newsletter", "--on-stuck",
                "echo \"$MPREFD_EVENT_ID\" >> \(dir)/own-5101.txt",
            ]).status == 0)
        #expect(
            try await scene.mprefd([
                "add-token", "5106", "--segment", "Newsletter", "--no-global-hooks",
                "--on-stuck", "echo \"$MPREFD_EVENT $MPREFD_SEGMENT\" >> \(dir)/own-5106.txt",
            ]).status == 0)
        #expect(try await scene.mprefd(["add-token", "5102"]).status == 0)
        // --deadline auto: 5 × the segment's p99 (here far below the 1 h floor); without a segment, refused;
        // a segment without history: the configured deadline, with a note.
        #expect(
            try await scene.mprefd(["add-token", "5103", "--segment", "Newsletter", "--deadline", "auto"]).status == 0)
        let auto = try #require(
            try await scene.rows(
                "SELECT (julianday(deadline_at) - julianday(added_at)) * 86400.0 AS s FROM tokens WHERE access_token = 5103"
            ).first?["s"] as? Double)
        #expect(abs(auto - 3600) < 1, "\(auto)")
        #expect(try await scene.mprefd(["add-token", "5104", "--deadline", "auto"]).status == 64)
        let fresh = try await scene.mprefd(["add-token", "5105", "--segment", "Contacts", "--deadline", "auto"])
        #expect(fresh.status == 0 && fresh.stderr.contains("fewer than 3 past completions"), "\(fresh.stderr)")
        #expect(try await scene.mprefd(["remove", "5103", "5105"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let ran = try await scene.eventually {
            try await scene.count("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") >= 3
        }
        #expect(ran, "daemon log:\n\(daemon.log.suffix(2000))")
        #expect(
            try await scene.rows("SELECT access_token FROM tokens WHERE stuck_at IS NOT NULL ORDER BY access_token")
                .compactMap { $0["access_token"] as? Int } == [5101, 5106])
        #expect(daemon.log.components(separatedBy: "export stuck").count - 1 == 2)
        let status = try await scene.mprefd(["status", "--json"])
        #expect(status.status == 4, "\(status.stdout)")
        let report = try #require(try status.json() as? [String: Any])
        let listed = try #require(report["stuck_exports"] as? [[String: Any]])
        #expect(listed.map { $0["access_token"] as? Int } == [5101, 5106])
        #expect((report["problems"] as? [String])?.contains { $0.contains("stuck") } == true)
        // `show` says so, with the segment (where the warning points an operator).
        let shown = try await scene.mprefd(["show", "5101"])
        #expect(shown.stdout.contains("stuck since:") && shown.stdout.contains("segment:"), "\(shown.stdout)")
        let shownJSON = try #require(try await scene.mprefd(["show", "5101", "--json"]).json() as? [String: Any])
        #expect(((shownJSON["token"] as? [String: Any])?["stuck_at"] as? String)?.isEmpty == false, "\(shownJSON)")

        // The hooks: the global one and 5101's own for 5101 (one event id), only its own for 5106.
        let runs = try await scene.rows(
            """
            SELECT t.access_token, h.event, h.event_id, h.command, h.stuck_elapsed_s, h.stuck_p95_s
            FROM hook_runs h JOIN tokens t ON t.id = h.token_id ORDER BY h.id
            """)
        #expect(runs.count == 3 && runs.allSatisfy { $0["event"] as? String == "stuck" })
        #expect(runs.map { $0["access_token"] as? Int }.sorted { ($0 ?? 0) < ($1 ?? 0) } == [5101, 5101, 5106])
        let ofFirst = runs.filter { $0["access_token"] as? Int == 5101 }
        let eventID = try #require(ofFirst.first?["event_id"] as? String)
        #expect(ofFirst.allSatisfy { $0["event_id"] as? String == eventID })
        #expect(try String(contentsOfFile: "\(dir)/own-5101.txt", encoding: .utf8) == eventID + "\n")
        #expect(try String(contentsOfFile: "\(dir)/own-5106.txt", encoding: .utf8) == "stuck Newsletter\n")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/global-5106.env"), "--no-global-hooks")

        var env: [String: String] = [:]
        for line in try String(contentsOfFile: "\(dir)/global-5101.env", encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(env["MPREFD_EVENT"] == "stuck" && env["MPREFD_EVENT_ID"] == eventID)
        #expect(env["MPREFD_ACCESS_TOKEN"] == "5101" && env["MPREFD_CLIENT_ID"] == scene.clientID)
        #expect(
            env["MPREFD_SEGMENT"] == "Newsletter" && env["MPREFD_STATUS"] == "Processing"
                && env["MPREFD_FINISHED_AT"] == "")
        let elapsed = try #require(env["MPREFD_STUCK_ELAPSED_S"].flatMap(Double.init))
        let p95 = try #require(env["MPREFD_STUCK_P95_S"].flatMap(Double.init))
        // The history's exports took 0.2–0.3 s; stuck_factor 1: stuck once past the p95.
        #expect(p95 > 0.1 && p95 < 1 && elapsed > p95, "elapsed \(elapsed) s, p95 \(p95) s")
        let stored = try #require(ofFirst.first)
        // As stored (sqlite3 prints REALs with 17 digits).
        let storedElapsed = try #require((stored["stuck_elapsed_s"] as? NSNumber)?.doubleValue)
        let storedP95 = try #require((stored["stuck_p95_s"] as? NSNumber)?.doubleValue)
        #expect(abs(storedElapsed - elapsed) < 1e-9 && abs(storedP95 - p95) < 1e-9, "\(storedElapsed) \(storedP95)")
        let stdin = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/global-5101.json")))
                as? [String: Any])
        #expect(stdin["event"] as? String == "stuck" && (stdin["stuck_elapsed_s"] as? NSNumber)?.doubleValue == elapsed)
        #expect((stdin["stuck_p95_s"] as? NSNumber)?.doubleValue == p95)

        // Watched again from the start: the warning is cleared.
        #expect(try await scene.mprefd(["add-token", "5101", "--reset"]).status == 0)
    }

    /// A complete export whose `Expires` (the API/3 status form) is less than an hour away while its
    /// download has not finished: `status` is degraded and names it (`expiring_exports`), and the
    /// daemon logs one warning naming it — once, not at every heartbeat.
    @Test func aCompleteExportAboutToExpireUndeliveredDegradesStatus() async throws {
        let scene = try await DaemonScene.start()
        let expires = Timestamp.format(Date().addingTimeInterval(1800))
        // The first page answers 503 with a long Retry-After: the download waits, the token stays `downloading`.
        let stalled = ExportOptions(pages: [PageFault(offset: 1, .unavailable(retryAfter: .init(seconds: 120)))])
        await scene.simulator.setScenario(
            Scenario([.status("Complete", rowCount: 10, byteCount: 1000, expires: expires)], export: stalled),
            accessToken: 6001, clientID: scene.clientID)
        try scene.cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(scene.cli.databasePath)
            polling:
              initial_delay_s: 0.2
              max_delay_s: 0.5
              max_retry_after_s: 600
            accounts:
              \(scene.clientID):
                base_url: \(scene.simulator.baseURL)
                status_path: '{clientId}/status/Token/{accessToken}'
                download:
                  enabled: true
                  directory: \(scene.cli.directory.appendingPathComponent("exports").path)
            """)
        #expect(try await scene.mprefd(["add-token", "6001"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let paused = try await scene.eventually { try await scene.count("SELECT count(*) FROM pauses") >= 1 }
        #expect(paused, "daemon log:\n\(daemon.log.suffix(2000))")
        #expect(
            try await scene.rows("SELECT state, expires FROM tokens WHERE access_token = 6001").first?["expires"]
                as? String == expires)
        let status = try await scene.mprefd(["status", "--json"])
        #expect(status.status == 4, "\(status.stdout)")
        let report = try #require(try status.json() as? [String: Any])
        let expiring = try #require(report["expiring_exports"] as? [[String: Any]])
        #expect(expiring.map { $0["access_token"] as? Int } == [6001])
        #expect(expiring.first?["expires"] as? String == expires)
        let shown = try await scene.mprefd(["show", "6001"]).stdout
        #expect(
            shown.split(separator: "\n").contains { $0.hasPrefix("  expires:") && $0.hasSuffix(expires) }, "\(shown)")

        let warned = try await scene.eventually { daemon.log.contains("export expires soon and is not delivered") }
        #expect(warned, "daemon log:\n\(daemon.log.suffix(2000))")
        // One more heartbeat (it runs the check again): still one line. That repeated checks warn once is
        // tested in process (ExpiryWarningTests); here, that the daemon keeps the watch across heartbeats.
        for _ in 0..<1 {
            let before = try await scene.rows("SELECT heartbeat_at FROM daemon").first?["heartbeat_at"] as? String
            #expect(
                try await scene.eventually {
                    try await scene.rows("SELECT heartbeat_at FROM daemon").first?["heartbeat_at"] as? String != before
                })
        }
        let lines = daemon.log.split(separator: "\n").filter { $0.contains("export expires soon") }
        #expect(lines.count == 1, "\(lines)")
        let line = try #require(lines.first)
        #expect(
            line.contains("6001") && line.contains(scene.clientID) && line.contains(expires)
                && line.contains("mprefd show 6001"), "\(line)")
    }
}
