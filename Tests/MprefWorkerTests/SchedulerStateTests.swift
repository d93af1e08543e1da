import Foundation
import Logging
import MprefStore
import MyPreferences
import Testing
@testable import MprefWorker

/// The scheduler's bookkeeping for pauses an operator lifts (`mprefd resume --host/--account`), on an
/// injected clock: `now` is a `ContinuousClock.Instant` the test moves, `wallNow` the matching wall time.
struct SchedulerStateTests {
    /// Never called: `SchedulerState` only decides which polls to launch.
    struct NoSource: StatusSource {
        func status(of accessToken: Int64) async -> PollResult { PollResult(outcome: .serverError, httpStatus: 500, latency: .zero) }
    }

    let wallNow = Date(timeIntervalSince1970: 1_780_000_000)
    let now = ContinuousClock.now
    let logger = Logger(label: "test")

    func state() -> SchedulerState {
        var configuration = PollingConfiguration()
        configuration.pauseJitter = .seconds(60)  // a lift must not wait for any of it
        configuration.maxRequestsPerSecondPerHost = 1_000
        let host = PollTarget(source: NoSource(), hostKey: "https://api.example.com:443")
        return SchedulerState(configuration: configuration, targets: ["ACME_Co": host, "OTHER_Co": host])
    }

    func pause(_ scope: String, _ subject: String, startedAt: Date) -> PauseRecord {
        PauseRecord(scope: scope, subject: subject, pausedUntil: startedAt.addingTimeInterval(600), startedAt: startedAt,
                    reason: scope == "host" ? "503" : "401 Unauthorized", httpStatus: scope == "host" ? 503 : 401, retryAfterS: nil)
    }

    let tokens = [WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 11), WatchedToken(id: 2, clientID: "OTHER_Co", accessToken: 22)]

    @Test func liftingAnAccountPauseMakesOnlyItsTokensDueAtOnce() {
        var s = state()
        s.load(tokens: tokens, pauses: [pause("account", "ACME_Co", startedAt: wallNow)], wallNow: wallNow, now: now, logger: logger)
        // Token 1 waits on the account pause; token 2 is polled.
        #expect(s.dueLaunches(now: now).map(\.token.id) == [2])
        let later = now + .seconds(1)
        #expect(s.dueLaunches(now: later).isEmpty)

        let ended = s.lift([PauseLift(scope: "account", subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: later)
        #expect(ended.count == 1)
        #expect(s.dueLaunches(now: later).map(\.token.id) == [1])
        // Lifting again, or a subject that is not paused, ends nothing.
        #expect(s.lift([PauseLift(scope: "account", subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: later).isEmpty)
        #expect(s.lift([PauseLift(scope: "host", subject: "https://api.example.com:443", liftedAt: wallNow)], now: later).isEmpty)
    }

    @Test func liftingAHostPauseReleasesEveryAccountOnThatHost() {
        var s = state()
        s.load(tokens: tokens, pauses: [pause("host", "https://api.example.com:443", startedAt: wallNow)], wallNow: wallNow, now: now, logger: logger)
        #expect(s.dueLaunches(now: now).isEmpty)
        let later = now + .seconds(2)
        #expect(s.lift([PauseLift(scope: "host", subject: "https://api.example.com:443", liftedAt: wallNow.addingTimeInterval(2))], now: later).count == 1)
        #expect(Set(s.dueLaunches(now: later).map(\.token.id)) == [1, 2])
    }

    @Test func aPauseThatStartedAfterTheLiftStays() {
        var s = state()
        // The lift was committed at wallNow + 1; the daemon saw a new 401 at wallNow + 2 before reading the lift.
        s.load(tokens: tokens, pauses: [pause("account", "ACME_Co", startedAt: wallNow.addingTimeInterval(2))], wallNow: wallNow, now: now, logger: logger)
        #expect(s.lift([PauseLift(scope: "account", subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: now).isEmpty)
        #expect(s.dueLaunches(now: now + .seconds(3)).map(\.token.id) == [2])
    }
}
