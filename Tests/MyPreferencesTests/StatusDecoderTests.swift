import Foundation
import MprefCore
import Testing
@testable import MyPreferences

@Suite("StatusDecoder")
struct StatusDecoderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String?
        var body: String
        var expected: ExportStatus
        var testDescription: String { name }
    }

    static let namespace = "http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes"

    static let decodable: [Case] = [
        Case(
            name: "vendor JSON sample", contentType: "application/json",
            body: #"{"AccessToken": 1, "Status": "sample string 2", "RowCount": 1, "ByteCount": 1}"#,
            expected: ExportStatus(accessToken: 1, status: "sample string 2", rowCount: 1, byteCount: 1)),
        Case(
            name: "camelCase names", contentType: "text/json",
            body: #"{"accessToken": 7, "status": "Processing", "rowCount": 0, "byteCount": 0}"#,
            expected: ExportStatus(accessToken: 7, status: "Processing", rowCount: 0, byteCount: 0)),
        Case(
            name: "lower-case names, json-patch+json with charset",
            contentType: "Application/JSON-Patch+JSON; charset=UTF-8",
            body: #"{"accesstoken": 7, "status": "Complete", "rowcount": 3, "bytecount": 4}"#,
            expected: ExportStatus(accessToken: 7, status: "Complete", rowCount: 3, byteCount: 4)),
        Case(
            name: "numeric strings", contentType: "application/json",
            body: #"{"AccessToken": "12", "Status": "Complete", "RowCount": " 34 ", "ByteCount": "56"}"#,
            expected: ExportStatus(accessToken: 12, status: "Complete", rowCount: 34, byteCount: 56)),
        Case(
            name: "Int64.max counts", contentType: "application/json",
            body: #"{"Status": "Complete", "RowCount": 9223372036854775807, "ByteCount": "9223372036854775807"}"#,
            expected: ExportStatus(status: "Complete", rowCount: .max, byteCount: .max)),
        Case(
            name: "counts beyond Int64 are unknown, rest decoded", contentType: "application/json",
            body: #"{"Status": "Complete", "RowCount": 9223372036854775808, "ByteCount": "99999999999999999999"}"#,
            expected: ExportStatus(status: "Complete", rowCount: nil, byteCount: nil)),
        Case(
            name: "negative, fractional and exponent counts are unknown", contentType: "application/json",
            body: #"{"Status": "Complete", "RowCount": -1, "ByteCount": 1.5, "AccessToken": null}"#,
            expected: ExportStatus(status: "Complete", rowCount: nil, byteCount: nil)),
        Case(
            name: "1.0 is fractional too", contentType: "application/json",
            body: #"{"Status": "Complete", "RowCount": 1.0, "ByteCount": "-5"}"#,
            expected: ExportStatus(status: "Complete")),
        Case(
            name: "missing counts are nil, not 0", contentType: "application/json",
            body: #"{"Status": "Processing"}"#,
            expected: ExportStatus(status: "Processing")),
        Case(
            name: "null counts are nil", contentType: "application/json",
            body: #"{"Status": "Processing", "RowCount": null, "ByteCount": null, "AccessToken": null}"#,
            expected: ExportStatus(status: "Processing")),
        Case(
            name: "non-numeric count types are nil", contentType: "application/json",
            body: #"{"Status": "Processing", "RowCount": true, "ByteCount": {"a": 1}}"#,
            expected: ExportStatus(status: "Processing")),
        Case(
            name: "unknown status kept verbatim", contentType: "application/json",
            body: #"{"Status": "  Queued-For-Review ", "RowCount": 0}"#,
            expected: ExportStatus(status: "  Queued-For-Review ", rowCount: 0)),
        Case(
            name: "Expires kept verbatim (API/3)", contentType: "application/json",
            body:
                #"{"AccessToken": 5, "Status": "Complete", "RowCount": 1, "ByteCount": 2, "Expires": "2026-01-01T00:00:00"}"#,
            expected: ExportStatus(
                accessToken: 5, status: "Complete", rowCount: 1, byteCount: 2, expires: "2026-01-01T00:00:00")),
        Case(
            name: "escapes and unicode in Status", contentType: "application/json",
            body: #"{"Status": "Compl\u00e9t\"e\ud83d\ude00"}"#,
            expected: ExportStatus(status: "Complét\"e😀")),
        Case(
            name: "unknown fields ignored, nested values skipped", contentType: "application/json",
            body: #"{"Extra": {"Status": "nested"}, "Status": "Complete", "List": [1, 2, [3]]}"#,
            expected: ExportStatus(status: "Complete")),
        Case(
            name: "a repeated field this decoder does not read is harmless", contentType: "application/json",
            body: #"{"Status": "Processing", "Extra": 1, "extra": 2}"#,
            expected: ExportStatus(status: "Processing")),
        Case(
            name: "BOM and whitespace, no content type: sniffed JSON", contentType: nil,
            body: "\u{FEFF}  \n{\"Status\": \"Complete\", \"RowCount\": 2}",
            expected: ExportStatus(status: "Complete", rowCount: 2)),
        Case(
            name: "unknown content type: sniffed JSON", contentType: "text/plain",
            body: #"{"Status": "Complete"}"#,
            expected: ExportStatus(status: "Complete")),
        Case(
            name: "vendor XML sample", contentType: "application/xml",
            body: """
                <AsyncApiDataExportStatusResult xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="\(namespace)">\
                <AccessToken>1</AccessToken><ByteCount>1</ByteCount><RowCount>1</RowCount><Status>sample string 2</Status>\
                </AsyncApiDataExportStatusResult>
                """,
            expected: ExportStatus(accessToken: 1, status: "sample string 2", rowCount: 1, byteCount: 1)),
        Case(
            name: "XML shuffled order, prefixed namespace, pretty-printed, text/xml",
            contentType: "TEXT/XML; charset=utf-8",
            body: """
                <?xml version="1.0" encoding="utf-8"?>
                <p:AsyncApiDataExportStatusResult xmlns:p="\(namespace)">
                  <p:Status>Processing</p:Status>
                  <p:RowCount>
                    9223372036854775807
                  </p:RowCount>
                  <p:AccessToken>99</p:AccessToken>
                  <p:ByteCount>0</p:ByteCount>
                </p:AsyncApiDataExportStatusResult>
                """,
            expected: ExportStatus(accessToken: 99, status: "Processing", rowCount: .max, byteCount: 0)),
        Case(
            name: "XML camelCase, i:nil counts, beyond-Int64 count, Expires", contentType: "application/xml",
            body: """
                <AsyncApiDataExportStatusResult xmlns="\(namespace)" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\
                <rowCount i:nil="true"/><byteCount>18446744073709551616</byteCount><status>Complete</status>\
                <expires>2025-01-01T00:00:00Z</expires></AsyncApiDataExportStatusResult>
                """,
            expected: ExportStatus(status: "Complete", expires: "2025-01-01T00:00:00Z")),
        Case(
            name: "XML without namespace, sniffed", contentType: nil,
            body:
                "<AsyncApiDataExportStatusResult><Status>Complete</Status><RowCount>3</RowCount></AsyncApiDataExportStatusResult>",
            expected: ExportStatus(status: "Complete", rowCount: 3)),
        Case(
            name: "XML status verbatim with entity and CDATA", contentType: "application/xml",
            body:
                "<AsyncApiDataExportStatusResult xmlns=\"\(namespace)\"><Status>A&amp;<![CDATA[B]]></Status></AsyncApiDataExportStatusResult>",
            expected: ExportStatus(status: "A&B")),
    ]

    @Test(arguments: decodable)
    func decodes(_ testCase: Case) {
        let outcome = StatusDecoder.decode(Array(testCase.body.utf8), contentType: testCase.contentType)
        #expect(outcome == .ok(testCase.expected))
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var contentType: String?
        var body: [UInt8]
        var reasonContains: String
        var testDescription: String { name }

        init(_ name: String, _ contentType: String?, _ body: String, reason: String) {
            self.init(name, contentType, Array(body.utf8), reason: reason)
        }

        init(_ name: String, _ contentType: String?, _ body: [UInt8], reason: String) {
            self.name = name
            self.contentType = contentType
            self.body = body
            self.reasonContains = reason
        }
    }

    static let undecodable: [BadCase] = [
        BadCase("empty body", "application/json", "", reason: "empty"),
        BadCase("empty body, no type", nil, "", reason: "empty"),
        BadCase("garbage", "application/json", "not json at all", reason: "invalid JSON"),
        BadCase(
            "garbage, unknown type", "application/octet-stream", "\u{01}\u{02}binary", reason: "neither JSON nor XML"),
        BadCase(
            "HTML error page", "text/html", "<!DOCTYPE html><html><body><h1>Oops</h1></body></html>",
            reason: "document type"),
        BadCase(
            "HTML without doctype", "text/html; charset=utf-8", "<html><body>Gateway</body></html>",
            reason: "root element"),
        BadCase("missing Status", "application/json", #"{"AccessToken": 1, "RowCount": 2}"#, reason: "missing Status"),
        // Issue 17.3: an answer that cannot say which export it is about, or says two things, is not trusted.
        BadCase(
            "non-numeric AccessToken", "application/json", #"{"AccessToken": "abc", "Status": "Complete"}"#,
            reason: "AccessToken is not an integer"),
        BadCase(
            "array AccessToken", "application/json", #"{"AccessToken": [1], "Status": "Complete"}"#,
            reason: "AccessToken is not an integer"),
        BadCase(
            "exponent AccessToken", "application/json", #"{"AccessToken": 1e3, "Status": "Complete"}"#,
            reason: "AccessToken is not an integer"),
        BadCase(
            "duplicated Status", "application/json", #"{"Status": "Processing", "Status": "Complete"}"#,
            reason: "Status appears more than once"),
        BadCase(
            "duplicated Status, other spelling", "application/json", #"{"Status": "Complete", "status": "Complete"}"#,
            reason: "Status appears more than once"),
        BadCase(
            "duplicated AccessToken", "application/json",
            #"{"AccessToken": 70, "Status": "Complete", "ACCESSTOKEN": 71}"#,
            reason: "AccessToken appears more than once"),
        BadCase(
            "XML duplicated Status", "application/xml",
            "<AsyncApiDataExportStatusResult><Status>Processing</Status><Status>Complete</Status></AsyncApiDataExportStatusResult>",
            reason: "Status appears more than once"),
        BadCase(
            "XML non-numeric AccessToken", "application/xml",
            "<AsyncApiDataExportStatusResult><AccessToken>x1</AccessToken><Status>Complete</Status></AsyncApiDataExportStatusResult>",
            reason: "AccessToken is not an integer"),
        BadCase("Status not a string", "application/json", #"{"Status": 3}"#, reason: "not a string"),
        BadCase("Status null", "application/json", #"{"Status": null}"#, reason: "not a string"),
        BadCase("JSON array", "application/json", #"[{"Status": "Complete"}]"#, reason: "not an object"),
        BadCase("truncated JSON", "application/json", #"{"Status": "Comp"#, reason: "invalid JSON"),
        BadCase("trailing garbage", "application/json", #"{"Status": "Complete"} x"#, reason: "invalid JSON"),
        BadCase(
            "invalid UTF-8 in JSON", "application/json",
            Array(#"{"Status": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8), reason: "UTF-8"),
        BadCase("deep nesting", "application/json", String(repeating: "[", count: 100_000), reason: "invalid JSON"),
        BadCase(
            "JSON declared, XML sent", "application/json", "<AsyncApiDataExportStatusResult/>", reason: "invalid JSON"),
        BadCase(
            "XML missing Status", "application/xml",
            "<AsyncApiDataExportStatusResult><RowCount>1</RowCount></AsyncApiDataExportStatusResult>",
            reason: "missing Status"),
        BadCase(
            "XML nil Status", "application/xml",
            #"<AsyncApiDataExportStatusResult xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><Status i:nil="true"/></AsyncApiDataExportStatusResult>"#,
            reason: "missing Status"),
        BadCase(
            "XML wrong namespace", "application/xml",
            #"<AsyncApiDataExportStatusResult xmlns="urn:other"><Status>Complete</Status></AsyncApiDataExportStatusResult>"#,
            reason: "namespace"),
        BadCase(
            "XML wrong root", "application/xml", "<Result><Status>Complete</Status></Result>", reason: "root element"),
        BadCase(
            "XML malformed", "application/xml",
            "<AsyncApiDataExportStatusResult><Status>Complete</AsyncApiDataExportStatusResult>", reason: "invalid XML"),
        BadCase(
            "XML with invalid UTF-8 in a name (FoundationXML would trap)", "application/xml",
            Array("<t".utf8) + [0xFF] + Array("t.{6}-e\"uEElu5nEt,lpn[ u".utf8) + [0x00] + Array("eEea/t\"a".utf8),
            reason: "UTF-8"),
        BadCase(
            "XML declaring another encoding", "application/xml",
            #"<?xml version="1.0" encoding="UTF-16"?><AsyncApiDataExportStatusResult><Status>x</Status></AsyncApiDataExportStatusResult>"#,
            reason: "encoding"),
        BadCase(
            "XML undeclared prefix", "application/xml",
            "<x:AsyncApiDataExportStatusResult><Status>1</Status></x:AsyncApiDataExportStatusResult>",
            reason: "invalid XML"),
        BadCase(
            "XML entity bomb refused", "application/xml",
            #"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><AsyncApiDataExportStatusResult><Status>&lol2;</Status></AsyncApiDataExportStatusResult>"#,
            reason: "document type"),
    ]

    @Test(arguments: undecodable)
    func refuses(_ testCase: BadCase) {
        let outcome = StatusDecoder.decode(testCase.body, contentType: testCase.contentType)
        guard case .undecodable(let reason, let excerpt) = outcome else {
            Issue.record("expected .undecodable, got \(outcome)")
            return
        }
        #expect(reason.contains(testCase.reasonContains), "reason: \(reason)")
        #expect(excerpt.count <= 256)
        #expect(!excerpt.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }))
    }

    /// The fast path (printable ASCII at both ends) and the Foundation path trim the same.
    @Test func whitespaceTrimmingMatchesFoundation() {
        let samples = [
            "Complete", " Complete", "Complete\n", "\t Complete \r\n", "\u{00A0}Complete\u{2003}", "", " ", "\n\n",
            "a", "x y", "é", " é ", "Complete\u{00A0}", "\u{FEFF}Complete", "application/json ", " text/xml",
        ]
        for sample in samples {
            #expect(
                sample.trimmingWhitespace() == sample.trimmingCharacters(in: .whitespacesAndNewlines),
                "\(Array(sample.unicodeScalars))")
            #expect(
                sample.trimmingWhitespace(andNewlines: false) == sample.trimmingCharacters(in: .whitespaces),
                "\(Array(sample.unicodeScalars))")
        }
        #expect(KnownExportStatus(matching: "Complete") == .complete)
        #expect(KnownExportStatus(matching: " cOMPLETE\u{00A0}") == .complete)
        #expect(KnownExportStatus(matching: "Completed") == nil)
    }

    /// FoundationXML crashed on `<?xml?>` (fuzzer, 2026-12-03): only one XML declaration naming its
    /// version, at the start, reaches the parser; other processing instructions are undecodable.
    @Test func processingInstructionsOtherThanTheDeclarationAreRefused() {
        let root =
            #"<AsyncApiDataExportStatusResult xmlns="http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes"><AccessToken>1</AccessToken><ByteCount>2</ByteCount><RowCount>3</RowCount><Status>Complete</Status></AsyncApiDataExportStatusResult>"#
        for good in [root, #"<?xml version="1.0" encoding="utf-8"?>"# + root, "\u{FEFF}<?xml version='1.0'?>\n" + root]
        {
            guard case .ok(let status) = StatusDecoder.decode(Array(good.utf8), contentType: "application/xml") else {
                Issue.record("not decoded: \(good.prefix(60))"); continue
            }
            #expect(status.status == "Complete" && status.rowCount == 3)
        }
        for bad in [
            "<?xml?>" + root, "<?xml encoding=\"utf-8\"?>" + root, root + "<?php echo 1 ?>",
            "<?xml version=\"1.0\"?><?pi x?>" + root,
            "<?xml version=\"1.0\"" + root,
            #"<?xml?><AsyncApiDataEx version="1.0" encoding="utf-8"?><AsyncApiDataExportStatusResult/>"#,
        ] {
            guard case .undecodable = StatusDecoder.decode(Array(bad.utf8), contentType: "application/xml") else {
                Issue.record("decoded: \(bad.prefix(60))"); continue
            }
        }
    }

    @Test func formatSelection() {
        #expect(StatusDecoder.format(contentType: "application/problem+json", body: []) == .json)
        #expect(StatusDecoder.format(contentType: "application/atom+xml", body: []) == .xml)
        #expect(StatusDecoder.format(contentType: " APPLICATION/XML ;charset=utf-8", body: Array("{".utf8)) == .xml)
        #expect(StatusDecoder.format(contentType: "text/html", body: Array("  <x/>".utf8)) == .xml)
        #expect(StatusDecoder.format(contentType: nil, body: Array("\n{".utf8)) == .json)
        #expect(StatusDecoder.format(contentType: nil, body: Array("Status: ok".utf8)) == nil)
        #expect(StatusDecoder.format(contentType: "", body: []) == nil)
    }

    @Test func excerptIsBoundedCleanAndUTF8Safe() {
        // 300 four-byte characters with control characters mixed in, then invalid bytes.
        var body: [UInt8] = Array("line1\r\nline2\tend\u{07}\u{1B}[31m".utf8)
        for _ in 0..<300 { body += Array("😀".utf8) }
        body += [0xFF, 0xC3]
        let excerpt = BodyExcerpt.make(body)
        #expect(excerpt.count == 256)
        #expect(excerpt.hasPrefix("line1 line2 end\u{FFFD}\u{FFFD}[31m😀"))
        #expect(!excerpt.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }))

        // A cut inside a multi-byte sequence never yields a partial character.
        let cut = BodyExcerpt.make(Array(String(repeating: "é", count: 2000).utf8), limit: 256)
        #expect(cut == String(repeating: "é", count: 256))
        #expect(BodyExcerpt.make([0xE2, 0x82]) == "\u{FFFD}")
        #expect(BodyExcerpt.make([UInt8]()) == "")
    }

    @Test(arguments: [
        Array(#"{}[]":,0123456789-.eE+ \tnulltruefalse<>/AsyncApiDataExportStatusResultStatus&;!?\"#.utf8) + [
            0xFF, 0xC3, 0x00,
        ],
        Array(
            #"<<<>>>//:: ="'xmlns:i=""AsyncApiDataExportStatusResultStatus&;!?#x;&amp;<![CDATA[]]><?xml version="1.0"?>"#
                .utf8)
            + Array("éü😀\u{0301}\u{7}".utf8) + [0xFF, 0xC3, 0x80, 0x00, 0xE2],
    ])
    func neverTrapsOnRandomInput(alphabet: [UInt8]) {
        var generator = SplitMix64(seed: 0x5EED)
        for round in 0..<3_000 {
            let length = Int(generator.next() % 200)
            let body = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let contentType: String? = round % 3 == 0 ? "application/json" : (round % 3 == 1 ? "application/xml" : nil)
            switch StatusDecoder.decode(body, contentType: contentType) {
            case .ok, .undecodable: break
            default: Issue.record("decoder returned a non-decoding outcome")
            }
        }
    }
}

/// Deterministic generator for fuzz-style tables (same sequence every run).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
