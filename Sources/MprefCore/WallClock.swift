import Foundation

/// Wall-clock instants (`Date`) as the database and the API write them: UTC, whole milliseconds,
/// years 0000–9999 (the four-digit years of `YYYY-MM-DDTHH:MM:SS.sssZ`). A reading of the clock, a
/// date parsed from outside or one computed from an outside delay is pinned into that range before
/// it is turned into an integer, so no conversion can trap and every timestamp written reads back.
package enum WallClock {
    /// 0000-01-01T00:00:00.000Z, in milliseconds since the Unix epoch.
    package static let earliestMilliseconds: Int64 = -62_167_219_200_000
    /// 9999-12-31T23:59:59.999Z, in milliseconds since the Unix epoch.
    package static let latestMilliseconds: Int64 = 253_402_300_799_999

    /// Milliseconds since the Unix epoch, rounded toward the past, pinned to years 0000–9999
    /// (NaN reads as the epoch).
    package static func milliseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded(.down)
        return Swift.min(Swift.max(Int64(saturating: value), earliestMilliseconds), latestMilliseconds)
    }

    /// The instant `ms` milliseconds after the Unix epoch, pinned to years 0000–9999. Half a
    /// millisecond later than exact, so that ``milliseconds(_:)`` reads `ms` back whatever the
    /// rounding of the `Double` inside `Date`.
    package static func date(milliseconds ms: Int64) -> Date {
        Date(
            timeIntervalSince1970: (Double(Swift.min(Swift.max(ms, earliestMilliseconds), latestMilliseconds)) + 0.5)
                / 1000)
    }

    /// Whole seconds since the Unix epoch, rounded toward the past, pinned like ``milliseconds(_:)``.
    package static func seconds(_ date: Date) -> Int64 {
        let ms = milliseconds(date)
        return ms >= 0 ? ms / 1000 : (ms - 999) / 1000
    }

    /// `date + delay`, pinned to years 0000–9999.
    package static func adding(_ delay: Duration, to date: Date) -> Date {
        let result = date.addingTimeInterval(delay.clamped.seconds)
        return pinned(result)
    }

    /// `date` pinned to years 0000–9999.
    package static func pinned(_ date: Date) -> Date {
        let s = date.timeIntervalSince1970
        if s.isNaN { return Date(timeIntervalSince1970: 0) }
        let low = Double(earliestMilliseconds) / 1000, high = Double(latestMilliseconds) / 1000
        return s < low ? Date(timeIntervalSince1970: low) : s > high ? Date(timeIntervalSince1970: high) : date
    }
}
