import MprefCore

/// The one rule for when a token is really sent its next request: its own planned time, unless a
/// pause in force — its host's (503/429) or its account's (401/403) — ends later; then at that end.
/// Pure and generic over the clock, so the scheduler applies it on the monotonic clock and
/// `mprefd list` on wall-clock times from the database, and they cannot disagree.
package enum PauseRule {
    /// The later of `planned` and the pause ends that apply, and which pause holds the token (`nil`
    /// when none ends after `planned`). A later end wins; on a tie, the host pause.
    package static func effectiveDue<Instant: Comparable>(planned: Instant, host: Instant?, account: Instant?) -> (
        due: Instant, heldBy: PauseScope?
    ) {
        var result: (due: Instant, heldBy: PauseScope?) = (planned, nil)
        for (end, scope) in [(host, PauseScope.host), (account, PauseScope.account)] {
            if let end, end > result.due { result = (end, scope) }
        }
        return result
    }
}
