import Foundation
import Logging
import MprefCore
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// Issue 16 §3, the pure parts of the callback: its id, the per-source rate limit, and the
/// scheduler's "poll at once" (on an injected monotonic clock).
struct CallbackIDTests {
    @Test func idsAre128BitsOfLowerCaseHexAndDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = CallbackID.make()
            #expect(id.count == 32)
            #expect(CallbackID.isWellFormed(id))
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }

    @Test func aSeededGeneratorGivesTheSameIdAndUsesEveryDigit() {
        struct Counting: RandomNumberGenerator {
            var value: UInt64 = 0x0123_4567_89AB_CDEF
            mutating func next() -> UInt64 { value }
        }
        var generator = Counting()
        let id = CallbackID.make(using: &generator)
        #expect(id == "fedcba9876543210fedcba9876543210")
    }

    @Test(arguments: [
        "", "abc", String(repeating: "a", count: 31), String(repeating: "a", count: 33),
        String(repeating: "A", count: 32),
        String(repeating: "g", count: 32), String(repeating: "a", count: 31) + "/",
        String(repeating: "a", count: 31) + "é",
    ])
    func malformedIdsAreRefusedWithoutALookup(_ text: String) {
        #expect(!CallbackID.isWellFormed(text))
    }
}

struct CallbackRateLimiterTests {
    let start = ContinuousClock.now

    @Test func aSourceGetsItsBurstThenItsRate() {
        var limiter = CallbackRateLimiter(rate: 5, burst: 3)
        for _ in 0..<3 { check(limiter.allow("10.0.0.1", now: start)) }
        check(!limiter.allow("10.0.0.1", now: start))
        // Another source has its own bucket.
        check(limiter.allow("10.0.0.2", now: start))
        // 0.2 s at 5/s refills one token, not two.
        let later = start + .milliseconds(200)
        check(limiter.allow("10.0.0.1", now: later))
        check(!limiter.allow("10.0.0.1", now: later))
        // A long quiet time refills the bucket to the burst, never beyond.
        let muchLater = start + .seconds(3600)
        for _ in 0..<3 { check(limiter.allow("10.0.0.1", now: muchLater)) }
        check(!limiter.allow("10.0.0.1", now: muchLater))
    }

    @Test func manySourcesShareAnOverflowBucketInsteadOfGrowingTheTable() {
        var limiter = CallbackRateLimiter(rate: 1, burst: 1)
        for index in 0..<CallbackRateLimiter.maxSources {
            check(limiter.allow("source-\(index)", now: start))
        }
        #expect(limiter.sourceCount == CallbackRateLimiter.maxSources)
        // Every bucket is in use (empty): new sources share one bucket with one token.
        check(limiter.allow("new-1", now: start))
        check(!limiter.allow("new-2", now: start))
        #expect(limiter.sourceCount == CallbackRateLimiter.maxSources + 1)
        // Once the buckets refilled, they are dropped to make room.
        check(limiter.allow("new-3", now: start + .seconds(2)))
        #expect(limiter.sourceCount <= 3)
    }

    @Test func aBadRateOrBurstIsTakenAsTheSmallestUsable() {
        var limiter = CallbackRateLimiter(rate: 0, burst: 0)
        check(limiter.allow("a", now: start))
        check(!limiter.allow("a", now: start + .seconds(60)))
    }
}

struct PollNowTests {
    struct NoSource: StatusSource {
        func status(of accessToken: AccessToken) async -> PollResult {
            PollResult(outcome: .serverError, httpStatus: 500, latency: .zero)
        }
    }

    let wallNow = Date(timeIntervalSince1970: 1_780_000_000)
    let now = ContinuousClock.now
    let logger = Logger(label: "test")

    func state(maxInFlight: Int = 64) -> SchedulerState {
        var configuration = PollingConfiguration()
        configuration.maxRequestsPerSecondPerHost = 1_000
        configuration.maxInFlight = maxInFlight
        configuration.pauseJitter = .zero
        configuration.initialDelay = .seconds(3600)
        configuration.maxDelay = .seconds(3600)  // loaded next polls are clamped to it
        let host = PollTarget(source: NoSource(), hostKey: "https://api.example.com:443")
        return SchedulerState(configuration: configuration, targets: ["ACME_Co": host])
    }

    /// Tokens whose next poll is an hour away: only `pollNow` can make them due.
    func tokens(_ ids: [Int64]) -> [WatchedToken] {
        ids.map {
            WatchedToken(
                id: TokenID($0), clientID: "ACME_Co", accessToken: AccessToken($0 * 10),
                nextPollAt: wallNow.addingTimeInterval(3600)
            )
        }
    }

    @Test func aWatchedTokenIsDueAtOnceAndOnlyOnce() {
        var s = state()
        s.load(tokens: tokens([1, 2]), pauses: [], wallNow: wallNow, now: now, logger: logger)
        check(s.dueLaunches(now: now).isEmpty)
        check(s.pollNow(tokenID: 1, now: now) == .queued)
        check(s.dueLaunches(now: now).map(\.token.id) == [1])
        // In flight: nothing changes (the caller asks again once it is settled).
        check(s.pollNow(tokenID: 1, now: now) == .inFlight)
        check(s.dueLaunches(now: now).isEmpty)
        // The planned poll was replaced, not duplicated: nothing else is due before the hour.
        s.abandon(tokenID: 1)
        check(s.dueLaunches(now: now + .seconds(3599)).isEmpty)
        // Unknown tokens change nothing.
        check(s.pollNow(tokenID: 99, now: now) == .notWatched)
    }

    @Test func aPauseWins() {
        var s = state()
        let pause = PauseRecord(
            scope: .account, subject: "ACME_Co", pausedUntil: wallNow.addingTimeInterval(600), startedAt: wallNow,
            reason: "401", httpStatus: 401, retryAfterS: nil)
        s.load(tokens: tokens([1]), pauses: [pause], wallNow: wallNow, now: now, logger: logger)
        check(s.pollNow(tokenID: 1, now: now) == .queued)
        check(s.dueLaunches(now: now).isEmpty)
        check(s.dueLaunches(now: now + .seconds(599)).isEmpty)
        check(s.dueLaunches(now: now + .seconds(600)).map(\.token.id) == [1])
    }

    @Test func theInFlightLimitHolds() {
        var s = state(maxInFlight: 1)
        s.load(tokens: tokens([1, 2]), pauses: [], wallNow: wallNow, now: now, logger: logger)
        check(s.pollNow(tokenID: 1, now: now) == .queued)
        check(s.pollNow(tokenID: 2, now: now) == .queued)
        check(s.dueLaunches(now: now).map(\.token.id) == [1])
        check(s.dueLaunches(now: now).isEmpty)
        s.answered(tokenID: 1)
        check(s.dueLaunches(now: now).map(\.token.id) == [2])
    }

    @Test func aDownloadingTokenIsNotBroughtForward() {
        var s = state()
        var token = tokens([1])[0]
        token.state = .downloading
        s.load(tokens: [token], pauses: [], wallNow: wallNow, now: now, logger: logger)
        check(s.pollNow(tokenID: 1, now: now) == .notWatched)
    }
}

/// `#expect` for a condition that calls a mutating method (which the macro cannot capture).
func check(_ condition: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(condition, sourceLocation: sourceLocation)
}
