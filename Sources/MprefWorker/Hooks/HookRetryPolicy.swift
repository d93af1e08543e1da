import Foundation
import MprefCore

/// What a failed hook run becomes: the pure rule beside ``PollPolicy``.
///
/// A run that failed (non-zero exit, a signal, a timeout, or it could not start) runs again after
/// `hooks.retry_initial_delay_s` × 2ⁿ⁻¹ (capped at `hooks.retry_max_delay_s`; no jitter, so an
/// operator can predict it), until `hooks.max_attempts` runs since the last `mprefd hooks retry`:
/// then it is `dead`.
package struct HookRetryPolicy: Sendable, Hashable {
    /// The next state of a failed run.
    package enum Decision: Sendable, Hashable {
        /// Run again at this instant.
        case retry(at: Date)
        /// Gave up.
        case dead
    }

    /// `hooks.max_attempts` (≥ 1).
    package var maxAttempts: Int
    /// `hooks.retry_initial_delay_s`.
    package var initialDelay: Duration
    /// `hooks.retry_max_delay_s`.
    package var maxDelay: Duration

    package init(maxAttempts: Int, initialDelay: Duration, maxDelay: Duration) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// - Parameters:
    ///   - attemptsSinceRetry: runs since the event or the last `hooks retry`, the failed one included (≥ 1).
    ///   - now: the wall clock when the run ended.
    package func decide(attemptsSinceRetry: Int, now: Date) -> Decision {
        guard attemptsSinceRetry < maxAttempts else { return .dead }
        let backoff = Backoff(initial: initialDelay, max: maxDelay, multiplier: 2)
        return .retry(
            at: WallClock.pinned(
                now.addingTimeInterval(backoff.upperBoundSeconds(attempt: attemptsSinceRetry.subtractingSaturating(1))))
        )
    }
}
