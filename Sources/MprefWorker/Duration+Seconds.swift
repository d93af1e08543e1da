extension Duration {
    /// The duration in seconds, as a `Double` (attosecond precision folded in).
    package var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }

    /// Milliseconds, rounded toward zero, saturating at `Int64` bounds.
    package var milliseconds: Int64 {
        let (s, atto) = components
        let (ms, overflow) = s.multipliedReportingOverflow(by: 1000)
        if overflow { return s < 0 ? .min : .max }
        return ms + atto / 1_000_000_000_000_000
    }

    /// A duration from seconds; non-finite or negative input gives zero, huge input saturates at ~292 years.
    package static func clampedSeconds(_ value: Double) -> Duration {
        guard value.isFinite, value > 0 else { return .zero }
        return .seconds(Swift.min(value, 9_000_000_000))
    }
}
