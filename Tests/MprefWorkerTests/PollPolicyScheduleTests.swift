import Foundation
import MprefCore
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// `PollPolicy.decide` with a learned schedule: only a still-processing answer changes.
@Suite struct PollPolicyScheduleTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)
    let policy = PollPolicy(configuration: PollingConfiguration())
    let schedule: LearnedSchedule = {
        let c = PollingConfiguration()
        let forecast = CompletionForecast(median: 600, sigma: 0.3)!  // constant, valid arguments
        return LearnedSchedule(
            forecast: forecast, maxDelay: c.maxDelay,
            fallback: Backoff(initial: c.initialDelay, max: c.maxDelay, multiplier: c.multiplier))
    }()

    func decide(
        _ outcome: PollOutcome, http: Int? = 200,
        token: WatchedToken = WatchedToken(id: 7, clientID: "ACME_Co", accessToken: 42, attempt: 4),
        schedule: LearnedSchedule?, sinceAdded: Duration, seed: UInt64 = 3
    ) -> PollPolicy.Decision {
        var rng = SeededRNG(state: seed)
        return policy.decide(
            token: token, result: PollResult(outcome: outcome, httpStatus: http, latency: .milliseconds(12)),
            polledAt: t0, now: t0, hostKey: "https://pm.example:443", schedule: schedule, sinceAdded: sinceAdded,
            using: &rng)
    }

    @Test(arguments: [0.0, 100, 450, 600, 900, 1200])
    func processingTakesTheSchedulesDelay(elapsed: Double) throws {
        for status in ["Processing", "Queued"] {
            let d = decide(.ok(ExportStatus(status: status)), schedule: schedule, sinceAdded: .clampedSeconds(elapsed))
            let planned = try #require(schedule.nextDelay(elapsed: .clampedSeconds(elapsed)))
            #expect(d.nextDelay == planned)
            #expect(d.scheduled)
            #expect(d.write.newState == .watching)
            #expect(d.write.nextPollAt == t0.addingTimeInterval(planned.seconds))
            #expect(d.write.attempt == 5)
        }
    }

    @Test func pastTheForecastTheBackoffTakesOver() throws {
        let late = Duration.clampedSeconds(schedule.horizon + 1)
        let with = decide(.ok(ExportStatus(status: "Processing")), schedule: schedule, sinceAdded: late)
        let without = decide(.ok(ExportStatus(status: "Processing")), schedule: nil, sinceAdded: late)
        #expect(!with.scheduled)
        #expect(with == without)
        let delay = try #require(with.nextDelay).seconds
        #expect(delay >= 10 && delay <= 160)  // attempt 4: [10, 10·2⁴]
    }

    static let unchanged: [(PollOutcome, Int?)] = [
        (.ok(ExportStatus(status: "Complete")), 200), (.ok(ExportStatus(status: "Failed")), 200),
        (.unavailable(retryAfter: .seconds(120)), 503), (.unavailable(retryAfter: nil), 429), (.serverError, 500),
        (.transportError(.timeout, detail: "deadline"), nil),
        (.undecodable(reason: "not JSON", excerpt: "<html>"), 200),
        (.notFound, 404), (.unauthorized, 401), (.forbidden, 403), (.badRequest(detail: "x"), 400),
    ]

    /// Errors, 404, 503/429 pauses with Retry-After, 401/403 and terminal answers keep their meaning.
    @Test(arguments: unchanged)
    func otherAnswersIgnoreTheSchedule(outcome: PollOutcome, http: Int?) {
        let with = decide(outcome, http: http, schedule: schedule, sinceAdded: .seconds(600))
        let without = decide(outcome, http: http, schedule: nil, sinceAdded: .seconds(600))
        #expect(with == without)
        #expect(!with.scheduled)
    }

    @Test func theOldSignatureIsTheScheduleFreeOne() {
        var a = SeededRNG(state: 9), b = SeededRNG(state: 9)
        let result = PollResult(outcome: .ok(ExportStatus(status: "Processing")), httpStatus: 200, latency: .zero)
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, attempt: 2)
        let old = policy.decide(token: token, result: result, polledAt: t0, now: t0, hostKey: "h", using: &a)
        let new = policy.decide(
            token: token, result: result, polledAt: t0, now: t0, hostKey: "h", schedule: nil, sinceAdded: .seconds(5),
            using: &b)
        #expect(old == new)
    }

    @Test func theDeadlineStillBringsThePollForward() throws {
        let deadline = t0.addingTimeInterval(3)
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, deadlineAt: deadline)
        let d = decide(
            .ok(ExportStatus(status: "Processing")), token: token, schedule: schedule, sinceAdded: .seconds(600))
        #expect(d.nextDelay == .seconds(3))
        let expired = decide(
            .ok(ExportStatus(status: "Processing")),
            token: WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, deadlineAt: t0),
            schedule: schedule, sinceAdded: .seconds(600))
        #expect(expired.write.newState == .timedOut)
        #expect(expired.nextDelay == nil)
        #expect(!expired.scheduled)
    }
}
