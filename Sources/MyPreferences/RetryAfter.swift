import Foundation
import MprefCore

/// Reads the `Retry-After` response header (RFC 9110 §10.2.3) into a delay.
///
/// MyPreferences answers 503 for "a temporary condition: delay your request for some time"
/// (MyPreferences Profiles API help, "HTTP status codes"); the header, when sent, says how long.
///
/// Accepted forms:
/// - delta-seconds: ASCII digits only, optionally surrounded by spaces or tabs (`"120"`, `" 0 "`).
///   `0` is legal and means "retry now" (`Duration.zero`).
/// - HTTP-date in any of the three forms of RFC 9110 §5.6.7: IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`,
///   RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`, asctime `Sun Nov  6 08:49:37 1994`. Parsed by hand with
///   English names and UTC arithmetic, so the host's locale, time zone and calendar play no part.
///   The delay is measured against the response's own `Date` header when that parses (cancelling
///   clock skew between us and the server), otherwise against `receivedAt`. A date not after that
///   reference is `Duration.zero` ("retry now").
///
/// A delay longer than `Duration.longest` (~285 years) — delta-seconds of any length, even beyond
/// 64 bits, or a far-future date — is still a valid, very long delay: it is pinned to
/// `Duration.longest`, and the poll policy caps it at `polling.max_retry_after_s` (and logs that).
///
/// Everything else is "no usable hint" (`nil`), never `0` and never a trap: negative, signed
/// (`+5`), fractional, empty, non-ASCII digits, unknown date forms, and a header repeated with
/// *differing* values (identical repeats are read as one).
package enum RetryAfter {
    /// The delay the server asks for, or `nil` when there is no usable hint.
    ///
    /// - Parameters:
    ///   - values: every `Retry-After` field value of the response, in order (empty when absent).
    ///   - dateHeader: the response's `Date` field value, if any.
    ///   - receivedAt: when the response arrived, by our wall clock; the reference for an
    ///     HTTP-date when `dateHeader` is missing or unparseable.
    /// - Returns: a non-negative delay, or `nil`.
    package static func delay(from values: [String], dateHeader: String?, receivedAt: Date) -> Duration? {
        guard let first = values.first else { return nil }
        let value = trimOWS(first)
        // Repeated fields: usable only when they all agree.
        guard values.dropFirst().allSatisfy({ trimOWS($0) == value }), !value.isEmpty else { return nil }

        if value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            // Beyond 64 bits is still "a very long time", not "no hint".
            return .clampedSeconds(Int64(value) ?? .max)
        }

        guard let retryAt = HTTPDate.parse(value, relativeTo: receivedAt) else { return nil }
        if let dateHeader, let serverNow = HTTPDate.parse(trimOWS(dateHeader), relativeTo: receivedAt) {
            return retryAt > serverNow ? .clampedSeconds(retryAt.subtractingSaturating(serverNow)) : .zero
        }
        let remaining = Double(retryAt) - receivedAt.timeIntervalSince1970
        guard remaining > 0 else { return .zero }
        // Whole milliseconds, rounded up so "retry at T" never becomes "retry just before T".
        return Duration.milliseconds(Int64(saturating: (remaining * 1000).rounded(.up))).clamped
    }

    /// Removes optional whitespace (SP / HTAB, RFC 9110 §5.6.3) around a field value.
    static func trimOWS(_ text: String) -> String {
        let isOWS: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let bytes = Array(text.utf8)
        guard let start = bytes.firstIndex(where: { !isOWS($0) }), let end = bytes.lastIndex(where: { !isOWS($0) })
        else {
            return ""
        }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }
}

/// HTTP-date parsing (RFC 9110 §5.6.7) to seconds since the Unix epoch.
enum HTTPDate {
    private static let shortDayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let longDayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// Seconds since the epoch of an HTTP-date in any of its three forms; `nil` when malformed.
    /// `reference` resolves the two-digit year of the RFC 850 form: a year that appears to be more
    /// than 50 years in the future is the most recent past year with the same last two digits.
    static func parse(_ text: String, relativeTo reference: Date) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let string = String(decoding: bytes, as: UTF8.self)
        if let comma = string.firstIndex(of: ",") {
            let dayName = String(string[..<comma])
            let rest = String(string[string.index(after: comma)...])
            if shortDayNames.contains(dayName) { return parseIMFFixdate(rest) }
            if longDayNames.contains(dayName) { return parseRFC850(rest, reference: reference) }
            return nil
        }
        return parseAsctime(string)
    }

    /// ` 06 Nov 1994 08:49:37 GMT` (after `Sun,`).
    private static func parseIMFFixdate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].isEmpty, parts[5] == "GMT",
            parts[1].utf8.count == 2, let day = digits(parts[1]),
            let month = month(parts[2]),
            parts[3].utf8.count == 4, let year = digits(parts[3]),
            let time = timeOfDay(parts[4])
        else { return nil }
        return CivilTime.epochSeconds(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second)
    }

    /// ` 06-Nov-94 08:49:37 GMT` (after `Sunday,`).
    private static func parseRFC850(_ text: String, reference: Date) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[3] == "GMT" else { return nil }
        let date = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard date.count == 3,
            date[0].utf8.count == 2, let day = digits(date[0]),
            let month = month(date[1]),
            date[2].utf8.count == 2, let twoDigitYear = digits(date[2]),
            let time = timeOfDay(parts[2])
        else { return nil }
        // RFC 9110 §5.6.7: more than 50 years in the future → the most recent past such year.
        let referenceSeconds = WallClock.seconds(reference)
        let referenceYear = CivilTime.civilFromDays(
            referenceSeconds >= 0 ? referenceSeconds / 86_400 : (referenceSeconds - 86_399) / 86_400
        ).year
        let century = referenceYear - referenceYear % 100
        var year = century + twoDigitYear
        if year > referenceYear + 50 { year -= 100 }
        return CivilTime.epochSeconds(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second)
    }

    /// `Sun Nov  6 08:49:37 1994` (day padded with a space) or `Sun Nov 16 08:49:37 1994`.
    private static func parseAsctime(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 24 else { return nil }
        let dayName = String(decoding: bytes[0..<3], as: UTF8.self)
        guard shortDayNames.contains(dayName), bytes[3] == 0x20, bytes[7] == 0x20, bytes[10] == 0x20,
            bytes[19] == 0x20, let month = month(Substring(String(decoding: bytes[4..<7], as: UTF8.self)))
        else { return nil }
        let dayField = bytes[8..<10]
        let day: Int64
        if dayField.first == 0x20 {
            guard let value = digits(Substring(String(decoding: dayField.dropFirst(), as: UTF8.self))) else {
                return nil
            }
            day = value
        } else {
            guard let value = digits(Substring(String(decoding: dayField, as: UTF8.self))) else { return nil }
            day = value
        }
        guard let time = timeOfDay(Substring(String(decoding: bytes[11..<19], as: UTF8.self))),
            let year = digits(Substring(String(decoding: bytes[20..<24], as: UTF8.self)))
        else { return nil }
        return CivilTime.epochSeconds(
            year: year, month: month, day: day, hour: time.hour, minute: time.minute, second: time.second)
    }

    /// `hh:mm:ss`, exactly two digits each.
    private static func timeOfDay(_ text: Substring) -> (hour: Int64, minute: Int64, second: Int64)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.utf8.count == 2 }),
            let hour = digits(parts[0]), let minute = digits(parts[1]), let second = digits(parts[2])
        else { return nil }
        return (hour, minute, second)
    }

    /// 1-based month number of an English three-letter abbreviation (case-sensitive, as RFC 9110 says).
    private static func month(_ text: Substring) -> Int64? {
        guard let index = CivilTime.monthNames.firstIndex(of: String(text)) else { return nil }
        return Int64(index + 1)
    }

    /// A non-empty run of ASCII digits (at most 9) as a number.
    private static func digits(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 9,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int64(text)
    }
}
