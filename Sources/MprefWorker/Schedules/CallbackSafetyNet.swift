import Foundation
import MprefCore

/// Where to place the status polls of an export that awaits its callback: the callback makes the
/// daemon poll at once when the export finishes, so the scheduled polls are only a safety net for a
/// callback that never comes (lost, a broken proxy, the daemon down when it was sent).
///
/// **The rule** (`callbacks.safety_interval_s`, issue 16 §3). After a `Processing` answer the next
/// poll is
/// - at the segment forecast's 99th percentile (``firstPollQuantile``), when the forecast says the
///   export is still that far from done: few exports are still running by then, so a callback that
///   arrives spends the only other poll;
/// - otherwise ``interval`` later (no history, or the export outlived that quantile).
///
/// So an export costs about two polls (the one at add, the one its callback triggers) plus a safety
/// poll per ``interval`` it runs beyond its forecast; a lost callback is noticed by the next safety
/// poll. Errors, `503`/`429` pauses with `Retry-After`, `401`/`403` and the deadline keep their rules
/// (``PollPolicy``).
///
/// Pure: no clock; the caller passes the time since the token was added.
package struct CallbackSafetyNet: Sendable, Hashable {
    /// Gap between two safety polls: `callbacks.safety_interval_s` (seconds; > 0).
    package let interval: Duration
    /// Seconds since the token was added of the first safety poll (the forecast's
    /// ``firstPollQuantile``); `nil` without a forecast.
    package let firstPollAt: Double?

    /// The forecast quantile of the first safety poll: 0.99.
    package static let firstPollQuantile = 0.99
    /// The default `callbacks.safety_interval_s`: 30 minutes.
    package static let defaultInterval: Duration = .seconds(1800)
    /// Shortest gap the net ever plans (an export a moment before its first safety poll): 1 s.
    package static let minimumGap: Duration = .seconds(1)

    /// - Parameters:
    ///   - interval: seconds between safety polls; a non-positive one is read as ``minimumGap``.
    ///   - forecast: the export's segment's completion forecast, if it has history.
    package init(interval: Duration, forecast: CompletionForecast?) {
        self.interval = Swift.max(interval, Self.minimumGap)
        let first = forecast?.quantile(Self.firstPollQuantile)
        self.firstPollAt = first.flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
    }

    /// The delay until the next safety poll of an export still processing `elapsed` after it was added.
    package func nextDelay(elapsed: Duration) -> Duration {
        if let firstPollAt {
            let untilFirst = Duration.clampedSeconds(firstPollAt - elapsed.seconds)
            if untilFirst >= Self.minimumGap { return untilFirst }
        }
        return interval
    }
}
