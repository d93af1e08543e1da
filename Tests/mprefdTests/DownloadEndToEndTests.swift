import Foundation
import MyPreferencesSimulator
import Testing
import MprefTestSupport

/// What the download suites share: a scene's config with a `download:` block, the delivered file's
/// path, its SHA-256 and a token's state.
protocol DownloadEndToEndScenes {}

extension DownloadEndToEndScenes {
    /// The account's `download:` block plus `extra` YAML, under the scene's config.
    func configure(_ scene: DaemonScene, download: String = "enabled: true", pageSize: Int = 1000, extra: String = "")
        throws
    {
        let directory = scene.cli.directory.appendingPathComponent("exports").path
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
              max_retry_after_s: 2
              pause_jitter_s: 0.1
            accounts:
              \(scene.clientID):
                base_url: \(scene.simulator.baseURL)
                download:
                  \(download)
                  directory: \(directory)
                  page_size: \(pageSize)
            \(extra)
            """)
    }

    func file(_ scene: DaemonScene, _ token: Int64) -> String {
        scene.cli.directory.appendingPathComponent("exports/\(scene.clientID)/\(token).ndjson").path
    }

    func sha256(of path: String) async throws -> String {
        let result = try await ChildProcess.run(
            "/usr/bin/sha256sum", [path], environment: [:], in: URL(fileURLWithPath: "/"))
        return String(result.stdout.prefix(64))
    }

    func state(_ scene: DaemonScene, _ token: Int64) async throws -> String? {
        try await scene.rows("SELECT state FROM tokens WHERE access_token = \(token)").first?["state"] as? String
    }
}

/// Issue 14 end to end: the real `mprefd` binary downloads completed exports from the simulator over
/// loopback, and every file is compared byte for byte (SHA-256) with the simulator's canonical export.
/// Two serialized suites that run side by side: this one and ``DownloadRecoveryEndToEndTests``.
@Suite(.serialized) struct DownloadEndToEndTests: DownloadEndToEndScenes {
    @Test func completedExportIsDownloadedVerifiedCommittedAndHandedToTheHook() async throws {
        let scene = try await DaemonScene.start()
        // Three pages: the second answers 503 with Retry-After once (a host pause), the third is cut mid-body once.
        let faults = ExportOptions(pages: [
            PageFault(offset: 1001, .unavailable(retryAfter: .init(seconds: 1))),
            PageFault(offset: 2001, .reset(afterBytes: 200)),
        ])
        await scene.simulator.setScenario(
            .complete(records: 2500, export: faults), accessToken: 4101, clientID: scene.clientID)
        let hookLog = scene.cli.directory.appendingPathComponent("hook.log").path
        try configure(
            scene,
            extra: """
                hooks:
                  on_complete:
                    - 'env | grep ^MPREFD_ | sort > "\(hookLog)"; wc -l < "$MPREFD_FILE" >> "\(hookLog)"'
                """)
        _ = try await scene.mprefd(["add-token", "4101"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let hookRan = await scene.eventually {
            (try? String(contentsOfFile: hookLog, encoding: .utf8))?.contains("2500\n") == true
        }
        #expect(hookRan, "the complete hook did not run with the file; daemon log:\n\(daemon.log.suffix(3000))")
        let canonical = try #require(await scene.simulator.export(accessToken: 4101, clientID: scene.clientID))
        let path = file(scene, 4101)
        #expect(try await sha256(of: path) == canonical.sha256)
        #expect(canonical.isCommitted && canonical.keepFiles == false)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o640)
        #expect(!FileManager.default.fileExists(atPath: path + ".partial"))
        let hook = try String(contentsOfFile: hookLog, encoding: .utf8)
        #expect(hook.contains("MPREFD_FILE=\(path)\n"))
        #expect(hook.contains("MPREFD_RECORDS=2500\n"))
        #expect(hook.contains("MPREFD_FILE_BYTES=\(canonical.bytes)\n"))
        #expect(hook.contains("MPREFD_FILE_SHA256=\(canonical.sha256)\n"))
        #expect(try await state(scene, 4101) == "complete")
        // Every page request is history; the 503 and the cut body are in it.
        let outcomes = try await scene.rows("SELECT request, outcome FROM download_requests ORDER BY id").map {
            "\($0["request"] ?? "")/\($0["outcome"] ?? "")"
        }
        #expect(outcomes.contains("page/unavailable"))
        #expect(outcomes.contains("page/transport_error"))
        #expect(outcomes.last == "commit/ok")
        #expect(
            try await scene.count("SELECT count(*) FROM download_requests WHERE outcome = 'ok' AND request = 'page'")
                == 3)
        let progress = try #require(
            try await scene.rows("SELECT phase, records, total_results, sha256 FROM download_progress").first)
        #expect(progress["phase"] as? String == "committed")
        #expect(progress["records"] as? Int == 2500)
        #expect(progress["sha256"] as? String == canonical.sha256)
        // show --json carries the download.
        let show = try await scene.mprefd(["show", "4101", "--json"])
        let download = try #require((try show.json() as? [String: Any])?["download"] as? [String: Any])
        #expect(download["records"] as? Int == 2500 && download["phase"] as? String == "committed")
    }

    @Test func aShortPageIsRetriedAndAWrongTotalFailsTheDownloadUnverifiedAndUncommitted() async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(
            .complete(records: 1500, export: ExportOptions(pages: [PageFault(offset: 1, .short)])),
            accessToken: 4301, clientID: scene.clientID)
        await scene.simulator.setScenario(
            .complete(
                records: 1500,
                export: ExportOptions(pages: [
                    PageFault(offset: 1, .wrongTotal, times: 100),
                    PageFault(offset: 1001, .wrongTotal, times: 100),
                ])),
            accessToken: 4302, clientID: scene.clientID)
        let failures = scene.cli.directory.appendingPathComponent("failures.log").path
        try configure(
            scene, download: "enabled: true\n      max_attempts: 3",
            extra: """
                hooks:
                  on_failure:
                    - 'echo "$MPREFD_EVENT $MPREFD_ACCESS_TOKEN" >> "\(failures)"'
                """)
        _ = try await scene.mprefd(["add-token", "4301", "4302"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually {
                let first = try await state(scene, 4301)
                let second = try await state(scene, 4302)
                return first == "complete" && second == "download_failed"
            },
            "daemon log:\n\(daemon.log.suffix(3000))")
        let short = try await scene.rows(
            "SELECT error FROM download_requests WHERE token_id = (SELECT id FROM tokens WHERE access_token = 4301) AND outcome = 'undecodable'"
        )
        #expect((short.first?["error"] as? String)?.contains("short page") == true)
        let good = try #require(await scene.simulator.export(accessToken: 4301, clientID: scene.clientID))
        #expect(try await sha256(of: file(scene, 4301)) == good.sha256)
        let failed = try #require(
            try await scene.rows("SELECT last_error FROM tokens WHERE access_token = 4302").first?["last_error"]
                as? String)
        #expect(failed.contains("records written 1500 ≠ TotalResults 1501"), "\(failed)")
        let uncommitted = await scene.simulator.export(accessToken: 4302, clientID: scene.clientID)
        #expect(uncommitted?.isCommitted == false)
        #expect(!FileManager.default.fileExists(atPath: file(scene, 4302)))
        #expect(FileManager.default.fileExists(atPath: file(scene, 4302) + ".partial"))
        let failureHookRan = await scene.eventually {
            (try? String(contentsOfFile: failures, encoding: .utf8))?.contains("download_failed 4302") == true
        }
        #expect(failureHookRan)
        // An operator re-arms it; it fails the same way again (the vendor's count stays wrong).
        let retry = try await scene.mprefd(["download", "--retry", "4302"])
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.contains("re-armed"))
    }

    @Test func anExportThatExpiresMidDownloadIsExpiredWithWhatWasSavedNamed() async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(
            .complete(records: 3000, export: ExportOptions(expireAfterPages: 1)), accessToken: 4401,
            clientID: scene.clientID)
        try configure(scene)
        _ = try await scene.mprefd(["add-token", "4401"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually { try await state(scene, 4401) == "expired" },
            "daemon log:\n\(daemon.log.suffix(3000))")
        let error = try #require(
            try await scene.rows("SELECT last_error FROM tokens WHERE access_token = 4401").first?["last_error"]
                as? String)
        #expect(error.contains("1000 of 3000 records kept in \(file(scene, 4401)).partial"), "\(error)")
        let partial = try String(contentsOfFile: file(scene, 4401) + ".partial", encoding: .utf8)
        #expect(partial.split(separator: "\n").count == 1000)
    }

    @Test func oneShotDownloadCommandDeliversWhenTheDaemonDoesNot() async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(
            .complete(records: 1200, export: ExportOptions(lowercaseKeys: true, recordsKey: .preferences)),
            accessToken: 4501, clientID: scene.clientID)
        try configure(scene, download: "enabled: false")
        _ = try await scene.mprefd(["add-token", "4501"])
        let daemon = try scene.startDaemon()
        #expect(try await scene.eventually { try await state(scene, 4501) == "complete" })
        // The daemon holds the database: the one-shot refuses (75).
        let refused = try await scene.mprefd(["download", "4501"])
        #expect(refused.status == 75, "\(refused.stderr)")
        _ = await daemon.stop()
        defer { Task { await scene.finish() } }
        let untouched = await scene.simulator.export(accessToken: 4501, clientID: scene.clientID)
        #expect(untouched?.pagesServed == 0)
        let out = scene.cli.directory.appendingPathComponent("out/today.ndjson").path
        let result = try await scene.mprefd(["download", "4501", "--out", out, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try result.json() as? [String: Any])
        #expect(json["state"] as? String == "complete")
        let canonical = try #require(await scene.simulator.export(accessToken: 4501, clientID: scene.clientID))
        #expect(try await sha256(of: out) == canonical.sha256)
        #expect(canonical.isCommitted)
        let usage = try await scene.mprefd(["download"])
        #expect(usage.status == 64)
        // Delivered: asked again, the file is the answer and is left exactly as it is.
        let again = try await scene.mprefd(["download", "4501"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == out)
        #expect(try await sha256(of: out) == canonical.sha256)
        // An existing path is never replaced.
        let precious = try scene.cli.write("precious.csv", "keep me\n")
        let inTheWay = try await scene.mprefd(["download", "4501", "--out", precious])
        #expect(inTheWay.status == 64, "\(inTheWay.stderr)")
        #expect(inTheWay.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me\n")
        let both = try await scene.mprefd(["add-token", "4599", "--download", "--no-download"])
        #expect(both.status == 64)
    }

    @Test func aCommitAnswered404WithoutAnEarlierCommitIsAFailureNamingCommitPath() async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(.complete(records: 200), accessToken: 4901, clientID: scene.clientID)
        try scene.cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(scene.cli.databasePath)
            polling:
              initial_delay_s: 0.05
              max_delay_s: 0.1
            accounts:
              \(scene.clientID):
                base_url: \(scene.simulator.baseURL)
                commit_path: Async/{clientId}/Export/Segment/Komit/{accessToken}
                download:
                  enabled: true
                  directory: \(scene.cli.directory.appendingPathComponent("exports").path)
            """)
        _ = try await scene.mprefd(["add-token", "4901"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually { try await state(scene, 4901) == "download_failed" },
            "daemon log:\n\(daemon.log.suffix(3000))")
        let error = try #require(
            try await scene.rows("SELECT last_error FROM tokens WHERE access_token = 4901").first?["last_error"]
                as? String)
        #expect(error.contains("commit_path"), "\(error)")
        let export = await scene.simulator.export(accessToken: 4901, clientID: scene.clientID)
        #expect(export?.isCommitted == false)
        #expect(FileManager.default.fileExists(atPath: file(scene, 4901)), "the verified file stays")
    }

    @Test func progressShowsInListAndStatusWhileDownloading() async throws {
        let scene = try await DaemonScene.start()
        // Pages 2.. drip slowly, so the download is caught in the middle.
        let slow = (1..<6).map { PageFault(offset: Int64($0 * 100 + 1), .slow(delay: .milliseconds(800), chunks: 4)) }
        await scene.simulator.setScenario(
            .complete(records: 600, export: ExportOptions(pages: slow)), accessToken: 4601, clientID: scene.clientID)
        try configure(scene, pageSize: 100)
        _ = try await scene.mprefd(["add-token", "4601"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually { try await scene.count("SELECT coalesce(max(pages), 0) FROM downloads") >= 1 })
        let list = try await scene.mprefd(["list"])
        #expect(list.stdout.contains("downloading "), "\(list.stdout)")
        #expect(list.stdout.range(of: #"downloading \d+%"#, options: .regularExpression) != nil, "\(list.stdout)")
        let status = try await scene.mprefd(["status", "--json"])
        let report = try #require(try status.json() as? [String: Any])
        let downloads = try #require(report["downloads_in_progress"] as? [[String: Any]])
        #expect(downloads.first?["access_token"] as? Int == 4601)
        #expect(downloads.first?["total_results"] as? Int == 600)
        #expect((report["tokens"] as? [String: Any])?["downloading"] as? Int == 1)
        let text = try await scene.mprefd(["status"])
        #expect(text.stdout.contains("DEMO_Co/4601 fetching:"), "\(text.stdout)")
    }
}

/// Downloads across `kill -9`, an operator's `remove` and the retention of delivered files (see
/// ``DownloadEndToEndTests``).
@Suite(.serialized) struct DownloadRecoveryEndToEndTests: DownloadEndToEndScenes {
    @Test func killDashNineMidDownloadResumesWithNoGapAndNoDuplicate() async throws {
        let scene = try await DaemonScene.start()
        // Twelve slow pages (of 100 records: the page count is what matters), so that the kills land mid-download.
        let slow = (0..<12).map { PageFault(offset: Int64($0 * 100 + 1), .slow(delay: .milliseconds(150), chunks: 5)) }
        await scene.simulator.setScenario(
            .complete(records: 1200, export: ExportOptions(seed: 7, pages: slow)), accessToken: 4201,
            clientID: scene.clientID)
        try configure(scene, pageSize: 100)
        _ = try await scene.mprefd(["add-token", "4201"])
        var kills = 0
        for round in 1...3 {
            let daemon = try scene.startDaemon()
            #expect(
                try await scene.eventually {
                    try await scene.count("SELECT coalesce(max(pages), 0) FROM downloads") >= round * 3
                })
            daemon.signal(SIGKILL)
            _ = await daemon.waitForExit()
            kills += 1
        }
        let last = try scene.startDaemon()
        defer { Task { await scene.finish(last) } }
        #expect(
            try await scene.eventually { try await state(scene, 4201) == "complete" },
            "daemon log:\n\(last.log.suffix(3000))")
        let canonical = try #require(await scene.simulator.export(accessToken: 4201, clientID: scene.clientID))
        #expect(try await sha256(of: file(scene, 4201)) == canonical.sha256)
        // At most one page fetched again per kill.
        // The history holds every page request whose answer was read; a page stored from its spool after
        // a kill was asked for by the killed daemon, which never wrote that row.
        let pageRequests = try await scene.count("SELECT count(*) FROM download_requests WHERE request = 'page'")
        #expect(pageRequests >= 12 - kills)
        #expect(
            canonical.pagesServed <= 12 + kills, "pages served \(canonical.pagesServed) for 12 pages and \(kills) kills"
        )
    }

    @Test func aDownloadAnOperatorRemovesLeavesNoFileOpenInTheDaemon() async throws {
        let scene = try await DaemonScene.start()
        let slow = (0..<12).map { PageFault(offset: Int64($0 * 100 + 1), .slow(delay: .milliseconds(200), chunks: 4)) }
        await scene.simulator.setScenario(
            .complete(records: 1200, export: ExportOptions(seed: 3, pages: slow)), accessToken: 4203,
            clientID: scene.clientID)
        try configure(scene, pageSize: 100)
        _ = try await scene.mprefd(["add-token", "4203"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let partial = file(scene, 4203) + ".partial"
        // The daemon's descriptors that name the `.partial` file (/proc/PID/fd links).
        func holdsPartial() -> Bool {
            let directory = "/proc/\(daemon.pid)/fd"
            let links = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return links.contains {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0)) == partial
            }
        }
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT coalesce(max(pages), 0) FROM downloads") >= 2 && holdsPartial()
            })
        _ = try await scene.mprefd(["remove", "4203"])
        #expect(await scene.eventually { !holdsPartial() }, "daemon log:\n\(daemon.log.suffix(2000))")
    }

    @Test func retentionRemovesDeliveredFilesOnlyOnceTheirHooksSucceeded() async throws {
        let scene = try await DaemonScene.start()
        for token: Int64 in [4701, 4702] {
            await scene.simulator.setScenario(.complete(records: 300), accessToken: token, clientID: scene.clientID)
        }
        try configure(
            scene, download: "enabled: true\n      retention_days: 1",
            extra: """
                hooks:
                  on_complete:
                    - 'test "$MPREFD_ACCESS_TOKEN" = 4701'
                  max_attempts: 1
                """)
        _ = try await scene.mprefd(["add-token", "4701", "4702"])
        let first = try scene.startDaemon()
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM hook_runs WHERE state IN ('succeeded', 'dead')") == 2
            },
            "daemon log:\n\(first.log.suffix(3000))")
        _ = await first.stop()
        // Both were committed two days ago: 4701's hook succeeded, 4702's is dead.
        _ = try await scene.cli.sqlite([
            scene.cli.databasePath,
            "UPDATE downloads SET committed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 days')",
        ])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let gone = await scene.eventually { !FileManager.default.fileExists(atPath: file(scene, 4701)) }
        #expect(gone, "daemon log:\n\(daemon.log.suffix(3000))")
        // The file goes first, then its row is marked and the pass logged: wait for both.
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM downloads WHERE file_deleted_at IS NOT NULL") == 1
            })
        #expect(await scene.eventually { daemon.log.contains("removed delivered files past download.retention_days") })
        #expect(try await scene.count("SELECT count(*) FROM downloads WHERE file_deleted_at IS NOT NULL") == 1)
        #expect(FileManager.default.fileExists(atPath: file(scene, 4702)), "a file whose hook did not succeed is kept")
    }
}
