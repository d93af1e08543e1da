import MprefCore
import Foundation
import GRDB
import Logging
import MprefStore
import MprefWorker
import MyPreferences
import ServiceLifecycle
import Synchronization

/// Benchmark 5: terminal poll committed → hook process started.
///
/// The worker's parts are wired exactly as `Daemon.run` wires them (`PollRecorder`, `PollingService`,
/// `HookService`), with two observation points and no change to the worker:
/// - *committed*: `PollingService` calls `onHookRunsQueued` right after a recorder transaction that
///   queued hook runs has committed; the bench's closure notes the time, then wakes the hook queue
///   as the daemon's does. A terminal poll is credited with the first such call after its answer
///   arrived — at or before its own commit, so the figure is an upper bound.
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

        func status(of accessToken: AccessToken) async -> PollResult {
            let result = await inner.status(of: accessToken)
            if accessToken.value >= completeFrom {
                let now = Bench.monotonicSeconds()
                state.withLock {
                    $0.answeredAt[accessToken.value] = now
                    $0.pending.append(accessToken.value)
                }
            }
            return result
        }

        /// `onHookRunsQueued`: the batch holding the pending terminal poll has committed.
        func committed() {
            let now = Bench.monotonicSeconds()
            state.withLock { s in
                guard !s.pending.isEmpty else { return }
                // The first commit callback after a terminal answer: at or before that poll's own
                // commit, so the latency measured from it is an upper bound.
                if s.pending.count > 1 { s.ambiguous += s.pending.count }
                for token in s.pending { s.committedAt[token] = now }
                s.pending.removeAll()
            }
        }
    }

    static func run(_ options: Options) async throws {
        if let resultFile = options.resultFile { return try await runOne(options, resultFile: resultFile) }
        let terminal = options.terminal ?? 200
        print("## 5. Hook latency: terminal poll committed → hook process started\n")
        print(
            "\(terminal) tokens reach `Complete` 50 ms apart, each with its own hook (`: hook-for TOKEN`, `/bin/sh -c`), beside 1,000 tokens polled at 500 polls/s; `hooks.concurrency` 4 (default). Worker parts wired as `Daemon.run` wires them; fresh process per run.\n"
        )
        print(
            "| run | hooks measured | committed → started p50 / p99 / max | answer received → started p50 / p99 | answers sharing a commit callback | committed → claimed p50 / p99 | claimed → spawned p50 / p99 |"
        )
        print("|---|---|---|---|---|---|---|")
        fflush(nil)
        var p50s: [Double] = [], p99s: [Double] = []
        for run in 1...options.runs {
            let r = try Child.run(["hooks", "--terminal", String(terminal), "--run", String(run)])
            let v = { (k: String) in r[k] ?? .nan }
            p50s.append(v("p50")); p99s.append(v("p99"))
            print(
                String(
                    format:
                        "| %d | %.0f | %.1f / %.1f / %.1f ms | %.1f / %.1f ms | %.0f | %.1f / %.1f ms | %.1f / %.1f ms |",
                    run, v("count"), v("p50"), v("p99"), v("max"), v("r50"), v("r99"), v("ambiguous"),
                    v("claim50"), v("claim99"), v("spawn50"), v("spawn99")))
            fflush(nil)
        }
        print(
            "\n**Median (range):** committed → hook started p50 \(Bench.summary(p50s)) ms, p99 \(Bench.summary(p99s)) ms (target p99 < 50 ms).\n"
        )
        fflush(nil)
    }

    static func runOne(_ options: Options, resultFile: String) async throws {
        let terminal = options.terminal ?? 200
        let run = options.run ?? 1
        let completeFrom: Int64 = 1_000_001
        let server = try ServerProcess(completeFrom: completeFrom)
        defer { server.stop() }
        let dir = try Bench.freshDirectory("hooks-\(run)")
        let path = dir + "/mprefd.sqlite3"
        let start = Date().timeIntervalSince1970 + 3
        let background = options.background ?? 1000
        if background > 0 {
            try Seeder.seedInChild(db: path, tokens: background, firstDue: start - 2, rate: Double(background) / 2)
        }
        try Seeder.seedInChild(
            db: path, tokens: terminal, firstDue: start, rate: 20, firstToken: completeFrom, hooks: true)
        let database = try TokenDatabase(path: path, mode: .readWrite)

        var polling = PollingConfiguration()
        polling.initialDelay = .seconds(2)
        // multiplier 1: every delay is initialDelay. maxDelay also clamps the `next_poll_at` loaded at
        // start, so it must exceed the spread of the terminal tokens' due times, or they all come due at once.
        polling.maxDelay = .seconds(60)
        polling.multiplier = 1
        polling.deadline = nil
        polling.maxRequestsPerSecondPerHost = 2000
        let hookConfiguration = HookConfiguration()
        let account = try DaemonHarness.account(baseURL: server.baseURL)
        let logger = benchLogger("mprefd")
        let sink = CapturingLogHandler.Sink(wanted: ["Hook started", "hook started"])
        var hookLogger = Logger(label: "mprefd.hooks") { _ in CapturingLogHandler(sink: sink, logLevel: .debug) }
        hookLogger.logLevel = .debug
        let client = try MyPreferencesClient(
            configuration: account, logger: logger, maxConnectionsPerHost: polling.maxInFlight)
        let probe = Probe(inner: client, completeFrom: completeFrom)
        _ = HookProcessRunner.becomeSubreaper()

        let hooks = HookService(
            database: DaemonStore(database), configuration: hookConfiguration, databasePath: path, logger: hookLogger,
            clock: ContinuousClock())
        let recorder = PollRecorder(database: DaemonStore(database), hooks: hookConfiguration, logger: logger)
        let pollingService = PollingService(
            database: DaemonStore(database),
            targets: [
                try DaemonHarness.clientID(): PollTarget(source: probe, hostKey: PollTarget.hostKey(of: server.baseURL))
            ],
            configuration: polling, recorder: recorder, logger: logger,
            onHookRunsQueued: {
                probe.committed(); hooks.wake()
            }, clock: ContinuousClock())
        let runFor = 3 + Double(terminal) / 20 + 2
        let group = ServiceGroup(services: [hooks, recorder, pollingService], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .seconds(runFor))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()

        let s = probe.state.withLock { $0 }
        var started: [Int64: Double] = [:], claimed: [Int64: Double] = [:]
        for entry in sink.all {
            // HookService's "hook started" (info): the run is claimed, the process is about to be spawned.
            if entry.message == "hook started", let token = entry.metadata["export.access_token"].flatMap({ Int64($0) })
            {
                claimed[token] = claimed[token] ?? entry.at
                continue
            }
            if let command = entry.metadata["hook.command"], let token = Int64(command.split(separator: " ").last ?? "")
            {
                started[token] = started[token] ?? entry.at
            }
        }
        var fromCommit: [Double] = [], fromAnswer: [Double] = []
        for (token, at) in started {
            if let c = s.committedAt[token] { fromCommit.append((at - c) * 1000) }
            if let a = s.answeredAt[token] { fromAnswer.append((at - a) * 1000) }
        }
        fromCommit.sort(); fromAnswer.sort()
        var toClaim: [Double] = [], toSpawn: [Double] = []
        for (token, at) in claimed {
            if let c = s.committedAt[token] { toClaim.append((at - c) * 1000) }
            if let spawned = started[token] { toSpawn.append((spawned - at) * 1000) }
        }
        toClaim.sort(); toSpawn.sort()
        let succeeded = try database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_runs WHERE state = 'succeeded'") ?? 0
        }
        Bench.note(
            "hooks: \(started.count) started, \(succeeded) succeeded, \(fromCommit.count) attributed, \(s.ambiguous) ambiguous"
        )
        try Child.write(
            [
                "count": Double(fromCommit.count), "p50": Bench.percentile(fromCommit, 50),
                "p99": Bench.percentile(fromCommit, 99),
                "max": fromCommit.last ?? .nan, "r50": Bench.percentile(fromAnswer, 50),
                "r99": Bench.percentile(fromAnswer, 99),
                "ambiguous": Double(s.ambiguous), "succeeded": Double(succeeded),
                "claim50": Bench.percentile(toClaim, 50), "claim99": Bench.percentile(toClaim, 99),
                "spawn50": Bench.percentile(toSpawn, 50), "spawn99": Bench.percentile(toSpawn, 99),
            ], to: resultFile)
    }
}
