import Foundation
import GRDB
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import Synchronization

/// Benchmark 5: terminal poll committed → hook process started.
///
/// The worker's parts are wired exactly as `Daemon.run` wires them (`PollRecorder`, `PollingService`,
/// `HookService`), with two observation points and no change to the worker:
/// - *committed*: `PollingService` calls `onHookRunsQueued` right after the recorder's transaction
///   that queued the hook run has committed; the bench's closure notes the time, then wakes the
///   hook queue as the daemon's does. Terminal polls are 50 ms apart, so each such call belongs to
///   the one terminal poll whose answer arrived just before (ambiguous calls are counted and dropped).
/// - *started*: the hook runner's `Hook started` debug line, logged right after `posix_spawn`
///   returned the hook's PID; each token has its own hook command (`: hook-for TOKEN`), which names it.
/// Background: 1,000 tokens answering `Processing` at 500 polls/s, so commits are real batches.
enum HookLatency {
    final class Probe: StatusSource {
        let inner: MyPreferencesClient
        let completeFrom: Int64
        struct State {
            var answeredAt: [Int64: Double] = [:]
            var pending: [Int64] = []
            var committedAt: [Int64: Double] = [:]
            var ambiguous = 0
        }
        let state = Mutex(State())

        init(inner: MyPreferencesClient, completeFrom: Int64) {
            self.inner = inner
            self.completeFrom = completeFrom
        }

        func status(of accessToken: Int64) async -> PollResult {
            let result = await inner.status(of: accessToken)
            if accessToken >= completeFrom {
                let now = Bench.monotonicSeconds()
                state.withLock {
                    $0.answeredAt[accessToken] = now
                    $0.pending.append(accessToken)
                }
            }
            return result
        }

        /// `onHookRunsQueued`: the batch holding the pending terminal poll has committed.
        func committed() {
            let now = Bench.monotonicSeconds()
            state.withLock { s in
                guard !s.pending.isEmpty else { return }
                if s.pending.count == 1 {
                    s.committedAt[s.pending[0]] = now
                } else {
                    s.ambiguous += s.pending.count
                }
                s.pending.removeAll()
            }
        }
    }

    static func run(_ options: Options) async throws {
        if let resultFile = options.string("result-file") { return try await runOne(options, resultFile: resultFile) }
        let terminal = options.int("terminal") ?? 200
        print("## 5. Hook latency: terminal poll committed → hook process started\n")
        print("\(terminal) tokens reach `Complete` 50 ms apart, each with its own hook (`: hook-for TOKEN`, `/bin/sh -c`), beside 1,000 tokens polled at 500 polls/s; `hooks.concurrency` 4 (default). Worker parts wired as `Daemon.run` wires them; fresh process per run.\n")
        print("| run | hooks measured | committed → started p50 / p99 / max | answer received → started p50 / p99 | ambiguous (dropped) |")
        print("|---|---|---|---|---|")
        fflush(nil)
        var p50s: [Double] = [], p99s: [Double] = []
        for run in 1...options.runs {
            let r = try Child.run(["hooks", "--terminal", String(terminal), "--run", String(run)])
            let v = { (k: String) in r[k] ?? .nan }
            p50s.append(v("p50")); p99s.append(v("p99"))
            print(String(format: "| %d | %.0f | %.1f / %.1f / %.1f ms | %.1f / %.1f ms | %.0f |", run, v("count"), v("p50"), v("p99"), v("max"), v("r50"), v("r99"), v("ambiguous")))
            fflush(nil)
        }
        print("\n**Median (range):** committed → hook started p50 \(Bench.summary(p50s)) ms, p99 \(Bench.summary(p99s)) ms (target p99 < 50 ms).\n")
        fflush(nil)
    }

    static func runOne(_ options: Options, resultFile: String) async throws {
        let terminal = options.int("terminal") ?? 200
        let run = options.int("run") ?? 1
        let completeFrom: Int64 = 1_000_001
        let server = try ServerProcess(completeFrom: completeFrom)
        defer { server.stop() }
        let dir = try Bench.freshDirectory("hooks-\(run)")
        let path = dir + "/mprefd.sqlite3"
        let start = Date().timeIntervalSince1970 + 3
        try Seeder.seedInChild(db: path, tokens: 1000, firstDue: start - 2, rate: 500)
        try Seeder.seedInChild(db: path, tokens: terminal, firstDue: start, rate: 20, firstToken: completeFrom, hooks: true)
        let database = try TokenDatabase(path: path, mode: .readWrite)

        var polling = PollingConfiguration()
        polling.initialDelay = .seconds(2)
        polling.maxDelay = .seconds(2)
        polling.multiplier = 1
        polling.deadline = nil
        polling.maxRequestsPerSecondPerHost = 2000
        let hookConfiguration = HookConfiguration()
        let account = DaemonHarness.account(baseURL: server.baseURL)
        let logger = benchLogger("mprefd")
        let sink = CapturingLogHandler.Sink(wanted: ["Hook started"])
        var hookLogger = Logger(label: "mprefd.hooks") { _ in CapturingLogHandler(sink: sink, logLevel: .debug) }
        hookLogger.logLevel = .debug
        let client = try MyPreferencesClient(configuration: account, logger: logger, maxConnectionsPerHost: polling.maxInFlight)
        let probe = Probe(inner: client, completeFrom: completeFrom)
        _ = HookProcessRunner.becomeSubreaper()

        let hooks = HookService(database: database, configuration: hookConfiguration, databasePath: path, logger: hookLogger)
        let recorder = PollRecorder(database: database, hooks: hookConfiguration, logger: logger)
        let pollingService = PollingService(
            database: database, targets: ["BENCH": PollTarget(source: probe, hostKey: PollTarget.hostKey(of: server.baseURL))],
            configuration: polling, recorder: recorder, logger: logger,
            onHookRunsQueued: { probe.committed(); hooks.wake() })
        let runFor = 3 + Double(terminal) / 20 + 2
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pollingService.run() }
            group.addTask { try await hooks.run() }
            try await Task.sleep(for: .seconds(runFor))
            pollingService.requestShutdown()
            hooks.requestShutdown()
            try await group.waitForAll()
        }
        try await client.shutdown()

        let s = probe.state.withLock { $0 }
        var started: [Int64: Double] = [:]
        for entry in sink.all {
            if let command = entry.metadata["hook.command"], let token = Int64(command.split(separator: " ").last ?? "") {
                started[token] = started[token] ?? entry.at
            }
        }
        var fromCommit: [Double] = [], fromAnswer: [Double] = []
        for (token, at) in started {
            if let c = s.committedAt[token] { fromCommit.append((at - c) * 1000) }
            if let a = s.answeredAt[token] { fromAnswer.append((at - a) * 1000) }
        }
        fromCommit.sort(); fromAnswer.sort()
        let succeeded = try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") ?? 0 }
        Bench.note("hooks: \(started.count) started, \(succeeded) succeeded, \(fromCommit.count) attributed, \(s.ambiguous) ambiguous")
        try Child.write([
            "count": Double(fromCommit.count), "p50": Bench.percentile(fromCommit, 50), "p99": Bench.percentile(fromCommit, 99),
            "max": fromCommit.last ?? .nan, "r50": Bench.percentile(fromAnswer, 50), "r99": Bench.percentile(fromAnswer, 99),
            "ambiguous": Double(s.ambiguous), "succeeded": Double(succeeded),
        ], to: resultFile)
    }
}
