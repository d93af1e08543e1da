/// Arithmetic on values that come from outside the process — HTTP status lines, headers and bodies,
/// configuration and `MPREFD_*` values, command-line arguments, database columns (a public interface:
/// operators have `sqlite3`), hook exit codes, clock readings — must never trap. These are the named
/// forms every such operation goes through: they pin at the type's bounds instead of overflowing.
extension FixedWidthInteger {
    /// `self + other`, pinned at `Self.min` / `Self.max` instead of overflowing.
    @inlinable
    package func addingSaturating(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, pinned at the bounds.
    @inlinable
    package func subtractingSaturating(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }

    /// `self * other`, pinned at the bounds.
    @inlinable
    package func multipliedSaturating(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }

    /// `self + 1`, pinned at `Self.max`: the next value of a counter read from outside.
    @inlinable
    package var incrementedSaturating: Self { addingSaturating(1) }

    /// An integer from a `Double` read from outside (or computed from one): rounded toward zero,
    /// pinned at the bounds; NaN is 0. `Int64(someDouble)` traps on all three; this never does.
    @inlinable
    package init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if let exact = Self(exactly: value.rounded(.towardZero)) {
            self = exact
        } else {
            self = value < 0 ? .min : .max
        }
    }
}
