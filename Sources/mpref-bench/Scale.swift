import MprefCore
import Foundation
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import Synchronization

/// Benchmark 2: 100,000 watched tokens at a demand of 1,500 polls/s: RSS, start → first poll, and
/// scheduling lateness (when the poll was actually sent − its planned `next_poll_at`).
///
/// The database is seeded by a child process with token i (0-based) due at B + i/1500 s; the
/// daemon (real `Daemon`, real `MyPreferencesClient`, real database file) starts at B, so token 0
/// is due the moment it starts and the rest keep a steady 1,500 polls/s coming due. The backoff is
/// fixed at 100,000/1,500 s, so within the measured window every poll is a token's first poll and
/// its planned time is known exactly. The actual time is taken by a `StatusSource` wrapper in front
/// of the real client: the moment the scheduler asks for the status.
enum Scale {
    /// Records when each token is first polled (wall clock) and when the first poll of all happened.
    final class Probe: StatusSource {
        let inner: MyPreferencesClient
        let firstPolledAt: Mutex<[Double]>
        let firstPollMonotonic = Mutex<Double?>(nil)
        let polls = Atomic<Int>(0)

        init(inner: MyPreferencesClient, tokens: Int) {
            self.inner = inner
            firstPolledAt = Mutex([Double](repeating: .nan, count: tokens))
        }

        func status(of accessToken: AccessToken) async -> PollResult {
            let wall = Date().timeIntervalSince1970
            let mono = Bench.monotonicSeconds()
            firstPollMonotonic.withLock { if $0 == nil { $0 = mono } }
            let index = Int(accessToken.value - 1)
            firstPolledAt.withLock { if index >= 0, index < $0.count, $0[index].isNaN { $0[index] = wall } }
            polls.add(1, ordering: .relaxed)
            return await inner.status(of: accessToken)
        }
    }

    static func run(_ options: Options) async throws {
        if let resultFile = options.resultFile { return try await runOne(options, resultFile: resultFile) }
        let tokens = options.tokens ?? 100_000
        let demand = options.demand ?? 1500
        let seconds = options.seconds ?? 40
        Bench.note("scale: \(tokens) tokens, \(demand) polls/s demand, \(seconds) s per run")
        print("## 2. Scale: \(tokens) watched tokens, \(Int(demand)) polls/s demand\n")
        print(
            "Real `Daemon` + `MyPreferencesClient` + database file in a fresh process per run; database seeded by another process; `polling.max_requests_per_second_per_host` = 2,000 (the default 50 would pace 1,500/s down to 50/s); backoff fixed at \(Int(Double(tokens) / demand)) s so every poll in the \(Int(seconds)) s window is a first poll with a known plan. Lateness = send time − planned `next_poll_at`; *steady* = polls planned ≥ 5 s after start, *all* includes the start-up backlog. RSS is that process's (daemon + a 0.8 MB probe array; the server is another process).\n"
        )
        print(
            "| run | start → first poll | RSS before start | RSS at end (VmRSS) | peak (VmHWM) | lateness p50 / p99 / max, steady | lateness p50 / p99 / max, all | polls planned in window | process CPU (cores), steady |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        fflush(nil)
        var firsts: [Double] = [], rsss: [Double] = [], hwms: [Double] = [], p50s: [Double] = [], p99s: [Double] = [],
            allP99s: [Double] = []
        for run in 1...options.runs {
            let r = try Child.run([
                "scale", "--tokens", String(tokens), "--demand", String(demand), "--seconds", String(seconds), "--run",
                String(run),
            ])
            let v = { (k: String) in r[k] ?? .nan }
            firsts.append(v("first")); rsss.append(v("rss")); hwms.append(v("hwm")); p50s.append(v("p50"));
            p99s.append(v("p99")); allP99s.append(v("a99"))
            print(
                String(
                    format:
                        "| %d | %.0f ms | %.1f MiB | %.1f MiB | %.1f MiB | %.1f / %.1f / %.1f ms | %.1f / %.1f / %.1f ms | %.0f | %.2f |",
                    run, v("first"), v("rssBefore"), v("rss"), v("hwm"), v("p50"), v("p99"), v("max"), v("a50"),
                    v("a99"), v("amax"), v("count"), v("cpu")))
            fflush(nil)
        }
        print(
            "\n**Median (range) over \(options.runs) runs:** start → first poll \(Bench.summary(firsts, digits: 0)) ms (target < 2,000) · RSS \(Bench.summary(rsss)) MiB, peak \(Bench.summary(hwms)) MiB (target < 150 MB) · steady lateness p50 \(Bench.summary(p50s)) ms, p99 \(Bench.summary(p99s)) ms (target p99 < 250 ms) · p99 including start-up \(Bench.summary(allP99s)) ms.\n"
        )
        fflush(nil)
    }

    static func runOne(_ options: Options, resultFile: String) async throws {
        let tokens = options.tokens ?? 100_000
        let demand = options.demand ?? 1500
        let seconds = options.seconds ?? 40
        let run = options.run ?? 1
        let server = try ServerProcess()
        defer { server.stop() }
        do {
            let dir = try Bench.freshDirectory("scale-\(run)")
            let path = dir + "/mprefd.sqlite3"
            let start = Date().timeIntervalSince1970 + 6
            let seedStart = Bench.monotonicSeconds()
            try Seeder.seedInChild(db: path, tokens: tokens, firstDue: start, rate: demand)
            Bench.note(String(format: "seeded %d tokens in %.1f s", tokens, Bench.monotonicSeconds() - seedStart))
            let wait = start - Date().timeIntervalSince1970
            guard wait > 0 else { throw BenchError("seeding took longer than 6 s; cannot start on time") }
            try await Task.sleep(for: .seconds(wait))
            let rssBefore = Bench.statusMiB("VmRSS")
            // Start: open the database (as `mprefd run` does), then the daemon.
            let t0 = Bench.monotonicSeconds()
            let database = try TokenDatabase(path: path, mode: .readWrite)
            var polling = PollingConfiguration()
            let period = Duration.seconds(Double(tokens) / demand)
            polling.initialDelay = period
            polling.maxDelay = period
            polling.multiplier = 1
            polling.deadline = nil
            polling.maxRequestsPerSecondPerHost = 2000
            let account = try DaemonHarness.account(baseURL: server.baseURL)
            let logger = benchLogger("mprefd")
            let client = try MyPreferencesClient(
                configuration: account, logger: logger, maxConnectionsPerHost: polling.maxInFlight)
            let probe = Probe(inner: client, tokens: tokens)
            let configuration = WorkerConfiguration(
                accounts: [try DaemonHarness.clientID(): account], polling: polling, databasePath: path)
            let (cpu, rssEnd, hwm) = try await DaemonHarness.withDaemon(
                configuration: configuration, database: database, logger: logger,
                sources: [try DaemonHarness.clientID(): probe]
            ) {
                try await Task.sleep(for: .seconds(5))
                let c0 = Bench.processCPUSeconds(), m0 = Bench.monotonicSeconds()
                try await Task.sleep(for: .seconds(seconds - 5))
                let cpu = (Bench.processCPUSeconds() - c0) / (Bench.monotonicSeconds() - m0)
                return (cpu, Bench.statusMiB("VmRSS"), Bench.statusMiB("VmHWM"))
            }
            try await client.shutdown()
            let first = (probe.firstPollMonotonic.withLock { $0 } ?? .nan) - t0
            let actual = probe.firstPolledAt.withLock { $0 }
            var steady: [Double] = [], everything: [Double] = []
            let lastPlanned = seconds - 2
            for (i, at) in actual.enumerated() {
                let offset = Double(i) / demand
                guard offset <= lastPlanned else { break }
                // A poll planned inside the window but never sent counts as late by the whole window.
                let lateness = at.isNaN ? (seconds - offset) : at - (start + offset)
                everything.append(lateness * 1000)
                if offset >= 5 { steady.append(lateness * 1000) }
            }
            steady.sort(); everything.sort()
            let (p50, p99, mx) = (Bench.percentile(steady, 50), Bench.percentile(steady, 99), steady.last ?? .nan)
            let (a50, a99, amx) = (
                Bench.percentile(everything, 50), Bench.percentile(everything, 99), everything.last ?? .nan
            )
            try Child.write(
                [
                    "first": first * 1000, "rssBefore": rssBefore, "rss": rssEnd, "hwm": hwm, "p50": p50, "p99": p99,
                    "max": mx,
                    "a50": a50, "a99": a99, "amax": amx, "count": Double(everything.count), "cpu": cpu,
                ], to: resultFile)
        }
    }
}
