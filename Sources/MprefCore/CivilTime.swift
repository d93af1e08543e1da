import Foundation

/// Proleptic-Gregorian UTC date arithmetic done by hand, so that neither the host's locale, time
/// zone nor calendar settings can change how HTTP-dates are read or PNAUTHINFO3 timestamps written.
///
/// Algorithms: Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms" (`days_from_civil`,
/// `civil_from_days`).
package enum CivilTime {
    /// English month abbreviations as used by HTTP-date (RFC 9110 §5.6.7), index 0 = January.
    package static let monthNames = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Days since 1970-01-01 of the civil date `year-month-day` (month 1…12).
    package static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of `days` since 1970-01-01.
    package static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    package static func isLeapYear(_ year: Int64) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    package static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Seconds since the Unix epoch of a validated UTC civil time; `nil` when any field is out of range.
    /// A leap second (`60`) is read as `59`, the last representable second of that minute.
    package static func epochSeconds(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64)
        -> Int64?
    {
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        return days * 86_400 + hour * 3_600 + minute * 60 + min(second, 59)
    }

    /// `date` as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` in UTC, milliseconds truncated (never later than
    /// `date`): ``Timestamp/format(_:)``.
    package static func iso8601Milliseconds(_ date: Date) -> String {
        Timestamp.format(date)
    }

    /// English weekday abbreviations as used by HTTP-date, index 0 = Sunday.
    package static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// `Tue, 05 Mar 2024 07:08:09 GMT` (RFC 9110 §5.6.7 IMF-fixdate), the form `Retry-After` and
    /// `Date` carry; pinned to years 0000–9999 like every instant here.
    package static func imfFixdate(_ date: Date) -> String {
        let (seconds, _) = floorDivide(WallClock.milliseconds(date), 1000)
        let (days, secondOfDay) = floorDivide(seconds, 86_400)
        let civil = civilFromDays(days)
        let weekday = Int(((days + 4) % 7 + 7) % 7)  // 1970-01-01 was a Thursday
        return
            "\(weekdayNames[weekday]), \(pad(civil.day, 2)) \(monthNames[Int(civil.month - 1)]) \(pad(civil.year, 4)) "
            + "\(pad(secondOfDay / 3_600, 2)):\(pad(secondOfDay % 3_600 / 60, 2)):\(pad(secondOfDay % 60, 2)) GMT"
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
