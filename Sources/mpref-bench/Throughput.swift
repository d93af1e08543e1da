import MprefCore
import AsyncHTTPClient
import Foundation
import GRDB
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import NIOCore
import Synchronization
import NIOHTTP1

/// Benchmark 1: polls per second with durable history, as a ratio to raw AsyncHTTPClient GETs per
/// second against the same fixed-answer server at the same concurrency, all in one run.
///
/// Each run measures, in order: raw client, `MyPreferencesClient.status` (HTTP + decoding, no
/// persistence), the daemon (every poll committed to `polls` and `tokens`), raw client again. The
/// ratio divides by the mean of the two raw phases, so drift of the shared machine within the
/// run mostly cancels.
enum Throughput {
    struct Phase {
        var rate: Double
        var serverCPU: Double  // cores
        var selfCPU: Double  // cores
    }

    static func run(_ options: Options) async throws {
        let concurrency = options.concurrency ?? 64
        let seconds = options.seconds ?? 8
        let tokens = options.tokens ?? 2000
        let server = try ServerProcess(threads: options.serverThreads ?? 1)
        defer { server.stop() }
        Bench.note(
            "throughput: server pid \(server.pid) port \(server.port); \(tokens) tokens, \(concurrency) in flight, \(seconds) s per phase"
        )

        if options.only == "daemon" {
            // For profiling (`perf record -p PID`): the daemon phase alone.
            let phase = try await daemonPhase(
                baseURL: server.baseURL, tokens: tokens, concurrency: concurrency, seconds: seconds,
                serverPID: server.pid, run: 0, probe: options.probe)
            print(
                String(
                    format: "mprefd durable: %.0f polls/s, server CPU %.2f, bench CPU %.2f", phase.rate,
                    phase.serverCPU, phase.selfCPU))
            return
        }
        if options.only == "client" {
            let phase = try await statusClient(
                baseURL: server.baseURL, concurrency: concurrency, seconds: seconds, serverPID: server.pid)
            print(
                String(
                    format: "MyPreferencesClient: %.0f polls/s, server CPU %.2f, bench CPU %.2f", phase.rate,
                    phase.serverCPU, phase.selfCPU))
            return
        }
        if options.only == "raw" {
            let phase = try await rawClient(
                url: server.baseURL + "/Async/BENCH/Export/123/Status", concurrency: concurrency, seconds: seconds,
                serverPID: server.pid)
            print(
                String(
                    format: "raw: %.0f GETs/s, server CPU %.2f, bench CPU %.2f", phase.rate, phase.serverCPU,
                    phase.selfCPU))
            return
        }
        print("## 1. Throughput with durable history\n")
        print(
            "\(tokens) tokens always answering `Processing`; \(concurrency) requests in flight in every phase; \(Int(seconds)) s per phase after 1 s warm-up; fixed-answer NIO server in its own process (1 event loop).\n"
        )
        print(
            "| run | raw AHC GETs/s (before / after) | MyPreferencesClient polls/s (no DB) | **mprefd durable polls/s** | **ratio to raw** | server CPU (cores) in raw / mprefd phase | bench process CPU (cores) in mprefd phase |"
        )
        print("|---|---|---|---|---|---|---|")
        fflush(nil)
        var durable: [Double] = [], ratios: [Double] = [], raws: [Double] = [], clients: [Double] = []
        for run in 1...options.runs {
            let url = server.baseURL + "/Async/BENCH/Export/123/Status"
            let raw1 = try await rawClient(url: url, concurrency: concurrency, seconds: seconds, serverPID: server.pid)
            let client = try await statusClient(
                baseURL: server.baseURL, concurrency: concurrency, seconds: seconds, serverPID: server.pid)
            let daemon = try await daemonPhase(
                baseURL: server.baseURL, tokens: tokens, concurrency: concurrency, seconds: seconds,
                serverPID: server.pid, run: run)
            let raw2 = try await rawClient(url: url, concurrency: concurrency, seconds: seconds, serverPID: server.pid)
            let rawMean = (raw1.rate + raw2.rate) / 2
            let ratio = daemon.rate / rawMean
            durable.append(daemon.rate); ratios.append(ratio * 100); raws.append(rawMean); clients.append(client.rate)
            print(
                String(
                    format: "| %d | %.0f / %.0f | %.0f | %.0f | %.1f %% | %.2f / %.2f | %.2f |",
                    run, raw1.rate, raw2.rate, client.rate, daemon.rate, ratio * 100, raw1.serverCPU, daemon.serverCPU,
                    daemon.selfCPU))
            fflush(nil)
        }
        print(
            "\n**Median (range) over \(options.runs) runs:** raw AHC \(Bench.summary(raws, digits: 0)) GETs/s · MyPreferencesClient \(Bench.summary(clients, digits: 0)) polls/s · mprefd durable \(Bench.summary(durable, digits: 0)) polls/s · ratio \(Bench.summary(ratios)) % (targets: ≥ 80 %, ≥ 10,000 polls/s).\n"
        )
        fflush(nil)
    }

    /// Runs `body` on `concurrency` tasks until the phase ends; returns completed operations per second
    /// over the measured window, and the CPU (cores) of the server and of this process meanwhile.
    static func measure(
        concurrency: Int, seconds: Double, serverPID: Int32,
        _ body: @escaping @Sendable () async -> Void
    ) async -> Phase {
        let counters = PhaseCounters()
        return await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while !counters.stop.load(ordering: .relaxed) {
                        await body()
                        counters.done.add(1, ordering: .relaxed)
                    }
                }
            }
            try? await Task.sleep(for: .seconds(1))
            let (c0, t0, s0, p0) = (
                counters.done.load(ordering: .relaxed), Bench.monotonicSeconds(), Bench.cpuSeconds(pid: serverPID),
                Bench.processCPUSeconds()
            )
            try? await Task.sleep(for: .seconds(seconds))
            let (c1, t1, s1, p1) = (
                counters.done.load(ordering: .relaxed), Bench.monotonicSeconds(), Bench.cpuSeconds(pid: serverPID),
                Bench.processCPUSeconds()
            )
            counters.stop.store(true, ordering: .relaxed)
            await group.waitForAll()
            let dt = t1 - t0
            return Phase(rate: Double(c1 - c0) / dt, serverCPU: (s1 - s0) / dt, selfCPU: (p1 - p0) / dt)
        }
    }

    /// Raw AsyncHTTPClient: GET, collect the body, nothing else.
    static func rawClient(url: String, concurrency: Int, seconds: Double, serverPID: Int32) async throws -> Phase {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = concurrency
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let phase = await measure(concurrency: concurrency, seconds: seconds, serverPID: serverPID) {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "application/json")
            do {
                let response = try await client.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 65_536)
            } catch {
                Bench.note("raw GET failed: \(error)")
            }
        }
        try await client.shutdown()
        Bench.note(String(format: "raw AHC: %.0f GETs/s", phase.rate))
        return phase
    }

    /// `MyPreferencesClient.status(of:)`: request building, the whole-request timer, decoding; no database.
    static func statusClient(baseURL: String, concurrency: Int, seconds: Double, serverPID: Int32) async throws -> Phase
    {
        var logger = benchLogger("bench.client")
        logger.logLevel = .info
        let client = try MyPreferencesClient(
            configuration: DaemonHarness.account(baseURL: baseURL), logger: logger, maxConnectionsPerHost: concurrency)
        let phase = await measure(concurrency: concurrency, seconds: seconds, serverPID: serverPID) {
            _ = await client.status(of: 123)
        }
        try await client.shutdown()
        Bench.note(String(format: "MyPreferencesClient: %.0f polls/s", phase.rate))
        return phase
    }

    /// The daemon, every poll committed: polls/s = rows appended to `polls` per second of the window.
    static func daemonPhase(
        baseURL: String, tokens: Int, concurrency: Int, seconds: Double, serverPID: Int32, run: Int, probe: Bool = false
    ) async throws -> Phase {
        let dir = try Bench.freshDirectory("throughput-\(run)")
        let path = dir + "/mprefd.sqlite3"
        try Seeder.seedInChild(db: path, tokens: tokens, firstDue: Date().timeIntervalSince1970, rate: 0)
        let database = try TokenDatabase(path: path, mode: .readWrite)
        var polling = PollingConfiguration()
        polling.initialDelay = .milliseconds(1)
        polling.maxDelay = .milliseconds(1)
        polling.multiplier = 1
        polling.deadline = nil
        polling.maxInFlight = concurrency
        polling.maxRequestsPerSecondPerHost = 1_000_000
        let configuration = WorkerConfiguration(
            accounts: [try DaemonHarness.clientID(): try DaemonHarness.account(baseURL: baseURL)], polling: polling,
            databasePath: path)
        let logger = benchLogger("mprefd")
        // With `--probe`, a timing wrapper in front of a client built like the daemon's own tells how
        // long the HTTP part of each poll takes inside the daemon (diagnosis, not the reported figure).
        var sources: [ClientID: any StatusSource]? = nil
        var timing: TimingSource? = nil
        if probe {
            let client = try MyPreferencesClient(
                configuration: DaemonHarness.account(baseURL: baseURL), logger: logger,
                maxConnectionsPerHost: concurrency)
            let t = TimingSource(inner: client)
            timing = t
            sources = [try DaemonHarness.clientID(): t]
        }
        let phase = try await DaemonHarness.withDaemon(
            configuration: configuration, database: database, logger: logger, sources: sources
        ) {
            try await Task.sleep(for: .seconds(1.5))
            let (r0, t0, s0, p0) = (
                try await Bench.pollRowCount(database), Bench.monotonicSeconds(), Bench.cpuSeconds(pid: serverPID),
                Bench.processCPUSeconds()
            )
            try await Task.sleep(for: .seconds(seconds))
            let (r1, t1, s1, p1) = (
                try await Bench.pollRowCount(database), Bench.monotonicSeconds(), Bench.cpuSeconds(pid: serverPID),
                Bench.processCPUSeconds()
            )
            let dt = t1 - t0
            return Phase(rate: Double(r1 - r0) / dt, serverCPU: (s1 - s0) / dt, selfCPU: (p1 - p0) / dt)
        }
        if let timing {
            try await timing.inner.shutdown()
            Bench.note(timing.report())
        }
        // Every poll row has its token row updated in the same transaction: check the two agree.
        let (rows, attempts) = try database.read { db in
            (
                try Int64.fetchOne(db, sql: "SELECT count(*) FROM polls") ?? 0,
                try Int64.fetchOne(db, sql: "SELECT sum(attempt) FROM tokens") ?? 0
            )
        }
        if rows != attempts { Bench.note("WARNING: polls rows \(rows) ≠ sum(tokens.attempt) \(attempts)") }
        Bench.note(
            String(
                format: "mprefd durable: %.0f polls/s (%lld rows in all, sum(attempt) %lld)", phase.rate, rows, attempts
            ))
        return phase
    }
}

/// Measures the time spent inside the status source (the HTTP exchange and decoding) per poll.
final class TimingSource: StatusSource {
    let inner: MyPreferencesClient
    private let totals = Mutex<(count: Int, seconds: Double, concurrent: Int, concurrentSum: Int)>((0, 0, 0, 0))

    init(inner: MyPreferencesClient) { self.inner = inner }

    func status(of accessToken: AccessToken) async -> PollResult {
        let t0 = Bench.monotonicSeconds()
        totals.withLock {
            $0.concurrent += 1; $0.concurrentSum += $0.concurrent
        }
        let result = await inner.status(of: accessToken)
        let dt = Bench.monotonicSeconds() - t0
        totals.withLock {
            $0.count += 1; $0.seconds += dt; $0.concurrent -= 1
        }
        return result
    }

    func report() -> String {
        let t = totals.withLock { $0 }
        return String(
            format: "inside the source: %d polls, mean %.2f ms, mean concurrency at start %.1f", t.count,
            t.seconds / Double(max(t.count, 1)) * 1000, Double(t.concurrentSum) / Double(max(t.count, 1)))
    }
}
