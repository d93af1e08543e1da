import Foundation
import MprefCore
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// The safety net of an export that awaits its callback (`callbacks.safety_interval_s`): the pure
/// placement, and `PollPolicy.decide` with it — only a still-processing answer changes.
@Suite struct CallbackSafetyNetTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)
    let policy = PollPolicy(configuration: PollingConfiguration())
    /// Median 600 s, σ 0.3: the 99th percentile is 600·e^(0.3·2.326) ≈ 1208 s.
    let forecast = CompletionForecast(median: 600, sigma: 0.3)

    @Test func withoutHistoryEverySafetyPollIsAnIntervalApart() {
        let net = CallbackSafetyNet(interval: .seconds(1800), forecast: nil)
        #expect(net.firstPollAt == nil)
        for elapsed in [0.0, 1, 500, 1800, 1_000_000] {
            #expect(net.nextDelay(elapsed: .clampedSeconds(elapsed)) == .seconds(1800), "\(elapsed)")
        }
    }

    /// Elapsed → delay: up to the forecast's 99th percentile, then the interval; within the minimum
    /// gap (1 s) of that percentile the interval too, so the net never plans a near-zero gap.
    @Test(arguments: [
        (0.0, "p99"), (600, "p99"), (1200, "p99"), (1207.5, "interval"), (1300, "interval"), (86_400, "interval"),
    ])
    func theFirstSafetyPollWaitsForTheForecastsP99(elapsed: Double, expected: String) throws {
        let net = CallbackSafetyNet(interval: .seconds(1800), forecast: forecast)
        let p99 = try #require(net.firstPollAt)
        #expect(abs(p99 - 600 * exp(0.3 * 2.326_348)) < 0.5, "\(p99)")
        let delay = net.nextDelay(elapsed: .clampedSeconds(elapsed)).seconds
        switch expected {
        case "p99": #expect(abs(delay - (p99 - elapsed)) < 1e-6, "\(elapsed): \(delay)")
        default: #expect(delay == 1800, "\(elapsed): \(delay)")
        }
    }

    @Test func aNonPositiveIntervalIsReadAsTheMinimumGap() {
        #expect(
            CallbackSafetyNet(interval: .zero, forecast: nil).nextDelay(elapsed: .zero) == CallbackSafetyNet.minimumGap)
        #expect(CallbackSafetyNet(interval: .seconds(-5), forecast: nil).interval == CallbackSafetyNet.minimumGap)
    }

    func decide(
        _ outcome: PollOutcome, http: Int? = 200,
        token: WatchedToken = WatchedToken(id: 7, clientID: "ACME_Co", accessToken: 42, attempt: 4),
        safetyNet: CallbackSafetyNet?, sinceAdded: Duration = .seconds(60)
    ) -> PollPolicy.Decision {
        var rng = SeededRNG(state: 5)
        return policy.decide(
            token: token, result: PollResult(outcome: outcome, httpStatus: http, latency: .milliseconds(12)),
            polledAt: t0, now: t0, hostKey: "https://pm.example:443", schedule: nil, sinceAdded: sinceAdded,
            safetyNet: safetyNet, using: &rng)
    }

    @Test func processingWaitsForTheSafetyNetNotTheBackoff() throws {
        let net = CallbackSafetyNet(interval: .seconds(1800), forecast: forecast)
        for status in ["Processing", "Queued"] {
            let d = decide(.ok(ExportStatus(status: status)), safetyNet: net)
            let planned = net.nextDelay(elapsed: .seconds(60))
            #expect(d.nextDelay == planned)
            #expect(planned > PollingConfiguration().maxDelay)  // beyond any backoff gap
            #expect(d.scheduled)
            #expect(d.write.newState == .watching)
            #expect(d.write.nextPollAt == t0.addingTimeInterval(planned.seconds))
        }
    }

    /// Errors, 404, 503/429 pauses with Retry-After, 401/403 and terminal answers keep their meaning.
    @Test(arguments: PollPolicyScheduleTests.unchanged)
    func otherAnswersIgnoreTheSafetyNet(outcome: PollOutcome, http: Int?) {
        let net = CallbackSafetyNet(interval: .seconds(1800), forecast: forecast)
        #expect(decide(outcome, http: http, safetyNet: net) == decide(outcome, http: http, safetyNet: nil))
    }

    @Test func theDeadlineStillBringsTheSafetyPollForward() {
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, deadlineAt: t0.addingTimeInterval(90))
        let d = decide(
            .ok(ExportStatus(status: "Processing")), token: token,
            safetyNet: CallbackSafetyNet(interval: .seconds(1800), forecast: nil))
        #expect(d.nextDelay == .seconds(90))
    }
}
