import Foundation
import MprefCore

/// Generates status bodies (JSON and XML, valid and mutated) and `Retry-After` values from a seed.
///
/// One case = one `SplitMix64(seed: caseSeed)`, so any case replays on its own from its seed.
/// Valid documents come with the `ExportStatus` fields a correct decoder must return (the oracle);
/// mutated ones only with the invariants every input must satisfy.
struct FuzzGenerator {
    var rng: SplitMix64

    init(caseSeed: UInt64) { rng = SplitMix64(seed: caseSeed) }

    /// The expected decoding of an unmutated document.
    struct Expected: Equatable {
        var accessToken: Int64?
        var status: String
        var rowCount: Int64?
        var byteCount: Int64?
    }

    /// A status body to decode.
    struct Body {
        var bytes: [UInt8]
        var contentType: String?
        /// Set when the body is a valid document whose decoding is known.
        var expected: Expected?
        var kind: String
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    static let statuses = [
        "Processing", "Complete", "Error", "Failed", "Expired", "Retrieved", "complete", " Processing ", "Queued", "",
        "Ünïcödé ✓", "a\"b\\c", "<x>&amp;",
    ]

    mutating func statusText() -> String {
        chance(0.8)
            ? pick(Self.statuses)
            : String((0..<int(0...20)).map { _ in Character(Unicode.Scalar(UInt8(int(0x20...0x7E)))) })
    }

    mutating func count() -> Int64? {
        switch int(0...5) {
        case 0: nil
        case 1: 0
        case 2: Int64.max
        default: Int64.random(in: 0...10_000_000_000, using: &rng)
        }
    }

    /// A key spelled in a random case (field names match case-insensitively).
    mutating func spell(_ key: String) -> String {
        switch int(0...3) {
        case 0: key.lowercased()
        case 1: key.uppercased()
        default: key
        }
    }

    /// A JSON string literal for `text` (escapes quotes, backslashes, controls; sometimes \u-escapes everything).
    mutating func jsonString(_ text: String) -> String {
        let escapeAll = chance(0.1)
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || (escapeAll && scalar.value < 0x10000):
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    mutating func validJSON() -> Body {
        let expected = Expected(
            accessToken: chance(0.8) ? Int64.random(in: -5...Int64.max, using: &rng) : nil,
            status: statusText(), rowCount: count(), byteCount: count())
        var members: [String] = []
        func space() -> String { ["", " ", "\n  ", "\t"][Int(UInt8.random(in: 0...3))] }
        members.append("\(jsonString(spell("Status"))):\(space())\(jsonString(expected.status))")
        if let token = expected.accessToken {
            members.append("\(jsonString(spell("AccessToken"))):\(chance(0.2) ? "\"\(token)\"" : String(token))")
        }
        if let rows = expected.rowCount {
            members.append("\(jsonString(spell("RowCount"))):\(chance(0.2) ? "\" \(rows) \"" : String(rows))")
        } else if chance(0.5) {
            members.append("\"RowCount\":null")
        }
        if let bytes = expected.byteCount { members.append("\(jsonString(spell("ByteCount"))):\(bytes)") }
        if chance(0.3) { members.append("\"Expires\":\(jsonString("2026-01-01T00:00:00Z"))") }
        if chance(0.3) { members.append("\"Extra\":{\"nested\":[1,2.5e3,true,null,\"x\"]}") }
        members.shuffle(using: &rng)
        let text =
            (chance(0.1) ? "\u{FEFF}" : "") + "{" + space() + members.joined(separator: "," + space()) + space() + "}"
            + (chance(0.2) ? "\n" : "")
        return Body(
            bytes: Array(text.utf8),
            contentType: pick([
                "application/json", "application/json; charset=utf-8", "text/json", "application/problem+json",
                "APPLICATION/JSON", nil,
            ]),
            expected: expected, kind: "json")
    }

    mutating func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    mutating func validXML() -> Body {
        // XML keeps whitespace inside Status verbatim, and element text cannot hold C0 controls.
        let expected = Expected(
            accessToken: chance(0.8) ? Int64.random(in: 0...Int64.max, using: &rng) : nil,
            status: statusText(), rowCount: count(), byteCount: count())
        let namespace =
            chance(0.8)
            ? " xmlns=\"http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes\"" : ""
        var children: [String] = []
        let statusTag = spell("Status")
        children.append("<\(statusTag)>\(xmlEscaped(expected.status))</\(statusTag)>")
        if let token = expected.accessToken { children.append("<AccessToken>\(token)</AccessToken>") }
        if let rows = expected.rowCount {
            children.append("<RowCount>\(rows)</RowCount>")
        } else if chance(0.5) {
            children.append("<RowCount i:nil=\"true\"/>")
        }
        if let bytes = expected.byteCount {
            children.append("<ByteCount>\(chance(0.2) ? " \(bytes) " : String(bytes))</ByteCount>")
        }
        if chance(0.3) { children.append("<Unknown><Deep>1</Deep></Unknown>") }
        children.shuffle(using: &rng)
        let declaration = chance(0.3) ? "<?xml version=\"1.0\" encoding=\"utf-8\"?>" : ""
        let text =
            declaration
            + "<AsyncApiDataExportStatusResult xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"\(namespace)>"
            + children.joined() + "</AsyncApiDataExportStatusResult>"
        return Body(
            bytes: Array(text.utf8),
            contentType: pick(["application/xml", "text/xml; charset=utf-8", "application/atom+xml", nil]),
            expected: expected, kind: "xml")
    }

    static let fragments: [[UInt8]] =
        [
            "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "null", "true", "1e999", "-0",
            "9223372036854775808",
            "<", ">", "</", "/>", "<!DOCTYPE x [<!ENTITY a \"b\">]>", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#x110000;",
            "&undefined;",
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>", "xmlns:a=\"urn:x\"", "i:nil=\"true\"", "\u{FEFF}",
            "\u{2028}", "é", "😀",
        ].map { Array($0.utf8) } + [
            [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x00], [0xF4, 0x90, 0x80, 0x80], [0x80],
        ]

    /// Applies 1–8 random mutations to `bytes`.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        for _ in 0..<int(1...8) {
            let position = out.isEmpty ? 0 : int(0...out.count)
            switch int(0...7) {
            case 0 where !out.isEmpty:  // flip a bit
                let i = int(0...out.count - 1)
                out[i] ^= UInt8(1 << int(0...7))
            case 1:  // insert random bytes
                out.insert(contentsOf: (0..<int(1...4)).map { _ in UInt8(int(0...255)) }, at: position)
            case 2 where !out.isEmpty:  // delete a range
                let start = int(0...out.count - 1)
                out.removeSubrange(start..<min(out.count, start + int(1...16)))
            case 3:  // truncate
                out = Array(out.prefix(position))
            case 4:  // insert a syntax fragment
                out.insert(contentsOf: pick(Self.fragments), at: position)
            case 5 where !out.isEmpty:  // duplicate a range
                let start = int(0...out.count - 1)
                out.insert(contentsOf: out[start..<min(out.count, start + int(1...32))], at: position)
            case 6:  // deep nesting
                let depth = int(1...200)
                let open = pick([Array("[".utf8), Array("{\"a\":".utf8), Array("<a>".utf8)])
                out.insert(contentsOf: Array(repeating: open, count: depth).flatMap { $0 }, at: position)
            default:  // swap a value's type
                let text = String(decoding: out, as: UTF8.self)
                out = Array(
                    text.replacingOccurrences(
                        of: pick(["\"Processing\"", "\"Complete\"", "0", "1", "<Status>"]),
                        with: pick(["5", "[]", "{}", "null", "\"1.5\"", "-1", "<Status><b/>"])
                    ).utf8)
            }
        }
        return out
    }

    /// Any body: valid (JSON/XML), mutated, or junk (HTML, empty, random bytes).
    mutating func body() -> Body {
        switch int(0...9) {
        case 0...1: return validJSON()
        case 2...3: return validXML()
        case 4...5:
            var body = validJSON()
            body.bytes = mutate(body.bytes)
            body.expected = nil
            body.kind = "json-mutated"
            if chance(0.2) { body.contentType = pick(["text/html", "application/xml", nil, ""]) }
            return body
        case 6...7:
            var body = validXML()
            body.bytes = mutate(body.bytes)
            body.expected = nil
            body.kind = "xml-mutated"
            if chance(0.2) { body.contentType = pick(["text/html", "application/json", nil, ""]) }
            return body
        case 8:
            let junk = pick([
                "", " ", "\n\n", "<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>",
                "<html><head><title>Error</title></head><body>Runtime Error</body></html>", "OK", "[]",
                "[{\"Status\":\"Complete\"}]",
                "{\"Message\":\"An error has occurred.\"}", "<Error><Message>x</Message></Error>", "null",
                "\"Complete\"",
            ])
            return Body(
                bytes: mutateMaybe(Array(junk.utf8)),
                contentType: pick([
                    "text/html; charset=utf-8", "application/json", "text/plain", "application/xml", nil,
                ]), expected: nil, kind: "junk")
        default:
            return Body(
                bytes: (0..<int(0...512)).map { _ in UInt8(int(0...255)) },
                contentType: pick(["application/json", "application/xml", "application/octet-stream", nil]),
                expected: nil, kind: "random")
        }
    }

    private mutating func mutateMaybe(_ bytes: [UInt8]) -> [UInt8] { chance(0.5) ? mutate(bytes) : bytes }

    // MARK: Retry-After

    /// A `Retry-After` case: the field values, an optional `Date` header, and the delay a correct
    /// parser must return when the values are valid (`nil` = no exact oracle, only invariants).
    struct RetryAfterCase {
        var values: [String]
        var dateHeader: String?
        var receivedAt: Date
        /// The exact answer for unmutated input: `.some(nil)` = must be nil, `.some(d)` = must be d.
        var expected: Duration??
        var kind: String
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let longDays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// (weekday index, year, month, day, hour, minute, second) in UTC of `epochSeconds`.
    static func civil(_ epochSeconds: Int64) -> (Int, Int, Int, Int, Int, Int, Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let c = calendar.dateComponents(
            [.weekday, .year, .month, .day, .hour, .minute, .second],
            from: Date(timeIntervalSince1970: TimeInterval(epochSeconds)))
        return (
            (c.weekday ?? 1) - 1, c.year ?? 1970, c.month ?? 1, c.day ?? 1, c.hour ?? 0, c.minute ?? 0, c.second ?? 0
        )
    }

    static func imfFixdate(_ epochSeconds: Int64) -> String {
        let (w, y, mo, d, h, mi, s) = civil(epochSeconds)
        return String(format: "%@, %02d %@ %04d %02d:%02d:%02d GMT", days[w], d, months[mo - 1], y, h, mi, s)
    }

    static func rfc850(_ epochSeconds: Int64) -> String {
        let (w, y, mo, d, h, mi, s) = civil(epochSeconds)
        return String(format: "%@, %02d-%@-%02d %02d:%02d:%02d GMT", longDays[w], d, months[mo - 1], y % 100, h, mi, s)
    }

    static func asctime(_ epochSeconds: Int64) -> String {
        let (w, y, mo, d, h, mi, s) = civil(epochSeconds)
        return String(format: "%@ %@ %2d %02d:%02d:%02d %04d", days[w], months[mo - 1], d, h, mi, s, y)
    }

    mutating func retryAfter() -> RetryAfterCase {
        // Whole seconds, so an HTTP-date's exact answer is known.
        let receivedSeconds = Int64.random(in: 1_000_000_000...2_000_000_000, using: &rng)
        let receivedAt = Date(timeIntervalSince1970: TimeInterval(receivedSeconds))
        let ows = { (g: inout FuzzGenerator) -> String in g.pick(["", " ", "\t", "  "]) }
        switch int(0...9) {
        case 0, 1:
            let n = chance(0.1) ? Int64.max : Int64.random(in: 0...100_000, using: &rng)
            return RetryAfterCase(
                values: [ows(&self) + String(n) + ows(&self)], dateHeader: nil, receivedAt: receivedAt,
                expected: .some(.clampedSeconds(n)), kind: "seconds")
        case 2, 3:
            let offset = Int64.random(in: -3600...86_400, using: &rng)
            let form = int(0...2)
            let target = receivedSeconds + offset
            let text = form == 0 ? Self.imfFixdate(target) : form == 1 ? Self.asctime(target) : Self.rfc850(target)
            // RFC 850's two-digit year is only exact within 50 years of the reference; offsets here are small.
            return RetryAfterCase(
                values: [text], dateHeader: nil, receivedAt: receivedAt,
                expected: .some(offset > 0 ? .seconds(offset) : .zero), kind: "http-date")
        case 4:
            let serverNow = receivedSeconds + Int64.random(in: -600...600, using: &rng)
            let offset = Int64.random(in: -100...3600, using: &rng)
            return RetryAfterCase(
                values: [Self.imfFixdate(serverNow + offset)], dateHeader: Self.imfFixdate(serverNow),
                receivedAt: receivedAt,
                expected: .some(offset > 0 ? .seconds(offset) : .zero), kind: "http-date+Date")
        case 5:
            let bad = pick([
                "-1", "+5", "1.5", "", " ", "0x10", "1e3", "١٢", "5 5", "Sun, 06 Nov 1994 08:49:37 UTC",
                "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994", "tomorrow",
            ])
            return RetryAfterCase(
                values: [bad], dateHeader: nil, receivedAt: receivedAt, expected: .some(nil), kind: "invalid")
        case 6:
            let n = Int64.random(in: 0...1000, using: &rng)
            let same = chance(0.5)
            return RetryAfterCase(
                values: [String(n), same ? " \(n)" : String(n + 1)], dateHeader: nil, receivedAt: receivedAt,
                expected: .some(same ? .seconds(n) : nil), kind: "repeated")
        default:
            let base = pick([
                String(int(0...999)), Self.imfFixdate(receivedSeconds + Int64(int(0...999))),
                Self.asctime(receivedSeconds), Self.rfc850(receivedSeconds),
            ])
            let mutated = String(decoding: mutate(Array(base.utf8)), as: UTF8.self)
            let values = chance(0.2) ? [mutated, base] : [mutated]
            return RetryAfterCase(
                values: values,
                dateHeader: chance(0.3)
                    ? String(decoding: mutate(Array(Self.imfFixdate(receivedSeconds).utf8)), as: UTF8.self) : nil,
                receivedAt: receivedAt, expected: nil, kind: "mutated")
        }
    }
}
