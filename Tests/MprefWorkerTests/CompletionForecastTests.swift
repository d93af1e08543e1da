import Foundation
import Testing
@testable import MprefWorker

@Suite struct CompletionForecastTests {
    @Test func fitsTheLogsMeanAndSampleDeviation() throws {
        let f = try #require(CompletionForecast(durations: [60, 120, 240]))
        #expect(abs(f.mu - log(120)) < 1e-12)
        #expect(abs(f.sigma - log(2)) < 1e-12)  // ln 60, ln 120, ln 240 are ln 2 apart: sample std = ln 2
        #expect(f.sampleCount == 3)
        #expect(abs(f.median - 120) < 1e-9)
    }

    static let unusable: [[Double]] = [
        [], [120], [120, 240], [0, -5, 120, 240], [.nan, .infinity, -.infinity, 120, 240], [0, 0, 0], [-1, -2, -3],
    ]

    @Test(arguments: unusable)
    func needsThreeUsableDurations(durations: [Double]) {
        #expect(CompletionForecast(durations: durations) == nil)
    }

    @Test func ignoresUnusableValuesAndKeepsTheNewest() throws {
        let dirty = try #require(CompletionForecast(durations: [60, .nan, 120, -1, 240, 0, .infinity]))
        let clean = try #require(CompletionForecast(durations: [60, 120, 240]))
        #expect(dirty == clean)
        // Oldest first: with room for 3, the 5 s runs of long ago are dropped.
        let newest = try #require(CompletionForecast(durations: [5, 5, 5, 60, 120, 240], maximumSamples: 3))
        #expect(newest == clean)
        // A cap below the minimum still keeps the minimum.
        #expect(CompletionForecast(durations: [60, 120, 240], maximumSamples: 0) == clean)
    }

    @Test func identicalRunsGetTheSigmaFloor() throws {
        let f = try #require(CompletionForecast(durations: [600, 600, 600, 600]))
        #expect(f.sigma == CompletionForecast.sigmaFloor)
        #expect(CompletionForecast(median: 600, sigma: 0)?.sigma == CompletionForecast.sigmaFloor)
        #expect(CompletionForecast(median: 0, sigma: 0.3) == nil)
        #expect(CompletionForecast(median: .nan, sigma: 0.3) == nil)
        #expect(CompletionForecast(median: 600, sigma: .infinity) == nil)
    }

    static let normalQuantiles: [(Double, Double)] = [
        (0.5, 0), (0.975, 1.959963984540054), (0.025, -1.959963984540054), (0.999, 3.090232306167813),
        (0.001, -3.090232306167813), (1e-10, -6.361340902404056), (0.8413447460685429, 1),
    ]

    @Test(arguments: normalQuantiles)
    func normalQuantileMatchesKnownValues(p: Double, z: Double) {
        #expect(abs(CompletionForecast.normalQuantile(p) - z) < 1e-9)
    }

    @Test(arguments: [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
    func cdfInvertsQuantile(p: Double) throws {
        let f = try #require(CompletionForecast(median: 900, sigma: 0.3))
        let t = f.quantile(p)
        #expect(abs(f.cdf(t) - p) < 1e-9)
        #expect(abs(f.survival(t) - (1 - p)) < 1e-9)
    }

    @Test(arguments: [-2.0, -1, 0, 1, 2, 3, 4])
    func hazardIsDensityOverSurvival(z: Double) throws {
        let f = try #require(CompletionForecast(median: 3600, sigma: 0.3))
        let t = 3600 * exp(0.3 * z)
        let expected = f.density(t) / f.survival(t)
        #expect(abs(f.hazard(t) - expected) <= 1e-9 * expected)
    }

    /// Far in the upper tail f and S both underflow; the hazard follows the inverse Mills ratio ≈ z + 1/z.
    @Test(arguments: [6.0, 10, 40, 1e3, 1e6])
    func hazardStaysFiniteInTheUpperTail(z: Double) throws {
        let f = try #require(CompletionForecast(median: 60, sigma: 0.3))
        let t = 60 * exp(0.3 * z)
        guard t.isFinite else { return }
        let h = f.hazard(t)
        let asymptote = (z + 1 / z) / (0.3 * t)
        #expect(h.isFinite && h > 0)
        #expect(abs(h - asymptote) <= 0.01 * asymptote)
    }

    static let oddTimes: [Double] = [
        0, -1, -.infinity, .nan, .infinity, .leastNonzeroMagnitude, 1e-300, 1e300, .greatestFiniteMagnitude,
    ]

    @Test(arguments: oddTimes)
    func everyMethodIsTotal(t: Double) throws {
        for f in [
            CompletionForecast(median: 120, sigma: 0.05), CompletionForecast(median: 1e300, sigma: 1e3),
            CompletionForecast(median: 1e-300, sigma: 50),
        ] {
            let f = try #require(f)
            for value in [f.cdf(t), f.survival(t), f.density(t), f.hazard(t)] {
                #expect(value.isFinite && value >= 0, "\(t)")
            }
            #expect(f.cdf(t) <= 1 && f.survival(t) <= 1)
        }
    }

    @Test(arguments: [-1.0, 0, .nan, 1e-300, 0.5, 1 - 1e-16, 1, 2, .infinity])
    func quantileIsFiniteForEveryP(p: Double) throws {
        for f in [CompletionForecast(median: 120, sigma: 0.3), CompletionForecast(median: 1e300, sigma: 1e3)] {
            let q = try #require(f).quantile(p)
            #expect(q.isFinite && q >= 0, "\(p)")
        }
        #expect(try #require(CompletionForecast(median: 120, sigma: 0.3)).quantile(p) <= 120 * exp(0.3 * 8.3))
    }
}
