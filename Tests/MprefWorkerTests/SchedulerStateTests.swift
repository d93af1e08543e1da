import Foundation
import MprefCore
import Logging
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// The scheduler's bookkeeping for pauses an operator lifts (`mprefd resume --host/--account`), on an
/// injected clock: `now` is a `ContinuousClock.Instant` the test moves, `wallNow` the matching wall time.
struct SchedulerStateTests {
    /// Never called: `SchedulerState` only decides which polls to launch.
    struct NoSource: StatusSource {
        func status(of accessToken: AccessToken) async -> PollResult {
            PollResult(outcome: .serverError, httpStatus: 500, latency: .zero)
        }
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

    func pause(_ scope: PauseScope, _ subject: String, startedAt: Date) -> PauseRecord {
        PauseRecord(
            scope: scope, subject: subject, pausedUntil: startedAt.addingTimeInterval(600), startedAt: startedAt,
            reason: scope == .host ? "503" : "401 Unauthorized", httpStatus: scope == .host ? 503 : 401,
            retryAfterS: nil)
    }

    let tokens = [
        WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 11),
        WatchedToken(id: 2, clientID: "OTHER_Co", accessToken: 22),
    ]

    @Test func liftingAnAccountPauseMakesOnlyItsTokensDueAtOnce() {
        var s = state()
        s.load(
            tokens: tokens, pauses: [pause(.account, "ACME_Co", startedAt: wallNow)], wallNow: wallNow, now: now,
            logger: logger)
        // Token 1 waits on the account pause; token 2 is polled.
        #expect(s.dueLaunches(now: now).map(\.token.id) == [2])
        let later = now + .seconds(1)
        #expect(s.dueLaunches(now: later).isEmpty)

        let ended = s.lift(
            [PauseLift(scope: .account, subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: later)
        #expect(ended.count == 1)
        #expect(s.dueLaunches(now: later).map(\.token.id) == [1])
        // Lifting again, or a subject that is not paused, ends nothing.
        #expect(
            s.lift(
                [PauseLift(scope: .account, subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: later
            ).isEmpty)
        #expect(
            s.lift([PauseLift(scope: .host, subject: "https://api.example.com:443", liftedAt: wallNow)], now: later)
                .isEmpty)
    }

    @Test func liftingAHostPauseReleasesEveryAccountOnThatHost() {
        var s = state()
        s.load(
            tokens: tokens, pauses: [pause(.host, "https://api.example.com:443", startedAt: wallNow)], wallNow: wallNow,
            now: now, logger: logger)
        #expect(s.dueLaunches(now: now).isEmpty)
        let later = now + .seconds(2)
        #expect(
            s.lift(
                [
                    PauseLift(
                        scope: .host, subject: "https://api.example.com:443", liftedAt: wallNow.addingTimeInterval(2))
                ], now: later
            ).count == 1)
        #expect(Set(s.dueLaunches(now: later).map(\.token.id)) == [1, 2])
    }

    @Test func aPauseThatStartedAfterTheLiftStays() {
        var s = state()
        // The lift was committed at wallNow + 1; the daemon saw a new 401 at wallNow + 2 before reading the lift.
        s.load(
            tokens: tokens, pauses: [pause(.account, "ACME_Co", startedAt: wallNow.addingTimeInterval(2))],
            wallNow: wallNow, now: now, logger: logger)
        #expect(
            s.lift([PauseLift(scope: .account, subject: "ACME_Co", liftedAt: wallNow.addingTimeInterval(1))], now: now)
                .isEmpty)
        #expect(s.dueLaunches(now: now + .seconds(3)).map(\.token.id) == [2])
    }
}

/// Issue 17.2: one pause per host — the longest — in force, logged and stored alike.
struct PauseInForceTests {
    let wallNow = Date(timeIntervalSince1970: 1_780_000_000)
    let now = ContinuousClock.now
    let host = "https://api.example.com:443"

    func decision(tokenID: TokenID, retryAfter seconds: Double) -> PollPolicy.Decision {
        let until = wallNow.addingTimeInterval(seconds)
        let write = PollWrite(
            tokenID: tokenID, polledAt: wallNow, httpStatus: 503, status: nil, rowCount: nil, byteCount: nil,
            latencyMs: 1, retryAfterS: seconds, nextDelayS: seconds, outcome: .unavailable, error: "503",
            newState: .watching, nextPollAt: until, attempt: 1, consecutiveErrors: 1, consecutiveNotFound: 0,
            lastError: "503")
        return PollPolicy.Decision(
            write: write,
            pause: PauseRecord(
                scope: .host, subject: host, pausedUntil: until, startedAt: wallNow, reason: "503",
                httpStatus: 503, retryAfterS: seconds),
            nextDelay: .seconds(seconds), retryAfterCapped: false, unknownStatus: false)
    }

    @Test func severalAnswersInOneBatchLeaveTheLongestPauseInForceAndLogIt() {
        var configuration = PollingConfiguration()
        configuration.pauseJitter = .seconds(1)
        configuration.maxRequestsPerSecondPerHost = 1_000
        var s = SchedulerState(
            configuration: configuration,
            targets: ["ACME_Co": PollTarget(source: SchedulerStateTests.NoSource(), hostKey: host)])
        let tokens = (1...4).map {
            WatchedToken(id: TokenID(Int64($0)), clientID: "ACME_Co", accessToken: AccessToken(Int64(100 + $0)))
        }
        s.load(tokens: tokens, pauses: [], wallNow: wallNow, now: now, logger: Logger(label: "test"))
        #expect(s.dueLaunches(now: now).count == 4)
        let changes = [(1, 2.0), (2, 30.0), (3, 5.0)].map { id, seconds in
            s.finish(
                tokenID: TokenID(Int64(id)), decision: decision(tokenID: TokenID(Int64(id)), retryAfter: seconds),
                tokenUpdated: true,
                wallNow: wallNow, now: now)
        }
        #expect(changes == [.started, .extended, .none])
        // Token 4's answer is still pending; when it comes, nothing of the host may be polled before 30 s.
        _ = s.finish(
            tokenID: 4, decision: decision(tokenID: 4, retryAfter: 1), tokenUpdated: true, wallNow: wallNow, now: now)
        #expect(s.dueLaunches(now: now + .seconds(29)).isEmpty)
        #expect(!s.dueLaunches(now: now + .seconds(30 + 1.1)).isEmpty)
        // The log says the pause in force: started at 2 s, then extended to 30 s; the 5 s answer is no news.
        let logged = zip([2.0, 30.0, 5.0], changes).flatMap { seconds, change in
            PollLog.entries(for: decision(tokenID: 1, retryAfter: seconds), pauseChange: change, debugEnabled: false)
        }
        #expect(
            logged.map { "\($0.message)" } == [
                "host paused after 503", "host pause extended: a later answer asked for longer",
            ])
        #expect(logged.last?.metadata["pause.until"] == "\(Timestamp.format(wallNow.addingTimeInterval(30)))")
    }
}
