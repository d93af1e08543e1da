import Foundation
import Testing

@testable import MyPreferencesSimulator

@Suite("UTC timestamps")
struct UTCTimestampTests {
    static let instants: [TimeInterval] = [
        0, 951_782_400 /* 2000-02-29 */, 1_709_622_489.123, 4_102_444_799.999, -86_400 * 365.0, 1_234_567_890.5,
    ]

    @Test("IMF-fixdate matches an en_US_POSIX DateFormatter", arguments: instants)
    func imfFixdate(seconds: TimeInterval) {
        let date = Date(timeIntervalSince1970: seconds.rounded(.down))
        #expect(UTCTimestamp.imfFixdate(date) == httpDateFormatter().string(from: date))
    }

    @Test("ISO 8601 with milliseconds round-trips", arguments: instants)
    func iso8601RoundTrip(seconds: TimeInterval) throws {
        let date = Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000)
        let text = UTCTimestamp.iso8601Milliseconds(date)
        #expect(text.count == 24)
        let parsed = try #require(UTCTimestamp.parseISO8601(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.0005)
    }

    @Test("Known values")
    func knownValues() {
        let date = Date(timeIntervalSince1970: 1_709_622_489.123)
        #expect(UTCTimestamp.iso8601Milliseconds(date) == "2024-03-05T07:08:09.123Z")
        #expect(UTCTimestamp.imfFixdate(date) == "Tue, 05 Mar 2024 07:08:09 GMT")
        #expect(UTCTimestamp.parseISO8601("2024-03-05T07:08:09Z") == Date(timeIntervalSince1970: 1_709_622_489))
        #expect(UTCTimestamp.parseISO8601("2025-11-30T23:59:59") == Date(timeIntervalSince1970: 1_764_547_199))
    }

    @Test(
        "Malformed timestamps are rejected",
        arguments: [
            "", "2024-03-05", "2024-03-05 07:08:09Z", "2024-02-30T00:00:00Z", "2024-13-01T00:00:00Z",
            "2024-03-05T24:00:00Z", "2024-03-05T07:08:09.Z", "2024-03-05T07:08:09+01:00",
            "2024-03-05T07:08:09.12345678Z", "x024-03-05T07:08:09Z",
        ])
    func malformed(text: String) {
        #expect(UTCTimestamp.parseISO8601(text) == nil)
    }

    @Test("PNAUTHINFO3 header parsing splits the credential at the last slash")
    func headerParsing() throws {
        let parsed = try #require(
            Authenticator.parsePNAuthInfo3(
                "pnauthinfo3-hmac-sha256 Credential=ops/bot/2026-01-01T00:00:00Z, Signature=abc="))
        #expect(
            parsed
                == Authenticator.PNAuthInfo3Credentials(
                    userID: "ops/bot", timestamp: "2026-01-01T00:00:00Z", signature: "abc="))
        #expect(Authenticator.parsePNAuthInfo3("Bearer x") == nil)
        #expect(Authenticator.parsePNAuthInfo3("PNAUTHINFO3-HMAC-SHA256 Credential=u/t") == nil)
        #expect(Authenticator.parsePNAuthInfo3("PNAUTHINFO3-HMAC-SHA256 Credential=u/t Signature=s Extra=1") == nil)
    }
}
