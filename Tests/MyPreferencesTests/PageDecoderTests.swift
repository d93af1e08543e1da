import Foundation
import MprefCore
import Testing
@testable import MyPreferences

/// The retrieve answer's decoder: records copied byte for byte, keys case-insensitive, anything
/// that is not a valid page refused with a reason.
struct PageDecoderTests {
    func page(_ text: String) throws -> ExportPage {
        guard case .ok(let page) = PageDecoder.decode(Array(text.utf8)) else {
            Issue.record("not a page: \(PageDecoder.decode(Array(text.utf8)))")
            throw CancellationError()
        }
        return page
    }

    func reason(_ text: String) -> String? {
        if case .undecodable(let reason, _) = PageDecoder.decode(Array(text.utf8)) { return reason }
        return nil
    }

    @Test func recordsAreCopiedByteForByteOneLineEach() throws {
        let records = [
            #"{"ProfileId":9007199254740993,"Name":"Zoë \u00e9 日本語 🎉","Nested":{"a":[1,2.50,-3e+2,{"b":null}]},"Esc":"\"\\\/\n\u2028"}"#,
            #"{"ProfileID":1,"DeletedDate":"2026-01-01T00:00:00.000Z","ReasonCode":"GDPR"}"#,
            #"{}"#, #"{"a":[[],{}],"n":-0.5e-3}"#, #"{"big":12345678901234567890}"#,
        ]
        let body =
            #"{"Count":5,"HasMore":true,"Limit":5,"Offset":11,"TotalResults":99,"UserProfilePreferences":["#
            + records.joined(separator: ",") + "]}"
        let p = try page(body)
        #expect(p.count == 5 && p.hasMore == true && p.limit == 5 && p.offset == 11 && p.totalResults == 99)
        #expect(p.records == 5)
        #expect(p.recordKey == "UserProfilePreferences")
        #expect(p.ndjson == Array((records.joined(separator: "\n") + "\n").utf8))
    }

    /// Strings are skipped eight bytes at a time while plain: a quote, backslash, control character
    /// or non-ASCII byte at every position of a word (and across words) is still seen.
    @Test(arguments: 0..<20)
    func everyByteOfAStringIsCheckedWhereverItFallsInAWord(at offset: Int) throws {
        let lead = String(repeating: "x", count: offset)
        func body(_ value: [UInt8]) -> [UInt8] {
            Array(#"{"Preferences":[{"a":""#.utf8) + Array(lead.utf8) + value + Array(#"yyyyyyyyyy"}]}"#.utf8)
        }
        for good in [[], Array("é".utf8), Array("\\\"".utf8), Array("\\u00e9".utf8), Array("日本".utf8)] {
            let bytes = body(good)
            guard case .ok(let page) = PageDecoder.decode(bytes) else {
                Issue.record("refused \(good) at \(offset)"); continue
            }
            #expect(page.ndjson == Array(bytes[16..<(bytes.count - 2)]) + [0x0A], "\(good) at \(offset)")
        }
        for (bad, why) in [
            ([0x01], "control character"), ([0x1F], "control character"), ([0xFF], "UTF-8"), ([0xC3], "UTF-8"),
            ([0x0A], "control character"), (Array("\\x".utf8), "invalid escape"),
        ] as [([UInt8], String)] {
            guard case .undecodable(let reason, _) = PageDecoder.decode(body(bad)) else {
                Issue.record("accepted \(bad) at \(offset)"); continue
            }
            #expect(reason.contains(why), "\(bad) at \(offset): \(reason)")
        }
        // The closing quote at every position ends the string there.
        guard
            case .ok(let short) = PageDecoder.decode(
                Array(#"{"Preferences":[{"a":""#.utf8) + Array(lead.utf8) + Array(#"","b":1}]}"#.utf8))
        else {
            Issue.record("refused a string of \(offset) bytes"); return
        }
        #expect(short.records == 1)
    }

    /// The word-at-a-time search stops at exactly the first byte a byte-wise search stops at, for
    /// random runs of the bytes on either side of each threshold (a borrow out of one byte must
    /// never flag an earlier one), from every start.
    @Test func thePlainRunEndsWhereAByteWiseSearchEndsIt() {
        let alphabet: [UInt8] = [
            0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xC3, 0xFF, 0x61,
        ]
        func byteWise(_ bytes: [UInt8], from start: Int) -> Int {
            bytes[start...].firstIndex { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 || $0 >= 0x80 } ?? bytes.count
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<4000 {
            let length = Int(rng.next() % 40)
            // Mostly plain bytes (0x20...0x7F but the quote and backslash), so that runs are long.
            let bytes = (0..<length).map { _ -> UInt8 in
                let roll = rng.next()
                return roll % 4 == 0
                    ? alphabet[Int((roll >> 8) % UInt64(alphabet.count))] : UInt8(0x23 + (roll >> 8) % 0x39)
            }
            for start in 0...length {
                let found = bytes.withUnsafeBytes { JSONScanner.plainRunEnd(in: $0, from: start) }
                #expect(found == byteWise(bytes, from: start), "\(bytes) from \(start)")
            }
        }
    }

    @Test func keysAreCaseInsensitiveAndPreferencesIsAccepted() throws {
        let p = try page(#"{"count":1,"hasMore":false,"limit":10,"offset":1,"totalResults":1,"preferences":[{"x":1}]}"#)
        #expect(
            p.count == 1 && p.hasMore == false && p.totalResults == 1 && p.records == 1 && p.recordKey == "preferences")
        #expect(p.ndjson == Array("{\"x\":1}\n".utf8))
    }

    @Test func prettyPrintedRecordsBecomeOneLineWithTheirSpacesKept() throws {
        let p = try page(
            "{\n  \"Count\": 1,\r\n  \"UserProfilePreferences\": [\n    {\n      \"a\": \"x y\",\n      \"b\": [ 1, 2 ]\n    }\n  ]\n}\n"
        )
        #expect(String(decoding: p.ndjson, as: UTF8.self) == "{      \"a\": \"x y\",      \"b\": [ 1, 2 ]    }\n")
    }

    @Test func aByteOrderMarkIsSkippedAndRecordsMustBeObjects() throws {
        let p = try page("\u{FEFF}" + #"{"Offset":1,"Preferences":[{"a":1}]}"#)
        #expect(p.records == 1)
        for record in ["null", "1", #""str""#, "[]"] {
            #expect(reason(#"{"Preferences":["# + record + "]}")?.contains("is not a JSON object") == true, "\(record)")
        }
    }

    @Test func nullCountsAndAnEmptyArrayDecode() throws {
        let p = try page(#"{"Count":null,"HasMore":null,"TotalResults":null,"UserProfilePreferences":[]}"#)
        #expect(p.count == nil && p.hasMore == nil && p.totalResults == nil && p.records == 0 && p.ndjson.isEmpty)
        let q = try page(#"{"UserProfilePreferences":null,"Extra":{"deep":[{}]}}"#)
        #expect(q.records == 0)
    }

    @Test(arguments: [
        ("", "expected the page to be a JSON object"),
        (#"{"Count":1}"#, "no UserProfilePreferences or Preferences array"),
        (#"{"Count":1,"count":2,"Preferences":[]}"#, "appears twice"),
        (#"{"Preferences":[],"UserProfilePreferences":[]}"#, "both"),
        (#"{"Count":9223372036854775808,"Preferences":[]}"#, "within 64 bits"),
        (#"{"Count":1.5,"Preferences":[]}"#, "within 64 bits"),
        (#"{"HasMore":"yes","Preferences":[]}"#, "not true, false or null"),
        (#"{"Preferences":[{"a":1}]"#, "expected"),
        (#"{"Preferences":[{"a":01}]}"#, "expected"),
        (#"{"Preferences":[{"a":"\x"}]}"#, "invalid escape"),
        (#"{"Preferences":[{"a":"\u12"}]}"#, "4 hex digits"),
        ("{\"Preferences\":[{\"a\":\"tab\there\"}]}", "control character"),
        (#"{"Preferences":[{"a":tru}]}"#, "expected a value"),
        (#"{"Preferences":[{"a":1,}]}"#, "expected a string"),
        (#"{"Preferences":[]} x"#, "text after"),
    ])
    func invalidPagesAreRefusedWithAReason(body: String, expected: String) {
        let why = reason(body)
        #expect(why?.contains(expected) == true, "\(body): \(why ?? "decoded")")
    }

    @Test func invalidUTF8AndHostileNestingAreRefusedWithoutTrapping() {
        var bytes = Array(#"{"Preferences":[{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}]}"#.utf8)
        if case .undecodable(let why, _) = PageDecoder.decode(bytes) {
            #expect(why.contains("UTF-8"))
        } else {
            Issue.record("decoded")
        }
        bytes =
            Array(#"{"Preferences":[{"a":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 100_000)
            + Array(repeating: UInt8(ascii: "]"), count: 100_000) + Array("}]}".utf8)
        if case .undecodable(let why, _) = PageDecoder.decode(bytes) {
            #expect(why.contains("nested deeper"))
        } else {
            Issue.record("decoded")
        }
        for cut in stride(from: 0, to: 60, by: 3) {
            let text = #"{"Count":1,"Preferences":[{"a":[1,{"b":"ü"}]}],"HasMore":false}"#
            _ = PageDecoder.decode(Array(text.utf8.prefix(cut)))  // never traps
        }
    }
}
