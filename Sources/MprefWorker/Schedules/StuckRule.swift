import Foundation

/// When an export is stuck: the pure rule behind the `stuck` warning (issue 16 §4).
package enum StuckRule {
    /// Whether an export still processing `elapsed` seconds after it was added is stuck: beyond
    /// `factor` × the 95th percentile of its segment's `forecast`. `factor` ≤ 0 (or not finite): never.
    package static func isStuck(elapsed: Double, forecast: CompletionForecast, factor: Double) -> Bool {
        guard factor > 0, factor.isFinite, elapsed.isFinite else { return false }
        return elapsed > factor * forecast.quantile(0.95)
    }
}
