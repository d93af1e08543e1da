import Foundation
import MprefCore

/// The simulator's view of mprefd's one UTC codec (`MprefCore`'s `Timestamp` and `CivilTime`), without shared formatter state (formatters are not `Sendable`,
/// and these run on every request): IMF-fixdate for `Retry-After`, ISO 8601 with milliseconds for the
/// request record, and the ISO 8601 `IssuedTimestamp` of PNAUTHINFO3.
enum UTCTimestamp {
    struct Civil: Equatable {
        var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64, millisecond: Int64
    }

    /// The civil UTC fields of `date`, rounded down to the millisecond (pinned to years 0000–9999: a
    /// scenario's delay near Int64.max seconds must not trap the simulator).
    static func civil(_ date: Date) -> Civil {
        civil(milliseconds: WallClock.milliseconds(date))
    }

    /// The civil UTC fields of exactly `totalMilliseconds` since the Unix epoch (no floating-point round trip).
    /// Pinned to years 0000–9999 like ``civil(_:)``.
    static func civil(milliseconds: Int64) -> Civil {
        let totalMilliseconds = min(max(milliseconds, WallClock.earliestMilliseconds), WallClock.latestMilliseconds)
        var dayNumber = totalMilliseconds / 86_400_000
        var msOfDay = totalMilliseconds % 86_400_000
        if msOfDay < 0 {
            msOfDay += 86_400_000
            dayNumber -= 1
        }
        let (year, month, day) = CivilTime.civilFromDays(dayNumber)
        return Civil(
            year: year, month: month, day: day, hour: msOfDay / 3_600_000, minute: msOfDay / 60_000 % 60,
            second: msOfDay / 1000 % 60, millisecond: msOfDay % 1000)
    }

    /// `Tue, 05 Mar 2024 07:08:09 GMT` (RFC 9110 IMF-fixdate), as sent in `Retry-After`.
    static func imfFixdate(_ date: Date) -> String { CivilTime.imfFixdate(date) }

    /// `2024-03-05T07:08:09.123Z` (ISO 8601, UTC, milliseconds), as stored in request records.
    static func iso8601Milliseconds(_ date: Date) -> String { Timestamp.format(date) }

    /// The PNAUTHINFO3 `IssuedTimestamp` and request-record times: ``Timestamp/parseISO8601(_:)``;
    /// a missing `Z` is read as UTC (one of the vendor's signature examples omits it).
    static func parseISO8601(_ text: String) -> Date? { Timestamp.parseISO8601(text) }
}
