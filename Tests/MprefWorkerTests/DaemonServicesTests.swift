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

/// The daemon's parts are services of one `ServiceGroup` (issue 13 §3): the group stops them in
/// reverse start order, one after the other, so the scheduler settles its polls while the recorder
/// and the hook queue still run; a failing part stops the others and its error is thrown.
@Suite struct DaemonServicesTests {
    struct Boom: Error {}

    /// Answers token 1 `Complete` once `gate` opens (it signals `asked` first); every other token
    /// `Processing` at once.
    final class GatedSource: StatusSource {
        private struct Gate {
            var isOpen = false
            var waiters: [CheckedContinuation<Void, Never>] = []
        }
        let asked: AsyncStream<Void>.Continuation
        private let gate = Mutex(Gate())

        init(asked: AsyncStream<Void>.Continuation) { self.asked = asked }

        func open() {
            let waiters = gate.withLock { g in
                g.isOpen = true
                defer { g.waiters = [] }
                return g.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        func status(of accessToken: AccessToken) async -> PollResult {
            guard accessToken == 1 else {
                return PollResult(
                    outcome: .ok(ExportStatus(status: "Processing")), httpStatus: 200, latency: .milliseconds(1))
            }
            asked.yield()
            await withCheckedContinuation { continuation in
                let isOpen = gate.withLock { g in
                    if !g.isOpen { g.waiters.append(continuation) }
                    return g.isOpen
                }
                if isOpen { continuation.resume() }
            }
            return PollResult(
                outcome: .ok(ExportStatus(status: "Complete")), httpStatus: 200, latency: .milliseconds(1))
        }
    }

    static func scene(
        _ name: String, hooks: HookConfiguration = HookConfiguration(), tokens: [AccessToken] = [1]
    ) throws -> (database: TokenDatabase, configuration: WorkerConfiguration, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-services-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("mprefd.sqlite3").path
        let database = try TokenDatabase(path: path, mode: .readWrite)
        _ = try AdminStore(database).addTokens(tokens.map { NewToken(clientID: "T_Co", accessToken: $0) }, reset: false)
        var polling = PollingConfiguration()
        polling.initialDelay = .milliseconds(20)
        polling.maxDelay = .milliseconds(50)
        let configuration = WorkerConfiguration(
            accounts: ["T_Co": AccountConfiguration(clientID: "T_Co", baseURL: "http://127.0.0.1:9/Profiles")],
            polling: polling, hooks: hooks, databasePath: path)
        return (database, configuration, directory)
    }

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    @Test func aPeriodicServiceTicksUntilItsGroupShutsItDownGracefully() async throws {
        let (ticks, tick) = AsyncStream<Void>.makeStream()
        let count = Mutex(0)
        let service = PeriodicService("test", every: .milliseconds(1)) {
            count.withLock { $0 += 1 }
            tick.yield()
        }
        let group = ServiceGroup(services: [service], logger: Self.quiet)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var seen = 0
            for await _ in ticks {
                seen += 1
                if seen == 3 { break }
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(count.withLock { $0 } >= 3)
    }

    @Test func aGracefulShutdownEndsAPeriodicServicesWaitAtOnce() async throws {
        let ticks = Mutex(0)
        let service = PeriodicService("test", every: .seconds(3600)) { ticks.withLock { $0 += 1 } }
        let group = ServiceGroup(services: [service], logger: Self.quiet)
        let run = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        // An hour-long wait: ending at all (well within the bound) means the shutdown cut it short.
        #expect(await ends(run, within: .seconds(60)))
        #expect(ticks.withLock { $0 } == 0, "no tick once the group shuts down")
    }

    /// The group stops the scheduler first: a poll in flight when the stop begins is answered,
    /// recorded by the still-running recorder, and its hook run queued; nothing is left running.
    @Test func aPollInFlightWhenTheDaemonStopsIsRecordedWithItsHookRun() async throws {
        var hooks = HookConfiguration()
        hooks.onComplete = ["true"]
        var scene = try Self.scene("inflight", hooks: hooks)
        defer { try? FileManager.default.removeItem(at: scene.directory) }
        // Short, so that a wrong stop order fails in seconds: the poll, refused by a stopped
        // recorder, would be held until the grace ends and then abandoned unrecorded.
        scene.configuration.polling.shutdownGrace = .seconds(2)
        let (asked, askedSignal) = AsyncStream<Void>.makeStream()
        let source = GatedSource(asked: askedSignal)
        // The group's own log line says when the scheduler is told to stop.
        let (schedulerStopping, schedulerStoppingSignal) = AsyncStream<Void>.makeStream()
        var logger = Logger(label: "test") { _ in
            WatchingLogHandler { message, metadata in
                if message.description == "Triggering graceful shutdown for service",
                    metadata?["sl-service"].map({ "\($0)".contains("PollingService") }) == true
                {
                    schedulerStoppingSignal.yield()
                }
            }
        }
        logger.logLevel = .debug
        let daemon = Daemon(
            configuration: scene.configuration, database: scene.database, logger: logger, version: "test",
            heartbeatInterval: .milliseconds(50), sources: ["T_Co": source])
        let group = ServiceGroup(services: [daemon], logger: Self.quiet)
        let run = Task { try await group.run() }
        for await _ in asked { break }
        // The daemon's own group follows the enclosing group's graceful shutdown; the poll is
        // answered only once the scheduler has been told to stop.
        await group.triggerGracefulShutdown()
        for await _ in schedulerStopping { break }
        source.open()
        #expect(await ends(run, within: .seconds(60)))
        try await run.value

        let token = try #require(try AdminStore(scene.database).listTokens().first)
        #expect(token.state == .complete, "the poll in flight at the stop was recorded")
        #expect(try AdminStore(scene.database).polls(tokenID: token.id, limit: 10).count == 1)
        let runs = try AdminStore(scene.database).listHookRuns()
        #expect(runs.count == 1 && runs.allSatisfy { $0.state != .running }, "\(runs)")
        #expect(try ReportStore(scene.database).statusSnapshot().daemon?.stoppedAt != nil, "the stop is recorded")
    }

    /// A service beside the daemon that fails stops the daemon's parts gracefully (a running hook is
    /// interrupted and re-queued), and its error is what `run` throws.
    @Test func aFailingServiceBesideTheDaemonStopsItAndItsErrorIsThrown() async throws {
        var hooks = HookConfiguration()
        hooks.onComplete = ["sleep 60"]
        hooks.killGrace = .milliseconds(200)
        let scene = try Self.scene("failing", hooks: hooks, tokens: [1, 2])
        defer { try? FileManager.default.removeItem(at: scene.directory) }
        let source = GatedSource(asked: AsyncStream<Void>.makeStream().continuation)
        source.open()
        // The hook queue's "hook started" line: the run is claimed (`running`) and about to be spawned.
        let started = LogLineCounter(["hook started"])
        let daemon = Daemon(
            configuration: scene.configuration, database: scene.database,
            logger: LogLineCounter.logger(started, level: .info), version: "test",
            heartbeatInterval: .milliseconds(50), sources: ["T_Co": source])
        let database = scene.database
        /// Fails once token 1's hook has started.
        struct Failing: Service {
            let started: LogLineCounter
            func run() async throws {
                await started.wait(for: 1)
                throw Boom()
            }
        }
        let run = Task {
            try await daemon.run(beside: [.stoppingTheGroup(Failing(started: started))], gracefulShutdownSignals: [])
        }
        #expect(await ends(run, within: .seconds(120)))
        await #expect(throws: Boom.self) { try await run.value }
        #expect(try AdminStore(database).listHookRuns(state: .running).isEmpty, "the running hook was re-queued")
        #expect(try AdminStore(database).listHookRuns(state: .pending).count == 1)
    }
}
