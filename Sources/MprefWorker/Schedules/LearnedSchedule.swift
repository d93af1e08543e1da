import Foundation
import MprefCore

/// Where to place the status polls of an export whose completion time is forecast: sparse while
/// completion is unlikely, dense through the likely window, never further apart than `maxDelay`.
///
/// **The rule.** Polls after the finish are never sent (the first answer `Complete` stops them), so
/// with poll gap g(t) an export finishing at t costs about g(t)/2 seconds of detection delay and a
/// poll is spent at t only by exports still running, with probability S(t). Minimising
/// E[delay] + λ·E[polls] = ∫ f·g/2 + λ ∫ S/g over g gives g(t) = √(2λ / h(t)), h = f/S the hazard:
/// poll density ∝ √hazard. The plan places poll k+1 where ∫ √h from poll k reaches √(2λ), clamped to
/// [`minDelay`, `maxDelay`]. (A density ∝ f^(1/3), the rule when every planned poll is paid for, came
/// out 12–53 % later at the same polls in the study recorded in docs/BENCHMARKS.md §7.)
///
/// **The knob**, `effort` (dimensionless, > 0; `polling.schedule_effort`, default
/// ``defaultEffort``): how many polls the plan may spend per export, as a fraction of what the
/// fallback backoff (today's schedule) would spend on an export with this forecast. λ is solved for
/// (bisection on the expected poll count) so that the plan's expected polls equal `effort` × the
/// backoff's; 1 = as many polls as today, placed where completion is likely; 0.5 = half as many.
/// Useful range 0.1–4; values are pinned to [``effortRange``]. More effort, less delay.
///
/// **Fallback.** Past the forecast's 0.999 quantile (``horizon``) the forecast was wrong for this
/// export: ``nextDelay(elapsed:)`` answers `nil` and the caller uses its backoff.
///
/// Pure: the plan is computed once in `init` (a few thousand hazard evaluations; build it once per
/// segment history, not per poll); ``nextDelay(elapsed:)`` is a binary search.
package struct LearnedSchedule: Sendable, Hashable {
    /// The forecast the plan follows.
    package let forecast: CompletionForecast
    /// The knob as used (pinned to ``effortRange``).
    package let effort: Double
    /// Shortest gap between two polls.
    package let minDelay: Duration
    /// Longest gap between two polls (`polling.max_delay_s`).
    package let maxDelay: Duration
    /// The exchange rate the knob resolved to: seconds of detection delay one poll is worth (λ).
    package let pollCostSeconds: Double
    /// Planned poll times, seconds since the token was added, increasing; the add-time poll (0) is not
    /// included; the last is at or beyond ``horizon`` (unless the plan hit ``maximumPlannedPolls``).
    package let plan: [Double]
    /// Seconds since the token was added after which the schedule gives way to the backoff: the
    /// forecast's 0.999 quantile.
    package let horizon: Double
    /// Expected polls per export under the forecast, the add-time poll included: this plan's, and the
    /// fallback backoff's (taking each backoff draw at its mean).
    package let expectedPolls: Double
    package let expectedBackoffPolls: Double

    /// The knob's default: 0.9 (10 % fewer polls than today's backoff would spend, placed by the
    /// forecast). Not 1: a forecast fitted from ~30 runs misjudges the budget by a few polls, and 0.9
    /// keeps the benchmark's recurring segments at or under today's polls (docs/BENCHMARKS.md §7).
    package static let defaultEffort = 0.9
    /// The knob's accepted range; values outside are pinned to it, NaN reads as the default.
    package static let effortRange: ClosedRange<Double> = 0.05...20
    /// The default shortest gap: 1 s (the knob sets the density; this only bounds it).
    package static let defaultMinDelay: Duration = .seconds(1)
    /// The fraction of exports the forecast must cover before the schedule gives way to the backoff.
    package static let horizonQuantile = 0.999
    /// Most polls a plan holds (a week of polls 300 s apart; a safeguard against degenerate forecasts):
    /// past them the backoff takes over.
    package static let maximumPlannedPolls = 2_000

    /// Builds the plan for `forecast`.
    ///
    /// - Parameters:
    ///   - effort: the knob (see the type's documentation); pinned to ``effortRange``.
    ///   - minDelay: shortest gap, > 0 (a non-positive one is read as 1 ms).
    ///   - maxDelay: longest gap (`polling.max_delay_s`); at least `minDelay`.
    ///   - fallback: the backoff used outside the plan (today's: `PollPolicy.backoff`), the reference
    ///     the knob's poll budget is measured against.
    package init(
        forecast: CompletionForecast, effort: Double = LearnedSchedule.defaultEffort,
        minDelay: Duration = LearnedSchedule.defaultMinDelay, maxDelay: Duration, fallback: Backoff
    ) {
        let pinnedEffort =
            effort.isNaN
            ? Self.defaultEffort
            : Swift.min(Swift.max(effort, Self.effortRange.lowerBound), Self.effortRange.upperBound)
        let low = Swift.max(minDelay.seconds, 0.001)
        let high = Swift.max(maxDelay.seconds, low)
        let horizon = forecast.quantile(Self.horizonQuantile)
        let planner = Planner(forecast: forecast, minGap: low, maxGap: high, horizon: horizon)
        let reference = planner.expectedBackoffPolls(fallback)
        // Expected polls fall as λ grows; bisect on log λ between a 1 ms and a 10⁹ s poll cost for the
        // smallest λ within budget. When even the sparsest plan (every gap `maxDelay`, or the add-time
        // poll and one more) spends more than the budget, its count is the budget: the cheapest λ
        // spending no more than that places the unavoidable polls best.
        var lo = -3.0, hi = 9.0
        var best = planner.plan(pollCost: pow(10, hi))
        let target = Swift.max(pinnedEffort * reference, planner.expectedPolls(best) * (1 + 1e-9))
        for _ in 0..<30 {
            let mid = (lo + hi) / 2
            let candidate = planner.plan(pollCost: pow(10, mid))
            if planner.expectedPolls(candidate) <= target {
                hi = mid
                best = candidate
            } else {
                lo = mid
            }
        }
        self.forecast = forecast
        self.effort = pinnedEffort
        self.minDelay = .clampedSeconds(low)
        self.maxDelay = .clampedSeconds(high)
        self.pollCostSeconds = pow(10, hi)
        self.plan = best
        self.horizon = horizon
        self.expectedPolls = planner.expectedPolls(best)
        self.expectedBackoffPolls = reference
    }

    /// The gap to the next poll of an export still processing `elapsed` after its token was added:
    /// the next planned time at least `minDelay`/2 ahead, with the gap pinned to
    /// [`minDelay`, `maxDelay`]. `nil` once `elapsed` reaches ``horizon`` or passes the plan's end:
    /// the export outlived its forecast, and the caller falls back to its backoff.
    package func nextDelay(elapsed: Duration) -> Duration? {
        let now = Swift.max(elapsed.seconds, 0)
        guard now < horizon else { return nil }
        let low = minDelay.seconds, high = maxDelay.seconds
        let earliest = now + low / 2
        // First planned time ≥ earliest.
        var lower = 0, upper = plan.count
        while lower < upper {
            let mid = (lower + upper) / 2
            if plan[mid] < earliest { lower = mid + 1 } else { upper = mid }
        }
        guard lower < plan.count else { return nil }
        return .clampedSeconds(Swift.min(Swift.max(plan[lower] - now, low), high))
    }
}

extension LearnedSchedule {
    /// The plan's arithmetic, kept apart so that `init` can try many poll costs.
    struct Planner {
        var forecast: CompletionForecast
        var minGap: Double
        var maxGap: Double
        var horizon: Double

        /// Poll times for exchange rate `pollCost` (seconds of delay per poll): poll k+1 where
        /// ∫ √h from poll k reaches √(2·pollCost), within [minGap, maxGap] of poll k.
        func plan(pollCost: Double) -> [Double] {
            let budget = (2 * pollCost).squareRoot()
            var times: [Double] = []
            var t = 0.0
            while t < horizon, times.count < LearnedSchedule.maximumPlannedPolls {
                t = next(after: t, budget: budget)
                times.append(t)
            }
            return times
        }

        /// Marches from `t` in steps of at most 1/8 of the local gap, halving a step that would cross
        /// the budget until it is shorter than a 1/16 of `minGap`, then interpolates inside it.
        func next(after t: Double, budget: Double) -> Double {
            let limit = t + maxGap
            let resolution = minGap / 16
            var spent = 0.0
            var u = t
            var step = maxGap / 8
            while u < limit {
                let local = forecast.hazard(u).squareRoot()
                let localGap = local > 0 ? budget / local : maxGap
                step = Swift.min(Swift.max(Swift.min(localGap, maxGap) / 8, resolution), limit - u)
                while true {
                    let rate = forecast.hazard(u + step / 2).squareRoot()
                    let gain = rate * step
                    // Far out (u beyond ~10¹³ s with a tiny `minGap`) a step can vanish in rounding.
                    let progresses = u + step > u
                    if spent + gain < budget, progresses {
                        spent += gain
                        u += step
                        break
                    }
                    if step <= resolution || !progresses {
                        let inside = rate > 0 ? (budget - spent) / rate : step
                        return Swift.min(Swift.max(u + inside, t + minGap), limit)
                    }
                    step /= 2
                }
            }
            return limit
        }

        /// Expected polls per export under the forecast: the add-time poll, then poll k is sent only
        /// when the export was still running at poll k − 1. Past the plan, the backoff's expected
        /// polls (at most a few in the last 0.1 %) are left out.
        func expectedPolls(_ times: [Double]) -> Double {
            var total = 1.0
            var previous = 0.0
            for time in times {
                total += forecast.survival(previous)
                previous = time
            }
            return total
        }

        /// The same for a backoff, each draw taken at its mean, until the survival is negligible.
        func expectedBackoffPolls(_ backoff: Backoff) -> Double {
            var total = 1.0
            var t = 0.0
            for attempt in 0..<100_000 {
                let s = forecast.survival(t)
                if s < 1e-6 { break }
                total += s
                t += (backoff.floorSeconds + backoff.upperBoundSeconds(attempt: attempt)) / 2
            }
            return total
        }
    }
}
