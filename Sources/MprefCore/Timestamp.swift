import Foundation

/// mprefd's one UTC timestamp codec: `YYYY-MM-DDTHH:MM:SS.sssZ` (millisecond precision), the
/// database's time format (it sorts as text in time order and sqlite3's date functions read it), the
/// PNAUTHINFO3 `IssuedTimestamp` and the simulator's records.
///
/// Formatting and parsing are locale- and time-zone-independent (plain arithmetic on the Unix epoch).
package enum Timestamp {
    /// Formats `date` as `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, milliseconds truncated toward the past).
    /// A date outside years 0000–9999 (a clock gone wrong, a value computed from an absurd delay) is
    /// written as the nearest end of that range (`WallClock`), so every timestamp written parses back.
    package static func format(_ date: Date) -> String {
        let totalMs = WallClock.milliseconds(date)
        let days = totalMs >= 0 ? totalMs / 86_400_000 : (totalMs - 86_399_999) / 86_400_000
        let msOfDay = totalMs - days * 86_400_000
        let (year, month, day) = CivilTime.civilFromDays(days)
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

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f…]Z`: 1–7 fraction digits; `T` or `t` between date and time (or a
    /// space, as sqlite3's `strftime` writes); `Z`, `z` or nothing at the end
    /// (read as UTC); any other zone is refused. The date must exist (no 2024-02-30); a leap second
    /// `60` is read as `59`. `nil` for anything else.
    package static func parse(_ text: String) -> Date? { parse(text, allowingSpace: true) }

    /// ``parse(_:)`` without the space form: ISO 8601 only (the PNAUTHINFO3 `IssuedTimestamp`).
    package static func parseISO8601(_ text: String) -> Date? { parse(text, allowingSpace: false) }

    /// ``parse(_:)`` for a time another system wrote in a format it does not document (the status's
    /// `Expires`): also 8–9 fraction digits, and a zone offset `±HH:MM` or `±HHMM` (at most ±23:59),
    /// which is applied. `nil` for anything else.
    package static func parseAnyOffset(_ text: String) -> Date? {
        parse(text, allowingSpace: true, allowingOffset: true)
    }

    private static func parse(_ text: String, allowingSpace: Bool, allowingOffset: Bool = false) -> Date? {
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
        let separator = bytes[10]
        guard bytes[4] == 45, bytes[7] == 45, bytes[13] == 58, bytes[16] == 58,
            separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || (allowingSpace && separator == 32),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let seconds = CivilTime.epochSeconds(
                year: year, month: month, day: day, hour: hour, minute: minute, second: second)
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
            guard (1...(allowingOffset ? 9 : 7)).contains(index - start) else { return nil }
        }
        var offset: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if allowingOffset, index < bytes.count,
            bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")
        {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            let rest = bytes.count - index - 1
            let colon = rest == 5 && bytes[index + 3] == 58
            guard rest == 4 || colon, let hours = number(index + 1..<index + 3),
                let minutes = number(colon ? index + 4..<index + 6 : index + 3..<index + 5), hours <= 23, minutes <= 59
            else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
            index = bytes.count
        }
        guard index == bytes.count else { return nil }
        // Local time minus its offset is UTC (`…T10:00:00+02:00` is 08:00Z).
        return Date(timeIntervalSince1970: Double(seconds - offset) + fraction)
    }
}
