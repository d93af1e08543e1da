import Foundation
import MprefCore

/// The database's one time format: UTC text `YYYY-MM-DDTHH:MM:SS.sssZ` (millisecond precision),
/// which sorts as text in time order and which sqlite3's date functions read.
///
/// Formatting and parsing are locale- and time-zone-independent (plain arithmetic on the Unix epoch).
public enum Timestamp {
    /// Formats `date` as `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, milliseconds truncated toward the past).
    /// A date outside years 0000–9999 (a clock gone wrong, a value computed from an absurd delay) is
    /// written as the nearest end of that range (`WallClock`), so every timestamp written parses back.
    public static func format(_ date: Date) -> String {
        let totalMs = WallClock.milliseconds(date)
        var days = totalMs >= 0 ? totalMs / 86_400_000 : (totalMs - 86_399_999) / 86_400_000
        let msOfDay = totalMs - days * 86_400_000
        // Civil-from-days (Howard Hinnant's algorithm), valid for the whole proleptic Gregorian calendar.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let h = msOfDay / 3_600_000, m = msOfDay / 60_000 % 60, s = msOfDay / 1000 % 60, ms = msOfDay % 1000
        // The usual case, written into the string's storage directly: it runs two or three times for
        // every poll committed (a fifth of the commit's CPU when built by interpolation).
        return String(unsafeUninitializedCapacity: 24) { text in
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    text[i] = UInt8(truncatingIfNeeded: 48 + v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0); text[4] = 45; put(month, 2, at: 5); text[7] = 45; put(day, 2, at: 8); text[10] = 84
            put(h, 2, at: 11); text[13] = 58; put(m, 2, at: 14); text[16] = 58; put(s, 2, at: 17); text[19] = 46
            put(ms, 3, at: 20); text[23] = 90
            return 24
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (also with a space instead of `T`, or without `Z`, as
    /// sqlite3's `strftime` writes); `nil` for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                let b = bytes[i]
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int64(b - 48)
            }
            return value
        }
        guard bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 32, bytes[13] == 58, bytes[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        if index < bytes.count, bytes[index] == 90 { index += 1 }
        guard index == bytes.count else { return nil }
        // Days-from-civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
        return Date(timeIntervalSince1970: seconds)
    }
}
