import Foundation
import MprefCore

/// When a complete export that has not been delivered is about to expire: the pure rule behind the
/// `export expires soon` warning of the daemon and `expiring_exports` of `mprefd status` (issue 16 §4).
///
/// Not delivered (yet deliverable) means the token is `downloading` (its pages are being fetched,
/// verified and committed: the status was Complete) or `download_failed` (the download gave up;
/// `mprefd download --retry` can still fetch it before it expires). A `complete` token is delivered
/// (with download off, the `complete` hooks deliver it), and the other states have nothing to fetch.
package enum ExpiryRule {
    /// How long before `Expires` the warning is raised: 1 hour, in seconds.
    package static let window: TimeInterval = 3600

    /// The token states of a complete export not delivered yet.
    package static let undeliveredStates: Set<TokenState> = [.downloading, .downloadFailed]

    /// Seconds from `now` until `expires` (the status's `Expires`, verbatim; API/3 form) when a token
    /// in `state` must be warned about: undelivered and expiring less than `window` seconds after
    /// `now` (negative: it has passed already). `nil` when no warning is due: another state, no
    /// `Expires`, or one that does not read as a time (`Timestamp.parseAnyOffset`: ISO 8601 with `Z`, no zone or
    /// an offset; the vendor does not document its format).
    package static func secondsLeft(state: TokenState, expires: String?, now: Date, window: TimeInterval = window)
        -> TimeInterval?
    {
        guard undeliveredStates.contains(state), let expires, let date = Timestamp.parseAnyOffset(expires) else {
            return nil
        }
        let left = date.timeIntervalSince(now)
        return left < window ? left : nil
    }

    /// What an operator should do about an expiring export in `state`, one sentence.
    package static func advice(state: TokenState, accessToken: AccessToken) -> String {
        switch state {
        case .downloadFailed:
            "its download gave up: run `mprefd download --retry \(accessToken)` now, before it expires"
        default:
            "its download has not finished: see why with `mprefd show \(accessToken)` and `mprefd status` (pauses, failing requests); once it expires, start the export again"
        }
    }
}
