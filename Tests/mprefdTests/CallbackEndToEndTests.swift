import AsyncHTTPClient
import Foundation
import MprefCore
import MprefStore
import MyPreferencesSimulator
import NIOCore
import NIOHTTP1
import Testing
import MprefTestSupport

/// Issue 16 §3, the callback, through the real binaries: `mprefd export` sends `CallbackURL`, the
/// daemon's listener (`callbacks.listen`) answers 202/404/405/413/429 and polls the token at once,
/// and the simulator POSTs the callback when the export completes. Polling's own delays are an hour
/// (`polling.initial_delay_s: 3600`), so a second poll within the test can only come from a callback.
@Suite struct CallbackEndToEndTests {
    struct Listener {
        let callbackPort: Int
        let metricsPort: Int
        var base: String { "http://127.0.0.1:\(callbackPort)" }
        var publicURL: String { base + "/mprefd/callback" }
    }

    /// Writes the config (hour-long polling delays, callbacks and metrics on) and starts the daemon.
    func start(_ scene: DaemonScene, rate: String = "5", burst: Int = 20, safetyInterval: Int = 1800) async throws -> (
        Listener, ChildProcess
    ) {
        let listener = Listener(
            callbackPort: try PackagingTools.freeTCPPort(), metricsPort: try PackagingTools.freeTCPPort())
        try scene.writeConfig(
            polling: "initial_delay_s: 3600\n  max_delay_s: 3600",
            extra: """
                callbacks:
                  listen: 127.0.0.1:\(listener.callbackPort)
                  public_url: \(listener.publicURL)
                  rate_per_source_per_s: \(rate)
                  burst_per_source: \(burst)
                  safety_interval_s: \(safetyInterval)
                metrics:
                  listen: 127.0.0.1:\(listener.metricsPort)
                """)
        let daemon = try scene.startDaemon()
        let listening = await scene.eventually {
            let fd = MetricsListenerTests.connectLoopback(port: listener.callbackPort)
            if fd >= 0 { close(fd); return true }
            return !daemon.isRunning
        }
        #expect(listening && daemon.isRunning, "\(daemon.log)")
        return (listener, daemon)
    }

    func segment(_ scene: DaemonScene, _ entry: String) async throws {
        let book = try JSONDecoder().decode(ScenarioBook.self, from: Data(#"{"segments": [\#(entry)]}"#.utf8))
        await scene.simulator.apply(book)
    }

    /// One request to the listener: status, `Allow`, body.
    func send(_ url: String, method: HTTPMethod = .POST, body: String = "{}") async throws -> (
        status: Int, allow: String?
    ) {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            var request = HTTPClientRequest(url: url)
            request.method = method
            if method == .POST { request.body = .bytes(ByteBuffer(string: body)) }
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return (Int(response.status.code), response.headers.first(name: "Allow"))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func statusPolls(_ scene: DaemonScene, _ accessToken: Int64) async -> Int {
        await scene.requests(for: accessToken).filter { $0.method == "GET" && $0.path.hasSuffix("/Status") }.count
    }

    @Test func theListenerRefusesWhatItDoesNotKnowAndPollsAKnownExportAtOnce() async throws {
        let scene = try await DaemonScene.start()
        // The export stays Processing for an hour: only a callback can explain a second poll.
        try await segment(
            scene, #"{"name": "Newsletter", "client_id": "DEMO_Co", "records": 50, "processing_s": 3600}"#)
        // The burst (40) outlasts the most requests sent before the rate limit is tested (29).
        let burst = 40
        let (listener, daemon) = try await start(scene, rate: "0.001", burst: burst)
        defer { Task { await scene.finish(daemon) } }

        // mprefd export sends CallbackURL = <public_url>/<id>, the id stored with the attempt.
        let export = try await scene.mprefd(["export", "Newsletter"])
        #expect(export.status == 0, "\(export.stderr)")
        let accessToken = try #require(Int64(export.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let row = try #require(
            try await scene.rows("SELECT callback_id, request_body FROM exports WHERE access_token = \(accessToken)")
                .first)
        let callbackID = try #require(row["callback_id"] as? String)
        #expect(callbackID.count == 32 && callbackID.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let sentURL = await scene.simulator.initiations().first { $0.accessToken == accessToken }?.callbackURL
        #expect(sentURL == listener.publicURL + "/" + callbackID)
        #expect(
            (row["request_body"] as? String)?.contains(#""CallbackURL":"\#(listener.publicURL)/\#(callbackID)""#)
                == true)

        // The first poll comes at once (a new token is due now); the next is an hour away.
        #expect(await scene.eventually { await statusPolls(scene, accessToken) == 1 }, "\(daemon.log.suffix(3000))")

        // Unknown and malformed ids: 404, and nothing is written. The heartbeat writes every 5 s, so a
        // round during which it moved proves nothing and is tried again.
        let reader = try TokenDatabase(path: scene.cli.databasePath, mode: .readOnly)
        var unchangedRound = false
        for _ in 0..<5 where !unchangedRound {
            let heartbeat = try await scene.rows("SELECT heartbeat_at FROM daemon").first?["heartbeat_at"] as? String
            let before = try reader.dataVersion()
            for index in 0..<4 {
                let unknown = String(repeating: "0", count: 31) + String(index)
                #expect(try await send("\(listener.publicURL)/\(unknown)").status == 404)
            }
            #expect(try await send("\(listener.base)/not-an-id").status == 404)
            let after = try reader.dataVersion()
            let heartbeatAfter =
                try await scene.rows("SELECT heartbeat_at FROM daemon").first?["heartbeat_at"] as? String
            if heartbeat == heartbeatAfter {
                #expect(before == after, "a callback for an unknown id wrote to the database")
                unchangedRound = true
            }
        }
        #expect(unchangedRound, "the heartbeat moved in every round")

        // Other methods, and bodies over 16 KiB.
        let get = try await send("\(listener.publicURL)/\(callbackID)", method: .GET)
        #expect(get.status == 405 && get.allow == "POST")
        #expect(
            try await send("\(listener.publicURL)/\(callbackID)", body: String(repeating: "x", count: 16 * 1024 + 1))
                .status == 413)
        #expect(await statusPolls(scene, accessToken) == 1, "no poll for refused requests")

        // The known id: 202, and the token is polled at once — with or without the proxy's prefix.
        #expect(
            try await send("\(listener.publicURL)/\(callbackID)", body: #"{"AccessToken":1,"Status":"Complete"}"#)
                .status == 202)
        #expect(await scene.eventually { await statusPolls(scene, accessToken) == 2 }, "\(daemon.log.suffix(3000))")
        #expect(try await send("\(listener.base)/\(callbackID)").status == 202)
        #expect(await scene.eventually { await statusPolls(scene, accessToken) == 3 }, "\(daemon.log.suffix(3000))")
        #expect(daemon.log.contains("callback received; polling at once"))
        #expect(!daemon.log.contains("its callback did not arrive"), "\(daemon.log.suffix(3000))")
        // The body is never trusted: the token still reads what the status said.
        #expect(
            try await scene.count(
                "SELECT count(*) FROM tokens WHERE access_token = \(accessToken) AND state = 'watching' AND last_status = 'Processing'"
            ) == 1)

        // Beyond the burst a source is refused with 429 (the rate, 0.001/s, refills nothing here).
        var statuses: [Int] = []
        for _ in 0..<burst where !statuses.contains(429) {
            statuses.append(try await send("\(listener.base)/\(String(repeating: "f", count: 32))").status)
        }
        #expect(statuses.contains(429), "\(statuses)")
        #expect(Set(statuses).isSubset(of: [404, 429]))

        let samples = try await MetricsEndpointTests.scrape(port: listener.metricsPort)
        #expect(samples[#"mprefd_callbacks_total{result="accepted"}"#] == 2)
        #expect((samples[#"mprefd_callbacks_total{result="unknown"}"#] ?? 0) >= 5)
        #expect((samples[#"mprefd_callbacks_total{result="bad_request"}"#] ?? 0) == 2)
        #expect((samples[#"mprefd_callbacks_total{result="rate_limited"}"#] ?? 0) >= 1)
    }

    @Test func theSimulatorsCallbackMakesTheDaemonNoticeTheFinishWithAFewPolls() async throws {
        let scene = try await DaemonScene.start()
        try await segment(
            scene,
            // Processing for 6 s: the add-time poll must see it processing even when it comes late on a
            // loaded machine (with 2 s, a late first poll saw it complete and no callback was sent).
            #"{"name": "Newsletter", "client_id": "DEMO_Co", "records": 200, "processing_s": 6, "callback_delay_s": 0.2}"#
        )
        let (_, daemon) = try await start(scene)
        defer { Task { await scene.finish(daemon) } }

        let export = try await scene.mprefd(["export", "Newsletter"])
        #expect(export.status == 0, "\(export.stderr)")
        let accessToken = try #require(Int64(export.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))

        // With an hour between polls, only the callback can complete the token within the test.
        #expect(
            try await scene.eventually {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE access_token = \(accessToken) AND state = 'complete'") == 1
            },
            "\(daemon.log.suffix(4000))")
        let polls = await statusPolls(scene, accessToken)
        #expect(polls >= 2 && polls <= 3, "status requests: \(polls)")
        let callbacks = await scene.simulator.callbacks().filter { $0.accessToken == accessToken }
        #expect(
            callbacks.count == 1 && callbacks.first?.result == .sent && callbacks.first?.httpStatus == 202,
            "\(callbacks)")
        #expect(daemon.log.contains("callback received; polling at once"))
        // At debug, the body's size and an excerpt are logged (never at info).
        #expect(
            daemon.log.contains("\"AccessToken\":\(accessToken)")
                || daemon.log.contains("AccessToken\\\":\(accessToken)"), "\(daemon.log.suffix(3000))")

        // How long after the vendor's completion the daemon noticed it (reported, not asserted).
        if let row = try await scene.rows("SELECT window_end FROM exports WHERE access_token = \(accessToken)").first,
            let sent = (row["window_end"] as? String).flatMap(Timestamp.parse),
            let finished =
                (try await scene.rows("SELECT finished_at FROM tokens WHERE access_token = \(accessToken)").first?[
                    "finished_at"] as? String).flatMap(Timestamp.parse)
        {
            print(
                "callback end to end: noticed \(String(format: "%.2f", finished.timeIntervalSince(sent) - 6)) s after completion with \(polls) polls"
            )
        }
    }

    /// A lost callback: the export awaiting it is found by the safety net (`callbacks.safety_interval_s`),
    /// not by the hour-long backoff, and the daemon says the callback did not arrive.
    @Test func aLostCallbackIsCaughtByTheSafetyNetAndReported() async throws {
        let scene = try await DaemonScene.start()
        try await segment(
            scene,
            // Processing for 5 s: the add-time poll must see it processing even when it takes over a second
            // on a loaded machine (with 1 s, a slow first poll saw it complete); the safety poll comes at 10 s.
            #"{"name": "Newsletter", "client_id": "DEMO_Co", "records": 20, "processing_s": 5, "callback_failure_rate": 1}"#
        )
        let (listener, daemon) = try await start(scene, safetyInterval: 10)
        defer { Task { await scene.finish(daemon) } }

        let export = try await scene.mprefd(["export", "Newsletter"])
        #expect(export.status == 0, "\(export.stderr)")
        let accessToken = try #require(Int64(export.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(
            try await scene.eventually(timeout: .seconds(60)) {
                try await scene.count(
                    "SELECT count(*) FROM tokens WHERE access_token = \(accessToken) AND state = 'complete'") == 1
            }, "\(daemon.log.suffix(4000))")
        // The add-time poll, then the safety poll 10 s later (no segment history: the interval).
        let polls = await statusPolls(scene, accessToken)
        #expect(polls == 2, "status requests: \(polls)")
        let gap = try await scene.rows(
            "SELECT next_delay_s FROM polls WHERE token_id = (SELECT id FROM tokens WHERE access_token = \(accessToken)) ORDER BY id LIMIT 1"
        )
        #expect((gap.first?["next_delay_s"] as? Double) == 10, "\(gap)")
        #expect(await scene.simulator.callbacks().filter { $0.accessToken == accessToken }.map(\.result) == [.dropped])
        #expect(daemon.log.contains("its callback did not arrive"), "\(daemon.log.suffix(3000))")
        let samples = try await MetricsEndpointTests.scrape(port: listener.metricsPort)
        #expect(samples["mprefd_callbacks_missed_total"] == 1, "\(samples)")
    }

    @Test func theCallbackKeysAreCheckedTogether() async throws {
        let scene = try await DaemonScene.start()
        defer { Task { await scene.finish() } }
        let cases: [(String, String)] = [
            ("callbacks:\n  public_url: https://etl.example.com/mprefd/callback", "callbacks.public_url"),
            ("callbacks:\n  listen: 127.0.0.1:9465", "callbacks.public_url"),
            ("callbacks:\n  listen: 127.0.0.1:9465\n  public_url: http://etl.example.com/cb", "https://"),
            (
                "callbacks:\n  listen: 127.0.0.1:9465\n  public_url: https://etl.example.com/cb?x=1",
                "callbacks.public_url"
            ),
            ("callbacks:\n  listen: nowhere\n  public_url: https://etl.example.com/cb", "callbacks.listen"),
            (
                "callbacks:\n  listen: :9465\n  public_url: https://etl.example.com/cb\n  rate_per_source_per_s: 0",
                "callbacks.rate_per_source_per_s"
            ),
            (
                "callbacks:\n  listen: :9465\n  public_url: https://etl.example.com/cb\n  safety_interval_s: 5",
                "callbacks.safety_interval_s"
            ),
            // Not a callback key, but the same check: a hook command with NUL (sh would run only its head).
            ("hooks:\n  on_stuck: [\"echo a\\0rm -rf b\"]", "hooks.on_stuck"),
        ]
        for (yaml, key) in cases {
            try scene.writeConfig(extra: yaml)
            let check = try await scene.mprefd(["check-config"])
            #expect(check.status == 78, "\(yaml): \(check.stdout)")
            #expect(check.stderr.contains(key), "\(yaml): \(check.stderr)")
            #expect(
                !(key == "callbacks.safety_interval_s" && check.stderr.contains("at most 1000000000")),
                "\(check.stderr)")
        }
        try scene.writeConfig(extra: "callbacks:\n  listen: :0\n  public_url: https://etl.example.com/mprefd/callback/")
        let check = try await scene.mprefd(["check-config"])
        // Port 0 is not a usable port for the proxy to reach; the rule is the metrics one.
        #expect(check.status == 78, "\(check.stdout) \(check.stderr)")
        try scene.writeConfig(
            extra:
                "callbacks:\n  listen: :\(try PackagingTools.freeTCPPort())\n  public_url: https://etl.example.com/mprefd/callback/"
        )
        let good = try await scene.mprefd(["check-config"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("public_url: https://etl.example.com/mprefd/callback"))
    }
}
