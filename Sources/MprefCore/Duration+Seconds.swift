/// `Duration` ↔ seconds, the one place where a duration meets a `Double` or an integer from outside.
extension Duration {
    /// The longest duration mprefd computes with: 9,000,000,000 s (~285 years). Every delay, pause
    /// and timeout derived from outside values is pinned here, so adding it to a clock reading or a
    /// `Date` cannot overflow and its `Double` seconds convert back to `Int64` exactly.
    package static let longest: Duration = .seconds(9_000_000_000)

    /// The duration in seconds, as a `Double` (attosecond precision folded in).
    package var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }

    /// Milliseconds, rounded toward zero, saturating at `Int64` bounds.
    package var milliseconds: Int64 {
        let (s, atto) = components
        return s.multipliedSaturating(by: 1000).addingSaturating(atto / 1_000_000_000_000_000)
    }

    /// Nanoseconds, rounded toward zero, saturating at `Int64` bounds.
    package var nanoseconds: Int64 {
        let (s, atto) = components
        return s.multipliedSaturating(by: 1_000_000_000).addingSaturating(atto / 1_000_000_000)
    }

    /// A duration from seconds; non-finite or negative input gives zero, larger input than
    /// ``longest`` gives ``longest``.
    package static func clampedSeconds(_ value: Double) -> Duration {
        guard value.isFinite, value > 0 else { return .zero }
        return value >= Self.longest.seconds ? Self.longest : .seconds(value)
    }

    /// A duration from whole seconds (e.g. a `Retry-After` delta-seconds, RFC 9110 §10.2.3): negative
    /// gives zero, larger than ``longest`` gives ``longest``.
    package static func clampedSeconds(_ value: Int64) -> Duration {
        value <= 0 ? .zero : .seconds(Swift.min(value, 9_000_000_000))
    }

    /// `self` pinned to `0 ... longest`.
    package var clamped: Duration { Swift.min(Swift.max(self, .zero), Self.longest) }
}
