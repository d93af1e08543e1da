import Foundation
import Testing
@testable import MprefWorker

@Suite struct HookRetryPolicyTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    @Test func failedRunsBackOffDoublingToTheCeilingThenDie() {
        let policy = HookRetryPolicy(maxAttempts: 5, initialDelay: .seconds(30), maxDelay: .seconds(100))
        let delays = (1...4).map { attempt -> Double? in
            guard case .retry(let at) = policy.decide(attemptsSinceRetry: attempt, now: now) else { return nil }
            return at.timeIntervalSince(now)
        }
        #expect(delays == [30, 60, 100, 100])
        #expect(policy.decide(attemptsSinceRetry: 5, now: now) == .dead)
        #expect(policy.decide(attemptsSinceRetry: Int.max, now: now) == .dead)
        #expect(
            HookRetryPolicy(maxAttempts: 1, initialDelay: .seconds(1), maxDelay: .seconds(1)).decide(
                attemptsSinceRetry: 1, now: now) == .dead)
    }

    @Test func extremeDelaysSaturateInsteadOfTrapping() {
        let policy = HookRetryPolicy(
            maxAttempts: Int.max, initialDelay: .seconds(Int64.max), maxDelay: .seconds(Int64.max))
        guard case .retry(let at) = policy.decide(attemptsSinceRetry: 10_000, now: now) else {
            Issue.record("not retried"); return
        }
        #expect(at > now)
    }
}

@Suite struct StuckRuleTests {
    @Test func stuckBeyondTheFactorTimesTheP95AndNeverWhenOff() throws {
        let forecast = try #require(CompletionForecast(median: 600, sigma: 0.3))
        let p95 = forecast.quantile(0.95)
        #expect(p95 > 600 && p95 < 1100)
        #expect(!StuckRule.isStuck(elapsed: 3 * p95 - 1, forecast: forecast, factor: 3))
        #expect(StuckRule.isStuck(elapsed: 3 * p95 + 1, forecast: forecast, factor: 3))
        #expect(!StuckRule.isStuck(elapsed: .greatestFiniteMagnitude, forecast: forecast, factor: 0))
        #expect(!StuckRule.isStuck(elapsed: .nan, forecast: forecast, factor: 3))
        #expect(!StuckRule.isStuck(elapsed: 1e12, forecast: forecast, factor: .infinity))
    }
}
