import Foundation
import Logging
import MprefCore
import MprefStore
import MprefTestSupport
import ServiceLifecycle
import Synchronization
import Testing

@testable import MprefWorker

/// Admin changes (`add-token`, `pause`, `remove` while the daemon runs) reach the running scheduler
/// at its next admin check, in process on a manual clock: the real `PollingService` and
/// `PollRecorder` over a real SQLite file, with scripted answers (``SchedulerTableTests``). The real
/// binary's side, the commands beside `mprefd run`, is in `DaemonLifecycleEndToEndTests` and
/// `DaemonPauseEndToEndTests`, which leave the timing to this test.
@Suite struct AdminChangeTableTests {
    @Test func aTokenAddedIsPolledAtTheNextAdminCheckAndPausedOrRemovedOnesAreNotPolledAgain() async throws {
        try await SchedulerTableTests.withDatabase("admin") { database in
            try await run(database)
        }
    }

    private func run(_ database: TokenDatabase) async throws {
        let admin = AdminStore(database)
        let clock = ManualClock(wallStart: Date())
        let ids = try admin.addTokens(
            [1, 2].map { NewToken(clientID: "T_Co", accessToken: $0) }, reset: false, now: clock.wallNow
        ).map { result -> TokenID in
            guard case .added(let record) = result else { throw StoreError(.notFound, "not added: \(result)") }
            return record.id
        }
        let lines = LogLineCounter(["polled"])
        let source = SchedulerTableTests.ScriptedSource([:])
        let adminCheck: Duration = .milliseconds(500)
        let group = SchedulerTableTests.daemonCore(
            database, source: source, polling: SchedulerTableTests.exactPolling, clock: clock,
            logger: LogLineCounter.logger(lines), adminCheckInterval: adminCheck)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            // Both tokens are due at once; then each is next due at 10 s.
            try await withTimeLimit(.seconds(120), "the first polls") { await lines.wait(for: 2) }
            // On the manual clock's wall time (the added token is due at its `added_at`).
            let now = clock.wallNow
            _ = try admin.addTokens([NewToken(clientID: "T_Co", accessToken: 3)], reset: false, now: now)
            #expect(try admin.changeState(.pause, tokenIDs: [ids[0]], now: now) == [ids[0]])
            #expect(try admin.changeState(.remove, tokenIDs: [ids[1]], now: now) == [ids[1]])

            // The scheduler and the admin check asleep, the clock moves 0.5 s at a time to 10.5 s: the
            // added token is polled at the first admin check, and again at 10.5 s; 1 and 2, due at
            // 10 s, are not polled.
            var polledAt: [(Duration, AccessToken)] = []
            while clock.elapsed < .milliseconds(10_500) {
                try await withTimeLimit(.seconds(120), "the scheduler and the admin check asleep at +\(clock.elapsed)")
                { await clock.waitForSleepers(2) }
                clock.advance(by: adminCheck)
                let before = polledAt.count + 2
                // Each poll at this instant is committed before the next step (its log line).
                let expected = clock.elapsed == adminCheck || clock.elapsed == .milliseconds(10_500) ? 1 : 0
                try await withTimeLimit(.seconds(120), "the polls at +\(clock.elapsed)") {
                    await lines.wait(for: before + expected)
                }
                let polled = source.polled.withLock { Array($0.dropFirst(before)) }
                polledAt += polled.map { (clock.elapsed, $0) }
            }
            await group.triggerGracefulShutdown()
            #expect(
                polledAt.map(\.0) == [adminCheck, .milliseconds(10_500)] && polledAt.map(\.1) == [3, 3],
                "polled after the changes: \(polledAt)")
            #expect(source.polled.withLock { $0.count } == 4, "\(source.polled.withLock { $0 })")
        }
    }
}
