import Foundation
import MprefTestSupport
import Testing

/// The test support's manual clock: sleepers wake when it is advanced to their deadline, not before;
/// a cancelled sleeper ends with `CancellationError`; the wall time moves with it.
@Suite(.timeLimit(.minutes(1))) struct ManualClockTests {
    @Test func sleepersWakeOnlyWhenTheClockIsAdvancedToTheirDeadline() async throws {
        let clock = ManualClock()
        let start = clock.now
        let late = Task { try await clock.sleep(until: start + .seconds(10)) }
        let early = Task { try await clock.sleep(until: start + .seconds(5)) }
        await clock.waitForSleepers(2)

        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 2)
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 1)
        try await early.value
        clock.advance(by: .seconds(5))
        #expect(clock.sleeperCount == 0)
        try await late.value
        #expect(clock.now - start == .seconds(10))
        // A deadline already reached does not suspend.
        try await clock.sleep(until: start)
    }

    @Test func cancellingASleeperEndsItsSleepWithCancellationError() async {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(3600)) }
        await clock.waitForSleepers()
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func theWallTimeMovesWithTheClockAndNeverBack() {
        let clock = ManualClock(wallStart: Date(timeIntervalSince1970: 1_709_622_489.1235))
        clock.advance(by: .milliseconds(1500))
        #expect(clock.wallNow == Date(timeIntervalSince1970: 1_709_622_489.1235).addingTimeInterval(1.5))
        let now = clock.now
        clock.advance(by: .seconds(-5))
        clock.advance(to: now - .seconds(1))
        #expect(clock.now == now)
    }
}
