import AsyncHTTPClient
import Foundation
import MprefTestSupport
import NIOCore
import Testing
import NIOHTTP1

/// The Prometheus endpoint (`metrics.listen`), scraped over loopback from a real `mprefd run`
/// polling a real `mpref-sim`.
@Suite(
    .enabled("needs the sqlite3 CLI (apt-get install sqlite3)") { PackagingTools.ensure("sqlite3", package: "sqlite3") }
)
struct MetricsEndpointTests {
    /// 1: Complete at once (hook `true` succeeds). 2: Processing forever. 3: Processing three times,
    /// then 503 with Retry-After 300 s, which pauses the whole host for the rest of the test, so the
    /// counters stop moving. 4: Error (its failure hook `exit 4` is dead after one attempt).
    static let scenarios = """
        {"default": [{"status": "Processing"}],
         "scenarios": [
          {"access_token": 1, "steps": [{"status": "Complete", "row_count": 10, "byte_count": 1000}]},
          {"access_token": 2, "steps": [{"status": "Processing"}]},
          {"access_token": 3, "steps": [{"status": "Processing", "repeat": 3}, {"unavailable": {"retry_after_s": 300}}]},
          {"access_token": 4, "steps": [{"status": "Error"}]}
         ]}
        """

    /// Exposition lines `name{labels} value` → value (comments skipped).
    static func parse(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test func scrapeShowsPollsTokensPausesAndHooks() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-metrics")
        defer { try? FileManager.default.removeItem(at: directory) }
        let simulator = try await SimulatorRun.start(scenarios: Self.scenarios, in: directory)
        defer { simulator.child.signal(SIGTERM) }
        let metricsPort = try PackagingTools.freeTCPPort()
        let databasePath = directory.appendingPathComponent("mprefd.sqlite3").path
        let configPath = directory.appendingPathComponent("mprefd.yaml").path
        try """
        database:
          path: \(databasePath)
        polling:
          initial_delay_s: 0.2
          max_delay_s: 0.5
          pause_jitter_s: 0
        hooks:
          on_complete: ['true']
          on_failure: ['exit 4']
          max_attempts: 1
        metrics:
          listen: 127.0.0.1:\(metricsPort)
        accounts:
          ACME_Co:
            base_url: http://127.0.0.1:\(simulator.port)/Profiles
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let environment = PackagingTools.cleanEnvironment()
        let add = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["add-token", "--config", configPath, "1", "2", "3", "4"],
            environment: environment, in: directory, timeout: .seconds(120))
        try #require(add.status == 0, "add-token: \(add.stderr)")

        let daemon = try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", configPath], environment: environment, in: directory,
            output: .files("mprefd"))
        defer { daemon.signal(SIGTERM) }
        // Wait until the 503 has paused the host, both hook runs have ended, and no poll was sent for
        // a second (a poll in flight when the 503 arrived is recorded too), so the counters are still.
        try await PackagingTools.waitUntil("the 503 pause, both hook runs and a quiet second", timeout: .seconds(60)) {
            guard daemon.isRunning else { throw PackagingTestError("mprefd run exited: \(daemon.stderr)") }
            let rows = try await SQLiteShell.rows(
                databasePath,
                """
                SELECT (SELECT count(*) FROM polls WHERE outcome = 'unavailable') AS unavailable,
                       (SELECT count(*) FROM hook_runs WHERE state IN ('succeeded', 'dead')) AS hooks_ended,
                       (SELECT (julianday('now') - julianday(max(polled_at))) * 86400.0 FROM polls) AS quiet_s
                """, directory: directory)
            return rows.first?.int("unavailable") == 1 && rows.first?.int("hooks_ended") == 2
                && (rows.first?.double("quiet_s") ?? 0) > 1.0
        }
        let polls = try await SQLiteShell.rows(
            databasePath, "SELECT outcome, count(*) AS n FROM polls GROUP BY outcome", directory: directory)
        let pollsByOutcome = Dictionary(
            uniqueKeysWithValues: polls.compactMap { row in row.string("outcome").map { ($0, row.int("n") ?? -1) } })

        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let response: HTTPClientResponse
        let body: String
        do {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics")
            request.method = .GET
            response = try await client.execute(request, timeout: .seconds(10))
            body = String(buffer: try await response.body.collect(upTo: 4 << 20))
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let samples = Self.parse(body)
        // Counters of rare events are exported at zero from the start (`increase()` sees the first one).
        for name in [
            "mprefd_stuck_exports_total", "mprefd_callbacks_missed_total",
            #"mprefd_callbacks_total{result="accepted"}"#,
            #"mprefd_callbacks_total{result="rate_limited"}"#,
        ] {
            #expect(samples[name] == 0, "\(name)\n\(body)")
        }

        // Polls by outcome: the counters agree with the history (nothing polls during the pause).
        #expect((pollsByOutcome["ok"] ?? 0) >= 5)
        for (outcome, count) in pollsByOutcome {
            #expect(
                samples["mprefd_polls_total{outcome=\"\(outcome)\"}"] == Double(count), "outcome \(outcome)\n\(body)")
        }
        let totalPolls = Double(pollsByOutcome.values.reduce(0, +))
        #expect(samples["mprefd_poll_latency_seconds_count"] == totalPolls)
        #expect(samples["mprefd_poll_latency_seconds_bucket{le=\"+Inf\"}"] == totalPolls)
        #expect((samples["mprefd_poll_latency_seconds_sum"] ?? -1) >= 0)

        // Tokens by state, every state present.
        #expect(samples["mprefd_tokens{state=\"complete\"}"] == 1)
        #expect(samples["mprefd_tokens{state=\"failed\"}"] == 1)
        #expect(samples["mprefd_tokens{state=\"watching\"}"] == 2)
        #expect(samples["mprefd_tokens{state=\"expired\"}"] == 0)

        // The host pause: at most 300 s left, and most of it (generous margin for a slow machine).
        let pause = try #require(
            samples["mprefd_host_pause_seconds{host=\"http://127.0.0.1:\(simulator.port)\"}"], "\(body)")
        #expect(pause > 200 && pause <= 300)

        // Hook runs by result and their durations.
        #expect(samples["mprefd_hook_runs_total{result=\"succeeded\"}"] == 1)
        #expect(samples["mprefd_hook_runs_total{result=\"dead\"}"] == 1)
        #expect(samples["mprefd_hook_duration_seconds_count"] == 2)
        #expect(samples["mprefd_hook_duration_seconds_bucket{le=\"+Inf\"}"] == 2)
        #expect(
            samples.keys.contains("mprefd_hook_duration_seconds_bucket{le=\"600.0\"}"),
            "hook buckets reach hooks.timeout_s")

        // A second scrape after `mprefd remove` shows the gauge read fresh from the database.
        let remove = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["remove", "--config", configPath, "2"], environment: environment,
            in: directory, timeout: .seconds(120))
        #expect(remove.status == 0, "remove: \(remove.stderr)")
        let again = try await Self.scrape(port: metricsPort)
        #expect(again["mprefd_tokens{state=\"watching\"}"] == 1)
        #expect(again["mprefd_tokens{state=\"removed\"}"] == 1)

        #expect(await daemon.stop() == 0, "mprefd run after SIGTERM: \(daemon.stderr.suffix(2000))")
    }

    @Test func noEndpointUnlessConfigured() async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-metrics-off")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["check-config", "--config", BuiltBinaries.path("etc/mprefd.yaml.example")],
            environment: PackagingTools.cleanEnvironment(), in: directory, timeout: .seconds(120))
        #expect(result.status == 0)
        #expect(result.stdout.contains("listen: \"\""))
        // ":PORT" means loopback.
        let loopback = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["check-config", "--config", BuiltBinaries.path("etc/mprefd.yaml.example")],
            environment: PackagingTools.cleanEnvironment().merging(["MPREFD_METRICS_LISTEN": ":9464"]) { $1 },
            in: directory, timeout: .seconds(120))
        #expect(loopback.status == 0, "\(loopback.stderr)")
        #expect(loopback.stdout.contains("9464"))
    }

    static func scrape(port: Int) async throws -> [String: Double] {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let response = try await client.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 4 << 20))
            try await client.shutdown()
            return parse(body)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
