import Foundation
import MprefCore
import MyPreferencesSimulator
import Testing
import MprefTestSupport

/// Issue 15 end to end: the real `mprefd export` starts exports in the simulator over loopback, the
/// daemon delivers them, the cursor makes the next `--incremental` export hold only what changed,
/// and an initiate whose answer is lost (or whose command is killed) is never sent twice.
@Suite(.serialized) struct ExportEndToEndTests {
    /// A segment in the simulator: `records` base profiles, then `changesPerSecond` new changes.
    func segments(_ scene: DaemonScene, _ entries: String) async throws {
        let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(#"{"segments": [\#(entries)]}"#.utf8))
        await scene.simulator.apply(book)
    }

    func configure(_ scene: DaemonScene, download: Bool = true, baseURL: String? = nil, extra: String = "") throws {
        try scene.cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(scene.cli.databasePath)
            log:
              level: debug
            polling:
              initial_delay_s: 0.1
              max_delay_s: 0.3
            accounts:
              \(scene.clientID):
                base_url: \(baseURL ?? scene.simulator.baseURL)
                request_timeout_s: 20
                download:
                  enabled: \(download)
                  directory: \(scene.cli.directory.appendingPathComponent("exports").path)
            \(extra)
            """)
    }

    func initiates(_ scene: DaemonScene) async -> [RecordedRequest] {
        await scene.simulator.requests().filter {
            $0.method == "POST" && $0.path.contains("/Export/Segment/") && !$0.path.contains("/Commit/")
        }
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func anIncrementalExportDeliversOnlyWhatChangedSinceTheLastDeliveredOne() async throws {
        let scene = try await DaemonScene.start()
        try await segments(
            scene,
            #"{"name": "Newsletter", "client_id": "DEMO_Co", "records": 1500, "processing_s": 0.3, "changes_per_s": 10, "history_s": 86400}"#
        )
        let hookLog = scene.cli.directory.appendingPathComponent("hook.log").path
        try configure(
            scene,
            extra: """
                hooks:
                  on_complete:
                    - 'printf "%s %s [%s] [%s] %s\\n" "$MPREFD_ACCESS_TOKEN" "$MPREFD_SEGMENT" "$MPREFD_WINDOW_START" "$MPREFD_WINDOW_END" "$MPREFD_RECORDS" >> "\(hookLog)"'
                """)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }

        // A full export first (no cursor yet, even with --incremental).
        let first = try await scene.mprefd(["export", "Newsletter", "--incremental"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("no cursor yet: a full export"))
        let firstToken = try #require(Int64(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(
            try await scene.eventually {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE access_token = \(firstToken) AND state = 'complete'") == 1
            },
            "daemon log:\n\(daemon.log.suffix(3000))")
        let firstExport = try #require(
            try await scene.rows(
                "SELECT window_start, window_end, last_date_time, state FROM exports WHERE access_token = \(firstToken)"
            ).first)
        #expect(firstExport["window_start"] is NSNull && firstExport["last_date_time"] is NSNull)
        let firstEnd = try #require(firstExport["window_end"] as? String)
        let cursors = try await scene.mprefd(["cursors", "--json"])
        let cursor = try #require((try cursors.json() as? [[String: Any]])?.first)
        #expect(cursor["position"] as? String == firstEnd)
        #expect(cursor["segment"] as? String == "Newsletter" && cursor["set_by"] as? String == "delivery")

        // The simulator keeps changing records; the incremental export starts at the cursor.
        let second = try await scene.mprefd(["export", "Newsletter", "--incremental", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        let object = try #require(try second.json() as? [String: Any])
        let secondToken = try #require((object["access_token"] as? NSNumber)?.int64Value)
        #expect(object["window_start"] as? String == firstEnd)
        let sent = try #require(object["last_date_time"] as? String)
        #expect(sent.hasSuffix("9Z") && sent <= firstEnd)
        #expect(
            try await scene.eventually {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE access_token = \(secondToken) AND state = 'complete'") == 1
            },
            "daemon log:\n\(daemon.log.suffix(3000))")
        let secondEnd = try #require(object["window_end"] as? String)
        let show = try #require(
            try await scene.mprefd(["show", String(secondToken), "--json"]).json() as? [String: Any])
        let shownExport = try #require(show["export"] as? [String: Any])
        #expect(shownExport["segment"] as? String == "Newsletter" && shownExport["window_start"] as? String == firstEnd)

        // Each file is the simulator's canonical export; the second holds only records changed in
        // its window (the vendor reads the sent LastDateTime rounded up, at most 11 ms before the start).
        let files = scene.cli.directory.appendingPathComponent("exports/\(scene.clientID)")
        let full = try lines(files.appendingPathComponent("\(firstToken).ndjson").path)
        let delta = try lines(files.appendingPathComponent("\(secondToken).ndjson").path)
        #expect(full.count >= 1500)
        #expect(!delta.isEmpty && delta.count < full.count, "\(delta.count) records in the incremental file")
        // The window's end is when mprefd sent the request; the vendor's snapshot is a little later,
        // so changes in between are in this file and (again) in the next one — never in neither.
        let readStart = Timestamp.format(
            WallClock.date(
                milliseconds: LastDateTime.vendorRounded(
                    milliseconds: WallClock.milliseconds(try #require(Timestamp.parse(sent))))))
        let received = try #require(
            await scene.simulator.initiations().first { $0.accessToken == secondToken }?.receivedAt)
        #expect(Timestamp.format(received) >= secondEnd)
        for line in delta {
            let modified = try #require(
                (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["ModifiedDate"] as? String
                    ?? deletedDate(line))
            #expect(
                modified >= readStart && modified < Timestamp.format(received),
                "\(modified) outside [\(readStart), \(Timestamp.format(received)))")
        }
        for token in [firstToken, secondToken] {
            let canonical = try #require(await scene.simulator.export(accessToken: token, clientID: scene.clientID))
            #expect(canonical.isCommitted)
            #expect(Int(canonical.records) == (token == firstToken ? full.count : delta.count))
        }
        // The hooks were told the segment and the window.
        #expect(try await scene.eventually { ((try? lines(hookLog)) ?? []).count == 2 })
        let hook = try lines(hookLog)
        #expect(hook.contains("\(firstToken) Newsletter [] [\(firstEnd)] \(full.count)"), "\(hook)")
        #expect(hook.contains("\(secondToken) Newsletter [\(firstEnd)] [\(secondEnd)] \(delta.count)"), "\(hook)")
        #expect(await initiates(scene).count == 2)

        // docs/REPORTING.md's segment queries (12–14), as an analyst runs them with sqlite3.
        func query(_ name: String) async throws -> [[String: Any]] {
            let sql = try #require(
                try ReportingDocument.queries().first { $0.name == name }?.sql, "docs/REPORTING.md has no \(name) query"
            )
            return try await SQLiteShell.rows(scene.cli.databasePath, sql, directory: scene.cli.directory)
        }
        let summary = try #require(try await query("segments").first)
        #expect(summary.int("exports") == 2 && summary.int("delivered") == 2 && summary.int("unsettled") == 0)
        #expect(summary.string("last_delivered_start") == firstEnd && summary.string("last_delivered_end") == secondEnd)
        #expect(summary.string("cursor") == secondEnd)
        #expect(summary.int("rows_delivered") == full.count + delta.count)
        let windows = try await query("segment-windows")
        #expect(windows.map { $0.string("window_end") ?? "" } == [secondEnd, firstEnd])
        #expect(windows.allSatisfy { $0.int("delivered") == 1 && ($0.double("duration_s") ?? -1) > 0 })
        #expect(windows.first?.int("file_records") == delta.count)
        // Consecutive windows: no gap, nothing unsettled.
        #expect(try await query("segment-gaps").isEmpty)
    }

    @Test func aLostAnswerIsHeldForAnOperatorAndNeverSentAgain() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(
            scene,
            #"{"name": "Newsletter", "records": 10, "processing_s": 0.1, "initiate_faults": [{"drop": true}]}, {"name": "Contacts", "records": 5, "processing_s": 0.1, "initiate_faults": [{"http": 500, "creates": false}]}"#
        )
        try configure(scene, download: false)
        let lost = try await scene.mprefd(["export", "Newsletter"])
        #expect(lost.status == 5, "\(lost.stderr)")
        #expect(lost.stderr.contains("mprefd export --resolve 1 TOKEN"), "\(lost.stderr)")
        #expect(lost.stdout.isEmpty)
        // Visible in list and status…
        let list = try await scene.mprefd(["list"])
        #expect(
            list.stderr.contains("export 1 of segment Newsletter (DEMO_Co)")
                && list.stderr.contains("initiated, token unknown"), "\(list.stderr)")
        let status = try await scene.mprefd(["status", "--json"])
        let unsettled = try #require((try status.json() as? [String: Any])?["unsettled_exports"] as? [[String: Any]])
        #expect(unsettled.map { $0["state"] as? String } == ["unknown"])
        let gapsSQL = try #require(try ReportingDocument.queries().first { $0.name == "segment-gaps" }?.sql)
        let waiting = try await SQLiteShell.rows(scene.cli.databasePath, gapsSQL, directory: scene.cli.directory)
        #expect(
            waiting.map { "\($0.string("kind") ?? "")/\($0.string("segment") ?? "")/\($0.int("export_id") ?? 0)" } == [
                "unsettled/Newsletter/1"
            ])
        // …and the segment is not exported again until it is settled.
        let again = try await scene.mprefd(["export", "Newsletter"])
        #expect(again.status == 5)
        #expect(again.stderr.contains("Settle it first"), "\(again.stderr)")
        #expect(await initiates(scene).count == 1)
        let created = await scene.simulator.initiations()
        #expect(created.count == 1 && created.first?.answered == false)
        // The operator finds the token (here: the one the simulator handed out) and resolves it.
        let token = try #require(created.first?.accessToken)
        let resolved = try await scene.mprefd(["export", "--resolve", "1", String(token)])
        #expect(resolved.status == 0, "\(resolved.stderr)")
        #expect(resolved.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(token))
        #expect(
            try await scene.count(
                "SELECT count(*) FROM exports e JOIN tokens t ON t.id = e.token_id WHERE e.state = 'started' AND t.access_token = \(token) AND e.settled_at IS NOT NULL"
            ) == 1)
        // A 500 is unknown too; abandoning it frees the segment.
        #expect(try await scene.mprefd(["export", "Contacts"]).status == 5)
        let abandon = try await scene.mprefd(["export", "--abandon", "2"])
        #expect(abandon.status == 0, "\(abandon.stderr)")
        #expect(try await scene.mprefd(["export", "--abandon", "2"]).status == 1)
        #expect(try await scene.mprefd(["export", "Contacts"]).status == 0)
        #expect(await initiates(scene).count == 3)
    }

    @Test func refusalsExitWithTheDocumentedCodesAndA503IsWaitedOut() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(
            scene,
            #"{"name": "Newsletter", "client_id": "DEMO_Co", "records": 10, "processing_s": 0.1, "initiate_faults": [{"unavailable": {"retry_after_s": 1}}]}"#
        )
        try configure(scene, download: false)
        let waited = try await scene.mprefd(["export", "Newsletter", "--json"])
        #expect(waited.status == 0, "\(waited.stderr)")
        #expect(waited.stderr.contains("trying again in 1.0 s (attempt 2 of 5)"), "\(waited.stderr)")
        #expect(try await scene.count("SELECT attempts FROM exports WHERE id = 1") == 2)
        let unknownSegment = try await scene.mprefd(["export", "No Such Segment"])
        #expect(unknownSegment.status == 64, "\(unknownSegment.stderr)")
        #expect(unknownSegment.stderr.contains("400 Bad Request"), "\(unknownSegment.stderr)")
        #expect(
            try await scene.count("SELECT count(*) FROM exports WHERE state = 'refused' AND http_status IS NULL") == 1)
        // A bad segment name never reaches the server.
        let bad = try await scene.mprefd(["export", "a/b"])
        #expect(bad.status == 64 && bad.stderr.contains("bad segment 'a/b'"))
        #expect(try await scene.mprefd(["export", "Newsletter", "--overlap", "5m"]).status == 64)
        #expect(try await scene.mprefd(["export", "Newsletter", "--since", "yesterday"]).status == 64)
        #expect(await initiates(scene).count == 3)
    }

    @Test func anUnknownClientIDIs404() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(
            scene, #"{"name": "Newsletter", "client_id": "Someone_Else", "records": 10, "processing_s": 0.1}"#)
        try configure(scene, download: false)
        let result = try await scene.mprefd(["export", "Newsletter"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("404"), "\(result.stderr)")
    }

    /// `kill -9` while the request is in flight: before it reached the API (a server that never
    /// answers) and after the API started the export (an answer delayed past the kill). Either way
    /// the attempt is visible, the segment is held, and nothing is sent again.
    @Test func killDashNineMidInitiateLeavesAVisibleAttemptAndNoSecondExport() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(
            scene, #"{"name": "Newsletter", "records": 10, "processing_s": 0.1, "initiate_faults": [{"delay_s": 60}]}"#)
        try configure(scene, download: false)

        // After the request: the simulator has started the export; its answer never arrives.
        let after = try ChildProcess(
            BuiltBinaries.mprefd, ["export", "Newsletter", "--config", scene.configPath],
            environment: scene.cli.baseEnvironment(),
            in: scene.cli.directory, output: .log("export"))
        #expect(await scene.eventually { await scene.simulator.initiations().count == 1 || !after.isRunning })
        // While it is being sent, a second export of the segment, --abandon and --resolve wait for it (exit 75).
        let concurrent = try await scene.mprefd(["export", "Newsletter"])
        #expect(
            concurrent.status == 75 && concurrent.stderr.contains("is being sent right now"), "\(concurrent.stderr)")
        #expect(try await scene.mprefd(["export", "--abandon", "1"]).status == 75)
        #expect(try await scene.mprefd(["export", "--resolve", "1", "5"]).status == 75)
        #expect(try await scene.mprefd(["list"]).stderr.contains("being sent now by process \(after.pid)"))
        #expect(try await scene.mprefd(["status", "--json"]).stdout.contains("\"being_sent\" : true"))
        after.signal(SIGKILL)
        _ = await after.waitForExit()
        #expect(
            try await scene.count("SELECT count(*) FROM exports WHERE state = 'sending' AND segment = 'Newsletter'")
                == 1)
        let again = try await scene.mprefd(["export", "Newsletter"])
        #expect(again.status == 5 && again.stderr.contains("export 1 of segment Newsletter"), "\(again.stderr)")
        #expect(await scene.simulator.initiations().count == 1)

        // Before the request reached the API: a listener that accepts and never answers.
        let blackHole = try BlackHole()
        defer { blackHole.close() }
        try configure(scene, download: false, baseURL: "http://127.0.0.1:\(blackHole.port)/Profiles")
        let before = try ChildProcess(
            BuiltBinaries.mprefd, ["export", "Contacts", "--config", scene.configPath],
            environment: scene.cli.baseEnvironment(),
            in: scene.cli.directory, output: .log("export"))
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM exports WHERE segment = 'Contacts' AND state = 'sending'")
                    == 1
            })
        before.signal(SIGKILL)
        _ = await before.waitForExit()
        let listed = try await scene.mprefd(["list"])
        #expect(
            listed.stderr.contains("export 2 of segment Contacts")
                && listed.stderr.contains("its command ended before an answer was stored"), "\(listed.stderr)")
        #expect(try await scene.mprefd(["export", "--abandon", "2"]).status == 0)
        #expect(await scene.simulator.initiations().count == 1)
    }
}

extension ExportEndToEndTests {
    @Test func badValuesAreRefusedBeforeAnythingIsSent() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(scene, #"{"name": "Newsletter", "records": 10, "processing_s": 0.1}"#)
        try configure(scene, download: false)
        for bad in ["..", ".", "\u{00A0}\u{3000}", "zero\u{200B}width", "a/b"] {
            let result = try await scene.mprefd(["export", bad])
            #expect(result.status == 64, "\(bad): \(result.stderr)")
        }
        #expect(
            try await scene.mprefd(["export", "Newsletter", "--match-criteria", "ProfileId", "--values", "1\n2"]).status
                == 64)
        #expect(try await scene.mprefd(["export", "--resolve", "1", "5", "--label", "x"]).status == 64)
        // A cursor edited into something that is not a time: exit 65 naming the fix, never a silent full export.
        #expect(try await scene.mprefd(["migrate"]).status == 0)
        _ = try await scene.cli.query(
            "INSERT INTO cursors (client_id, segment, position, set_by, updated_at) VALUES ('DEMO_Co', 'Newsletter', 'not-a-time', 'reset', '2026-12-01T00:00:00.000Z')"
        )
        let garbage = try await scene.mprefd(["export", "Newsletter", "--incremental"])
        #expect(garbage.status == 65 && garbage.stderr.contains("mprefd cursors reset Newsletter"), "\(garbage.stderr)")
        #expect(try await scene.mprefd(["cursors"]).stdout.contains("NOT A TIME"))
        #expect(await scene.simulator.initiations().isEmpty)
        // An exports row edited by hand does not stop list or status.
        #expect(try await scene.mprefd(["export", "Newsletter"]).status == 0)
        _ = try await scene.cli.query("UPDATE exports SET hooks = 'not json{' WHERE id = 1")
        #expect(try await scene.mprefd(["list"]).status == 0)
    }

    /// `--values-from FILE`: one value per line (CRLF, blank lines and `#` comments allowed), the same
    /// checks as `--values`; a missing, empty or non-UTF-8 file, or both options, is exit 64 before anything is sent.
    @Test func longValueListsComeFromAFile() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try await segments(scene, #"{"name": "Newsletter", "records": 10, "processing_s": 0.1}"#)
        try configure(scene, download: false)
        let directory = scene.cli.directory
        let ids = (1...10_000).map { String($0) }
        try ("# profile ids\r\n\r\n" + ids.joined(separator: "\r\n") + "\n").write(
            to: directory.appendingPathComponent("ids.txt"), atomically: true, encoding: .utf8)
        try Data([0x31, 0x0A, 0xFF, 0xFE, 0x0A]).write(to: directory.appendingPathComponent("binary.txt"))
        try "# nothing\n\n".write(to: directory.appendingPathComponent("empty.txt"), atomically: true, encoding: .utf8)
        try (ids + ["10001"]).joined(separator: "\n").write(
            to: directory.appendingPathComponent("too-many.txt"), atomically: true, encoding: .utf8)
        let path = { (name: String) in directory.appendingPathComponent(name).path }
        for (arguments, fragment) in [
            (["--values-from", path("missing.txt")], "cannot read --values-from"),
            (["--values-from", path("binary.txt")], "not UTF-8"),
            (["--values-from", path("empty.txt")], "holds no values"),
            (["--values-from", path("too-many.txt")], "too many --values (10001)"),
            (["--values-from", path("ids.txt"), "--values", "1"], "not both"),
        ] {
            let result = try await scene.mprefd(["export", "Newsletter", "--match-criteria", "ProfileId"] + arguments)
            #expect(result.status == 64 && result.stderr.contains(fragment), "\(arguments): \(result.stderr)")
        }
        #expect(await scene.simulator.initiations().isEmpty)
        let started = try await scene.mprefd([
            "export", "Newsletter", "--match-criteria", "ProfileId", "--values-from", path("ids.txt"),
        ])
        #expect(started.status == 0, "\(started.stderr)")
        let body = try #require(
            try await scene.rows("SELECT request_body FROM exports").first?["request_body"] as? String)
        let sent = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect((sent["Values"] as? [String]) == ids, "\(body.prefix(300))")
    }

    /// A daemon whose database lost a column (edited by hand) stops with exit 70 and one line, not a trap.
    @Test func aDatabaseMissingAColumnStopsTheDaemonCleanly() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        try configure(scene, download: false)
        #expect(try await scene.mprefd(["add-token", "4242"]).status == 0)
        _ = try await scene.cli.query("ALTER TABLE tokens DROP COLUMN segment")
        let daemon = try scene.startDaemon()
        let status = await daemon.waitForExit()
        #expect(status == 70, "\(daemon.log)")
        #expect(daemon.log.contains("no such column: segment"))
        #expect(!daemon.log.contains("Fatal error"))
    }
}

/// A deleted profile's record carries `DeletedDate` instead of `ModifiedDate`.
private func deletedDate(_ line: String) -> String? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["DeletedDate"] as? String
}

/// A TCP listener on loopback that completes handshakes (the kernel's backlog) and never reads or answers.
final class BlackHole: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
