import Foundation
import MprefCore
import Testing
@testable import MprefWorker

@Suite struct LearnedScheduleTests {
    static let today = Backoff(initial: .seconds(10), max: .seconds(300), multiplier: 2)

    static let forecasts: [(Double, Double)] = [(120, 0.3), (600, 0.3), (7200, 0.3), (900, 1), (60, 0.05), (86_400, 2)]

    func schedule(
        _ median: Double, _ sigma: Double, effort: Double = LearnedSchedule.defaultEffort,
        minDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300)
    ) throws -> LearnedSchedule {
        let forecast = try #require(CompletionForecast(median: median, sigma: sigma))
        return LearnedSchedule(
            forecast: forecast, effort: effort, minDelay: minDelay, maxDelay: maxDelay, fallback: Self.today)
    }

    @Test(arguments: forecasts)
    func planIsIncreasingWithinTheGapBounds(median: Double, sigma: Double) throws {
        let s = try schedule(median, sigma)
        var previous = 0.0
        for time in s.plan {
            #expect(time - previous >= 1 - 1e-9 && time - previous <= 300 + 1e-9, "\(previous) → \(time)")
            previous = time
        }
        #expect(previous >= s.horizon || s.plan.count == LearnedSchedule.maximumPlannedPolls)
        #expect(abs(s.horizon - s.forecast.quantile(0.999)) < 1e-9)
    }

    @Test(arguments: forecasts)
    func nextDelayStaysWithinBoundsUntilTheHorizon(median: Double, sigma: Double) throws {
        let s = try schedule(median, sigma)
        var elapsed = 0.0
        // The plan ends at the horizon, or earlier when it holds `maximumPlannedPolls` (σ = 2 here).
        let end = min(s.horizon, s.plan.last ?? 0)
        while elapsed < end - 300 {
            let delay = try #require(s.nextDelay(elapsed: .clampedSeconds(elapsed)), "\(elapsed)").seconds
            #expect(delay >= 1 - 1e-9 && delay <= 300 + 1e-9)
            elapsed += delay
        }
        #expect(s.nextDelay(elapsed: .clampedSeconds(s.horizon)) == nil)
        #expect(s.nextDelay(elapsed: .seconds(10 * s.horizon)) == nil)
        #expect(s.nextDelay(elapsed: .longest) == nil)
    }

    @Test func followsThePlanAndToleratesLatePolls() throws {
        let s = try schedule(600, 0.3)
        let first = try #require(s.plan.first)
        #expect(s.nextDelay(elapsed: .zero) == .clampedSeconds(first))
        #expect(s.nextDelay(elapsed: .seconds(-5)) == .clampedSeconds(first))
        // A poll 0.2 s late still aims at the next planned time.
        let late = try #require(s.nextDelay(elapsed: .clampedSeconds(s.plan[3] + 0.2))).seconds
        #expect(abs(late - (s.plan[4] - s.plan[3] - 0.2)) < 1e-6)
    }

    /// Sparse while completion is unlikely, dense through the likely window.
    @Test(arguments: [(120.0, 0.3), (600, 0.3), (7200, 0.3)])
    func pollsAreDenseWhereCompletionIsLikely(median: Double, sigma: Double) throws {
        let s = try schedule(median, sigma)
        let early = try #require(s.nextDelay(elapsed: .clampedSeconds(0.3 * median))).seconds
        let likely = try #require(s.nextDelay(elapsed: .clampedSeconds(median))).seconds
        #expect(likely < early)
        #expect(
            s.plan.filter { $0 < 0.5 * median }.count
                < s.plan.filter { $0 >= 0.8 * median && $0 <= 1.25 * median }.count)
    }

    @Test(arguments: [(120.0, 0.3), (7200, 0.3), (900, 1)])
    func effortTradesPollsForDelay(median: Double, sigma: Double) throws {
        var previous: LearnedSchedule? = nil
        let sparsest = try schedule(median, sigma, effort: LearnedSchedule.effortRange.lowerBound)
        for effort in [0.3, 0.6, 1, 2, 4] {
            let s = try schedule(median, sigma, effort: effort)
            if let previous {
                #expect(s.expectedPolls >= previous.expectedPolls)
                #expect(s.pollCostSeconds <= previous.pollCostSeconds)
            }
            // The budget is met, unless the sparsest plan (gaps of max_delay_s) already spends more.
            let target = max(effort * s.expectedBackoffPolls, sparsest.expectedPolls)
            #expect(s.expectedPolls <= target * 1.0001, "effort \(effort)")
            #expect(s.expectedPolls >= target * 0.97 || s.pollCostSeconds <= 1.001e-3, "effort \(effort)")
            previous = s
        }
    }

    static let oddEfforts: [(Double, Double)] = [
        (.nan, LearnedSchedule.defaultEffort), (-1, 0.05), (0, 0.05), (1e9, 20), (.infinity, 20), (0.5, 0.5),
    ]

    @Test(arguments: oddEfforts)
    func effortIsPinned(effort: Double, used: Double) throws {
        #expect(try schedule(600, 0.3, effort: effort).effort == used)
    }

    @Test func degenerateBoundsAndForecastsDoNotTrap() throws {
        let zeroMin = try schedule(600, 0.3, minDelay: .zero, maxDelay: .seconds(300))
        #expect(zeroMin.minDelay == .milliseconds(1))
        let inverted = try schedule(600, 0.3, minDelay: .seconds(60), maxDelay: .seconds(5))
        #expect(inverted.maxDelay == .seconds(60))
        let huge = try schedule(1e12, 0.3)
        #expect(huge.plan.count == LearnedSchedule.maximumPlannedPolls)
        #expect(huge.nextDelay(elapsed: .zero) == .seconds(300))
        #expect(huge.nextDelay(elapsed: .longest) == nil)
        let tiny = try schedule(1e-3, 0.05)
        #expect(tiny.nextDelay(elapsed: .zero) == .seconds(1))  // due already: as soon as allowed
        #expect(tiny.nextDelay(elapsed: .seconds(1)) == nil)  // past the horizon: backoff
    }

    /// Far-out forecasts with extreme gap bounds terminate (steps that vanish in rounding end a gap).
    @Test func extremeScalesTerminate() throws {
        let s = try schedule(1e13, 0.05, minDelay: .milliseconds(1), maxDelay: .seconds(9_000_000_000))
        #expect(!s.plan.isEmpty)
        #expect(s.nextDelay(elapsed: .zero).map { $0 <= .seconds(9_000_000_000) } ?? true)
    }

    @Test func isDeterministic() throws {
        #expect(try schedule(3600, 0.3) == schedule(3600, 0.3))
    }
}
