import Foundation
import Testing
@testable import MprefCore

/// The one UTC timestamp codec (store, client, simulator): what it writes parses back, and the
/// two parse forms differ only in the space separator.
struct TimestampTests {
    @Test func formatAndParseRoundTripAcrossTheRange() {
        for ms in stride(from: Int64(-62_167_219_200_000), through: 253_402_300_799_000, by: 9_876_543_210_987) {
            let date = Date(timeIntervalSince1970: Double(ms) / 1000)
            let text = Timestamp.format(date)
            #expect(Timestamp.parse(text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } == ms, "\(text)")
            #expect(Timestamp.parseISO8601(text) == Timestamp.parse(text))
        }
        #expect(
            CivilTime.iso8601Milliseconds(Date(timeIntervalSince1970: 1_709_622_489.123)) == "2024-03-05T07:08:09.123Z")
        #expect(CivilTime.imfFixdate(Date(timeIntervalSince1970: 1_709_622_489)) == "Tue, 05 Mar 2024 07:08:09 GMT")
    }

    @Test func whatEachFormAccepts() {
        let t = Date(timeIntervalSince1970: 1_709_622_489)
        #expect(Timestamp.parse("2024-03-05 07:08:09") == t)  // sqlite3's strftime form
        #expect(Timestamp.parseISO8601("2024-03-05 07:08:09Z") == nil)  // not ISO 8601
        #expect(Timestamp.parseISO8601("2024-03-05t07:08:09z") == t)
        #expect(Timestamp.parse("2024-03-05T07:08:09") == t)  // no zone: UTC
        // leap second → :59
        #expect(Timestamp.parse("2016-12-31T23:59:60Z") == Date(timeIntervalSince1970: 1_483_228_799))
        for bad in [
            "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-03-05T07:08:09.12345678Z",
            "2024-03-05T07:08:09+01:00",
            "2024-03-05T24:00:00Z", "2024-03-05T07:08:09.Z", "２024-03-05T07:08:09Z",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    /// A time from a system whose format is undocumented (`Expires`): offsets applied, up to 9 digits.
    @Test func anyOffsetAppliesTheOffset() {
        let t = Date(timeIntervalSince1970: 1_709_622_489)
        #expect(Timestamp.parseAnyOffset("2024-03-05T07:08:09Z") == t)
        #expect(Timestamp.parseAnyOffset("2024-03-05T07:08:09+00:00") == t)
        #expect(Timestamp.parseAnyOffset("2024-03-05T09:08:09+02:00") == t)
        #expect(Timestamp.parseAnyOffset("2024-03-05T05:38:09-0130") == t)
        #expect(Timestamp.parseAnyOffset("2024-03-05T07:08:09.500000000Z") == t.addingTimeInterval(0.5))
        #expect(Timestamp.parseAnyOffset("2024-03-05 07:08:09") == t)
        for bad in [
            "2024-03-05T07:08:09+24:00", "2024-03-05T07:08:09+01:60", "2024-03-05T07:08:09+1:00",
            "2024-03-05T07:08:09+01:00Z",
            "2024-03-05T07:08:09+01", "2024-03-05T07:08:09.1234567890Z", "2024-03-05T07:08:09 +01:00",
            "2024-03-05T07:08:09+０1:00",
        ] {
            #expect(Timestamp.parseAnyOffset(bad) == nil, "\(bad)")
        }
    }
}
