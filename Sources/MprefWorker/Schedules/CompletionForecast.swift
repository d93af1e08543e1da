import Foundation

/// When an export of a segment is likely to finish: a log-normal distribution of its duration
/// (seconds from the token being added, or the export initiated, to `Complete`), fitted from the
/// segment's past durations.
///
/// μ = mean(ln d), σ = sample standard deviation of ln d, floored at ``sigmaFloor`` (a segment whose
/// past runs took identical times still gets a window, not a point). Pure and total: every method
/// accepts any `Double` (negative, zero, NaN, ±∞) and answers a finite value or a limit, never NaN,
/// so a forecast fitted from database values cannot trap or poison a schedule.
package struct CompletionForecast: Sendable, Hashable {
    /// Mean of ln(duration in seconds).
    package let mu: Double
    /// Standard deviation of ln(duration in seconds); at least ``sigmaFloor``.
    package let sigma: Double
    /// How many past durations the fit used (after dropping unusable ones and keeping the newest).
    package let sampleCount: Int

    /// Fewest usable past durations a fit needs. 3.
    package static let minimumSamples = 3
    /// Most past durations a fit uses (the newest ones): old runs describe an older workload. 50.
    package static let defaultMaximumSamples = 50
    /// Smallest σ a fit reports. 0.05 (a ±5 % window around the median).
    package static let sigmaFloor = 0.05

    /// Fits a forecast from past durations in seconds, **oldest first** (the newest
    /// `maximumSamples` usable ones are kept). Non-finite and non-positive values are ignored.
    /// `nil` with fewer than ``minimumSamples`` usable values.
    package init?(durations: [Double], maximumSamples: Int = CompletionForecast.defaultMaximumSamples) {
        let usable = durations.filter { $0.isFinite && $0 > 0 }
        let kept = usable.suffix(Swift.max(maximumSamples, Self.minimumSamples))
        guard kept.count >= Self.minimumSamples else { return nil }
        let logs = kept.map { Foundation.log($0) }
        let n = Double(logs.count)
        let mean = logs.reduce(0, +) / n
        let variance = logs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        self.mu = mean
        self.sigma = Swift.max(variance.squareRoot(), Self.sigmaFloor)
        self.sampleCount = logs.count
    }

    /// A forecast with a known median (seconds, > 0) and σ (≥ ``sigmaFloor`` after flooring); `nil`
    /// when either is not finite or the median is not positive. For tests and benchmarks.
    package init?(median: Double, sigma: Double) {
        guard median.isFinite, median > 0, sigma.isFinite else { return nil }
        self.mu = Foundation.log(median)
        self.sigma = Swift.max(sigma, Self.sigmaFloor)
        self.sampleCount = 0
    }

    /// The median duration, seconds.
    package var median: Double { Self.finite(exp(mu)) }

    /// The duration by which a fraction `p` of exports has finished, seconds. `p` ≤ 0 (or NaN) gives
    /// 0; `p` ≥ 1 is read as 1 − 10⁻¹⁵; an answer beyond `Double`'s range is pinned to its largest value.
    package func quantile(_ p: Double) -> Double {
        guard p > 0 else { return 0 }
        let z = Self.normalQuantile(Swift.min(p, 1 - 1e-15))
        return Self.finite(exp(mu + sigma * z))
    }

    /// P(duration ≤ `t`), `t` in seconds; 0 for `t` ≤ 0 or NaN, 1 for `t` = +∞.
    package func cdf(_ t: Double) -> Double {
        guard t > 0 else { return 0 }
        guard t.isFinite else { return 1 }
        return 0.5 * erfc(-z(t) / 2.0.squareRoot())
    }

    /// P(duration > `t`), computed directly (no 1 − cdf cancellation in the upper tail).
    package func survival(_ t: Double) -> Double {
        guard t > 0 else { return 1 }
        guard t.isFinite else { return 0 }
        return 0.5 * erfc(z(t) / 2.0.squareRoot())
    }

    /// Probability density at `t` seconds, per second; 0 outside (0, ∞).
    package func density(_ t: Double) -> Double {
        guard t > 0, t.isFinite else { return 0 }
        let zt = z(t)
        // In logs: σ·t underflows for a subnormal t.
        return Self.finite(
            exp(-0.5 * zt * zt - Foundation.log(sigma) - Foundation.log(t) - 0.5 * Foundation.log(2 * Double.pi)))
    }

    /// The hazard f(t)/S(t) at `t` seconds, per second: the chance per second of finishing now for an
    /// export still running at `t`. 0 for `t` ≤ 0, NaN or +∞ (its limit there); far in the upper tail,
    /// where f and S both underflow, the inverse Mills ratio comes from its continued fraction.
    package func hazard(_ t: Double) -> Double {
        guard t > 0, t.isFinite else { return 0 }
        let ratio = Self.inverseMillsRatio(z(t))
        guard ratio > 0 else { return 0 }
        return Self.finite(exp(Foundation.log(ratio) - Foundation.log(sigma) - Foundation.log(t)))
    }

    private func z(_ t: Double) -> Double { (Foundation.log(t) - mu) / sigma }

    /// φ(z)/(1 − Φ(z)), ≥ 0 and finite for every finite z.
    static func inverseMillsRatio(_ z: Double) -> Double {
        if z < 5 {
            let s = 0.5 * erfc(z / 2.0.squareRoot())
            let phi = exp(-0.5 * z * z) / (2 * Double.pi).squareRoot()
            return s > 0 ? phi / s : 0
        }
        // Mills ratio R(z) = 1/(z+ 1/(z+ 2/(z+ 3/(z+ …)))), evaluated from the bottom; 1/R = the ratio.
        var tail = z
        for k in stride(from: 40, through: 1, by: -1) { tail = z + Double(k) / tail }
        return tail.isFinite ? tail : z
    }

    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (lower half) refined by one Halley step.
    static func normalQuantile(_ p: Double) -> Double {
        // Upper half by symmetry (1 − p is exact there), so the refinement never meets a cancelled 1 − Φ.
        if p > 0.5 { return -normalQuantile(1 - p) }
        let a = [
            -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
            -3.066479806614716e+01, 2.506628277459239e+00,
        ]
        let b = [
            -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
            -1.328068155288572e+01,
        ]
        let c = [
            -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
            4.374664141464968e+00, 2.938163982698783e+00,
        ]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        let x: Double
        if p < low {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x =
                (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else {
            let q = p - 0.5
            let r = q * q
            x =
                (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        // One Halley step against erfc (relative error ~1e-15 in the body).
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(0.5 * x * x)
        let refined = x - u / (1 + x * u / 2)
        return refined.isFinite ? refined : x
    }

    /// `value` pinned into `Double`'s finite range (NaN → 0).
    static func finite(_ value: Double) -> Double {
        if value.isNaN { return 0 }
        return Swift.min(Swift.max(value, -Double.greatestFiniteMagnitude), Double.greatestFiniteMagnitude)
    }
}
