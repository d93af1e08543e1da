import Foundation
import MprefCore

/// Exponential backoff with full jitter between a floor and a ceiling.
///
/// The n-th delay is drawn uniformly in [initial, min(max, initial·multiplierⁿ)]. Overflow-safe for
/// any n ≥ 0 (the bound saturates at `max`), never below `initial`, never zero or negative (a
/// non-positive `initial` is treated as 1 ms), and the bounds never decrease as n grows.
package struct Backoff: Sendable, Hashable {
    package var initial: Duration
    package var max: Duration
    package var multiplier: Double

    package init(initial: Duration, max: Duration, multiplier: Double) {
        self.initial = initial
        self.max = max
        self.multiplier = multiplier
    }

    /// The smallest delay ever drawn, in seconds (at least 1 ms).
    package var floorSeconds: Double { Swift.max(initial.seconds, 0.001) }

    /// The upper bound of the n-th draw, in seconds.
    package func upperBoundSeconds(attempt n: Int) -> Double {
        let floor = floorSeconds
        let ceiling = Swift.max(max.seconds, floor)
        guard n > 0, multiplier > 1 else { return floor }
        // pow saturates to +inf instead of trapping; compare before multiplying further.
        let growth = pow(multiplier, Double(n))
        let bound = floor * growth
        guard bound.isFinite else { return ceiling }
        return Swift.min(Swift.max(bound, floor), ceiling)
    }

    /// Draws the n-th delay with `rng`.
    package func delay(attempt n: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        let low = floorSeconds
        let high = upperBoundSeconds(attempt: n)
        let value = high > low ? Double.random(in: low...high, using: &rng) : low
        return .clampedSeconds(value)
    }
}
