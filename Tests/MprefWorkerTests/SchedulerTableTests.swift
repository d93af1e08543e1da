import Foundation
import Logging
import MprefCore
import MprefStore
import MprefTestSupport
import MyPreferences
import ServiceLifecycle
import Synchronization
import Testing

@testable import MprefWorker

/// The scheduler in process on a manual clock (issue 13 §3): the real `PollingService` and
/// `PollRecorder` over a real SQLite file, with scripted answers. Each table row says how far the
/// clock moves to the scheduler's next wake and which access tokens are polled there; the test
/// waits on events (the scheduler's sleep, its log line for each poll), never on real time.
@Suite struct SchedulerTableTests {
    /// One row: the scheduler's next wake is `after` the previous row's, and exactly `polled` are
    /// polled there (none: it wakes for a due token that a pause holds, and moves it to the end).
    struct Step: CustomStringConvertible {
        var after: Duration
        var polled: Set<AccessToken>
        var description: String { "+\(after) → \(polled.sorted())" }
    }

    /// Answers from a per-token script (then `Processing` for ever); notes what was polled.
    final class ScriptedSource: StatusSource {
        private let script: Mutex<[AccessToken: [PollResult]]>
        let polled = Mutex<[AccessToken]>([])

        init(_ script: [AccessToken: [RequestOutcome<ExportStatus>]]) {
            self.script = Mutex(
                script.mapValues { outcomes in
                    outcomes.map { PollResult(outcome: $0, httpStatus: Self.httpStatus($0), latency: .zero) }
                })
        }

        static func httpStatus(_ outcome: RequestOutcome<ExportStatus>) -> Int? {
            switch outcome {
            case .ok: 200
            case .unavailable: 503
            case .notFound: 404
            case .unauthorized: 401
            default: 500
            }
        }

        func status(of accessToken: AccessToken) async -> PollResult {
            polled.withLock { $0.append(accessToken) }
            let next = script.withLock { s -> PollResult? in
                guard var answers = s[accessToken], !answers.isEmpty else { return nil }
                defer { s[accessToken] = answers }
                return answers.removeFirst()
            }
            return next
                ?? PollResult(outcome: .ok(ExportStatus(status: "Processing")), httpStatus: 200, latency: .zero)
        }
    }

    /// Runs `body` with a fresh database file in a temporary directory (removed afterwards).
    static func withDatabase(_ name: String, _ body: (TokenDatabase) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-table-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(
            try TokenDatabase(path: directory.appendingPathComponent("mprefd.sqlite3").path, mode: .readWrite))
    }

    /// Every backoff draw is the initial delay (10 s); no jitter, no deadline, no learned schedule:
    /// the tables are exact.
    static var exactPolling: PollingConfiguration {
        var polling = PollingConfiguration()
        polling.initialDelay = .seconds(10)
        polling.multiplier = 1
        polling.pauseJitter = .zero
        polling.deadline = nil
        polling.scheduleEffort = 0
        return polling
    }

    /// The recorder and the scheduler over `database` in one `ServiceGroup`, sleeping on `clock`,
    /// polling client ID `T_Co` (one host) through `source`.
    static func daemonCore(
        _ database: TokenDatabase, source: ScriptedSource, polling: PollingConfiguration, clock: ManualClock,
        logger: Logger, adminCheckInterval: Duration
    ) -> ServiceGroup {
        let recorder = PollRecorder(database: DaemonStore(database), hooks: HookConfiguration(), logger: logger)
        let scheduler = PollingService(
            database: DaemonStore(database), targets: ["T_Co": PollTarget(source: source, hostKey: "host")],
            configuration: polling, recorder: recorder, logger: logger, adminCheckInterval: adminCheckInterval,
            minimumCycle: .zero, wallNow: { clock.wallNow }, makeRandom: { SplitMix64(seed: 1) }, clock: clock)
        return ServiceGroup(services: [recorder, scheduler], logger: DaemonServicesTests.quiet)
    }

    /// Runs `steps` against the scheduler; `script` answers by access token.
    static func run(
        _ name: String, tokens: [AccessToken], script: [AccessToken: [RequestOutcome<ExportStatus>]], steps: [Step],
        configure: (inout PollingConfiguration) -> Void = { _ in }
    ) async throws {
        try await withDatabase(name) { database in
            try await run(database, tokens: tokens, script: script, steps: steps, configure: configure)
        }
    }

    private static func run(
        _ database: TokenDatabase, tokens: [AccessToken], script: [AccessToken: [RequestOutcome<ExportStatus>]],
        steps: [Step], configure: (inout PollingConfiguration) -> Void
    ) async throws {
        _ = try AdminStore(database).addTokens(tokens.map { NewToken(clientID: "T_Co", accessToken: $0) }, reset: false)
        var polling = exactPolling
        configure(&polling)
        let clock = ManualClock(wallStart: Date())
        // The scheduler's log line for each committed poll.
        let lines = LogLineCounter(["polled", "export finished"])
        let logger = LogLineCounter.logger(lines)
        let source = ScriptedSource(script)
        // The admin check sleeps on the clock too; an hour apart, its wakes are never the next wake.
        let adminInterval: Duration = .seconds(3600 * 1000)
        let group = daemonCore(
            database, source: source, polling: polling, clock: clock, logger: logger, adminCheckInterval: adminInterval)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            let bound = clock.start + adminInterval
            var expected = tokens.count  // every token is due at once
            try await withTimeLimit(.seconds(120), "the first polls") { [expected] in await lines.wait(for: expected) }
            var seen = source.polled.withLock { $0.count }
            #expect(Set(source.polled.withLock { $0 }) == Set(tokens))
            for (row, step) in steps.enumerated() {
                let wake = try await withTimeLimit(.seconds(120), "row \(row) \(step): the scheduler's next wake") {
                    await clock.nextDeadline(before: bound)
                }
                // Pause ends pass through wall-clock times (`Date`, kept to the millisecond in the
                // database, a fraction of a microsecond off in arithmetic).
                let off = wake - clock.now - step.after
                #expect(
                    off >= .zero && off <= .milliseconds(2),
                    "row \(row) \(step): next wake after \(wake - clock.now)")
                let window = clock.now + step.after + .milliseconds(2)
                clock.advance(to: wake)
                expected += step.polled.count
                // The row's polls may come at more than one wake within those 2 ms.
                while let next = try await withTimeLimit(
                    .seconds(10), "row \(row) \(step): its polls",
                    { [expected] in
                        await firstOf(
                            {
                                await lines.wait(for: expected); return nil
                            },
                            { Optional(await clock.nextDeadline(before: window)) })
                    })
                {
                    clock.advance(to: next)
                }
                let polled = source.polled.withLock { Array($0[seen...]) }
                seen += polled.count
                #expect(
                    polled.count == step.polled.count && Set(polled) == step.polled,
                    "row \(row) \(step) at +\(clock.elapsed): polled \(polled)")
            }
            await group.triggerGracefulShutdown()
        }
    }

    @Test func processingIsPolledAgainAfterEachBackoffDelayUntilComplete() async throws {
        try await Self.run(
            "backoff", tokens: [1],
            script: [
                1: [
                    .ok(ExportStatus(status: "Processing")), .ok(ExportStatus(status: "Processing")),
                    .ok(ExportStatus(status: "Complete")),
                ]
            ],
            steps: [Step(after: .seconds(10), polled: [1]), Step(after: .seconds(10), polled: [1])])
    }

    @Test func a503WithRetryAfterHoldsEveryTokenOfTheHostUntilItEnds() async throws {
        try await Self.run(
            "host-pause", tokens: [1, 2],
            script: [1: [.unavailable(retryAfter: .seconds(60))]],
            steps: [
                // Token 2 comes due at +10 s, but the host pause holds it, and token 1, to +60 s.
                Step(after: .seconds(10), polled: []),
                Step(after: .seconds(50), polled: [1, 2]),
                Step(after: .seconds(10), polled: [1, 2]),
            ])
    }

    @Test func aRetryAfterLongerThanTheCapIsCapped() async throws {
        try await Self.run(
            "cap", tokens: [1],
            script: [1: [.unavailable(retryAfter: .seconds(7200))]],
            steps: [Step(after: .seconds(120), polled: [1]), Step(after: .seconds(10), polled: [1])],
            configure: { $0.maxRetryAfter = .seconds(120) })
    }

    @Test func notFoundFromThreeTokensOfAnAccountPausesTheAccount() async throws {
        try await Self.run(
            "account-404", tokens: [1, 2, 3],
            script: [1: [.notFound, .notFound], 2: [.notFound, .notFound], 3: [.notFound, .notFound]],
            steps: [
                // Polled together, each 404 is decided before the others are known: each token
                // counts its own. In the next round the other two have answered 404 too: the
                // account is paused, and all three wait for its end.
                Step(after: .seconds(10), polled: [1, 2, 3]),
                Step(after: .seconds(900), polled: [1, 2, 3]),
            ],
            configure: { $0.authPause = .seconds(900) })
    }
}
