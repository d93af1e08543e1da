import Foundation
import MprefCore
import Testing
@testable import MyPreferences

@Suite("Retry-After")
struct RetryAfterTests {
    /// Sun, 06 Nov 1994 08:49:37 GMT.
    static let rfcExample = Date(timeIntervalSince1970: 784_111_777)

    struct Case: Sendable, CustomTestStringConvertible {
        var values: [String]
        var dateHeader: String?
        var receivedAt: Date
        var expected: Duration?
        var testDescription: String { "\(values) date=\(dateHeader ?? "-") → \(expected.map { "\($0)" } ?? "nil")" }

        init(
            _ values: [String], date: String? = nil, receivedAt: Date = RetryAfterTests.rfcExample,
            _ expected: Duration?
        ) {
            self.values = values
            self.dateHeader = date
            self.receivedAt = receivedAt
            self.expected = expected
        }
    }

    static let cases: [Case] = [
        // delta-seconds
        Case(["120"], .seconds(120)),
        Case(["0"], .zero),
        Case([" \t7 "], .seconds(7)),
        Case(["007"], .seconds(7)),
        Case(["120", "120"], .seconds(120)),  // identical repeats are one value
        // HTTP-date, all three forms, against receivedAt (60 s before the date)
        Case(["Sun, 06 Nov 1994 08:49:37 GMT"], receivedAt: rfcExample.addingTimeInterval(-60), .seconds(60)),
        Case(["Sunday, 06-Nov-94 08:49:37 GMT"], receivedAt: rfcExample.addingTimeInterval(-60), .seconds(60)),
        Case(["Sun Nov  6 08:49:37 1994"], receivedAt: rfcExample.addingTimeInterval(-60), .seconds(60)),
        Case(["Wed Nov 16 08:49:37 1994"], receivedAt: rfcExample, .seconds(10 * 86_400)),
        // fractional receivedAt: rounded up to whole milliseconds
        Case(["Sun, 06 Nov 1994 08:49:37 GMT"], receivedAt: rfcExample.addingTimeInterval(-1.5), .milliseconds(1_500)),
        // HTTP-date measured against the response's Date header (our clock is an hour off)
        Case(
            ["Sun, 06 Nov 1994 08:50:07 GMT"], date: "Sun, 06 Nov 1994 08:49:37 GMT",
            receivedAt: rfcExample.addingTimeInterval(3_600), .seconds(30)),
        Case(
            ["Sun, 06 Nov 1994 08:50:07 GMT"], date: "Sunday, 06-Nov-94 08:49:37 GMT",
            receivedAt: rfcExample.addingTimeInterval(-3_600), .seconds(30)),
        // unparseable Date header: fall back to receivedAt
        Case(["Sun, 06 Nov 1994 08:50:07 GMT"], date: "yesterday", receivedAt: rfcExample, .seconds(30)),
        // past or present dates: retry now
        Case(["Sun, 06 Nov 1994 08:49:37 GMT"], receivedAt: rfcExample, .zero),
        Case(["Sun, 06 Nov 1994 08:49:37 GMT"], receivedAt: rfcExample.addingTimeInterval(86_400), .zero),
        Case(["Sun, 06 Nov 1994 08:49:37 GMT"], date: "Mon, 07 Nov 1994 08:49:37 GMT", .zero),
        // leap year day
        Case(
            ["Thu, 29 Feb 2024 00:00:00 GMT"], receivedAt: Date(timeIntervalSince1970: 1_709_164_800 - 10), .seconds(10)
        ),

        // delta-seconds too long for any clock: still a (very long) delay, pinned to Duration.longest
        // (the poll policy then caps it at polling.max_retry_after_s)
        Case(["9000000001"], .seconds(9_000_000_000)),
        Case(["9223372036854775807"], .seconds(9_000_000_000)),  // Int64.max: crashed the daemon (issue 12)
        Case(["9223372036854775808"], .seconds(9_000_000_000)),  // beyond 64 bits
        Case(["99999999999999999999999999"], .seconds(9_000_000_000)),
        Case(["00000000000000000000000000120"], .seconds(120)),
        // a date far in the future: pinned the same way
        Case(["Fri, 31 Dec 9999 23:59:59 GMT"], receivedAt: Date(timeIntervalSince1970: 0), .seconds(9_000_000_000)),

        // no usable hint
        Case([], nil),
        Case([""], nil),
        Case(["   "], nil),
        Case(["-1"], nil),
        Case(["+5"], nil),
        Case(["1.5"], nil),
        Case(["1e3"], nil),
        Case(["12 s"], nil),
        Case(["١٢"], nil),  // non-ASCII digits
        Case(["120", "60"], nil),  // conflicting repeats
        Case(["120", ""], nil),
        Case(["Sun, 06 Nov 1994 08:49:37 UTC"], nil),
        Case(["Sun, 6 Nov 1994 08:49:37 GMT"], nil),
        Case(["Sun, 06 nov 1994 08:49:37 GMT"], nil),
        Case(["Son, 06 Nov 1994 08:49:37 GMT"], nil),  // German day name
        Case(["So, 06 Nov 1994 08:49:37 GMT"], nil),
        Case(["Sun, 06 Okt 1994 08:49:37 GMT"], nil),  // German month name
        Case(["Sun, 31 Nov 1994 08:49:37 GMT"], nil),  // no such day
        Case(["Sun, 29 Feb 2023 08:49:37 GMT"], nil),
        Case(["Sun, 06 Nov 1994 24:00:00 GMT"], nil),
        Case(["Sun, 06 Nov 1994 08:60:00 GMT"], nil),
        Case(["Sun, 06 Nov 1994 8:49:37 GMT"], nil),
        Case(["Sun, 06 Nov 1994 08:49:37"], nil),
        Case(["Sun,06 Nov 1994 08:49:37 GMT"], nil),
        Case(["Sunday, 06-Nov-1994 08:49:37 GMT"], nil),
        Case(["Sun Nov 6 08:49:37 1994"], nil),  // asctime day must be padded
        Case(["1994-11-06T08:49:37Z"], nil),
        Case(["Sun, 06 Nov 1994 08:49:37 GMT\u{00}"], nil),
    ]

    @Test(arguments: cases)
    func delay(_ testCase: Case) {
        let delay = RetryAfter.delay(
            from: testCase.values, dateHeader: testCase.dateHeader, receivedAt: testCase.receivedAt)
        #expect(delay == testCase.expected)
    }

    /// RFC 850 two-digit years: more than 50 years ahead of the reference means the previous century.
    @Test func rfc850TwoDigitYears() throws {
        let in2024 = Date(timeIntervalSince1970: 1_704_067_200)  // 2024-01-01
        let epoch74 = try #require(HTTPDate.parse("Saturday, 01-Jan-74 00:00:00 GMT", relativeTo: in2024))
        #expect(epoch74 == CivilTime.epochSeconds(year: 2074, month: 1, day: 1, hour: 0, minute: 0, second: 0))
        let epoch75 = try #require(HTTPDate.parse("Wednesday, 01-Jan-75 00:00:00 GMT", relativeTo: in2024))
        #expect(epoch75 == 157_766_400)  // 1975-01-01
    }

    /// The hand parser agrees with a Foundation formatter pinned to en_US_POSIX and GMT over many
    /// dates — and neither depends on the host's locale or time zone.
    @Test func agreesWithPOSIXFormatterOnManyDates() throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var generator = SplitMix64(seed: 42)
        for _ in 0..<500 {
            // 1970 … 2100
            let seconds = Int64(generator.next() % 4_102_444_800)
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            let text = formatter.string(from: date)
            #expect(HTTPDate.parse(text, relativeTo: date) == seconds, "\(text)")
        }
    }

    @Test func pnauthinfo3TimestampIsUTCWithMillisecondsTruncated() {
        #expect(
            PNAuthInfo3.timestamp(for: Date(timeIntervalSince1970: 1_709_622_489.1239)) == "2024-03-05T07:08:09.123Z")
        #expect(PNAuthInfo3.timestamp(for: Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(PNAuthInfo3.timestamp(for: Date(timeIntervalSince1970: 951_825_599.9999)) == "2000-02-29T11:59:59.999Z")
        #expect(PNAuthInfo3.timestamp(for: Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }
}
