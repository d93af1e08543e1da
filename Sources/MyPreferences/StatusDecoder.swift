import Foundation
import MprefCore

/// Decodes the body of a status answer — resource `AsyncApiDataExportStatusResult` — as JSON or XML.
///
/// Source: MyPreferences Profiles API help, "GET Async/{clientId}/Export/{accessToken}/Status"
/// (media types `application/json`, `text/json`, `application/json-patch+json`, `application/xml`,
/// `text/xml`) and the API/3 async help "GET {clientId}/status/Token/{accessToken}" (adds `Expires`).
///
/// Rules, the same for both formats:
/// - The response's own `Content-Type` picks the format (parameters such as `; charset=utf-8`
///   ignored, case-insensitive): JSON for `application/json`, `text/json` and any `+json` type;
///   XML for `application/xml`, `text/xml` and any `+xml` type. A missing or other type is sniffed:
///   first non-blank byte `{` → JSON, `<` → XML, anything else is undecodable.
/// - Field names match case-insensitively (`RowCount`, `rowCount`, `rowcount`). A field this decoder
///   reads (`Status`, `AccessToken`, `RowCount`, `ByteCount`, `Expires`) that appears twice, in any
///   spelling, makes the body ambiguous: undecodable, never "first one wins".
/// - `Status` must be present and a string (in XML: an element not marked `i:nil`); kept verbatim.
/// - `RowCount`, `ByteCount` are non-negative `Int64`s given as JSON integer literals or numeric
///   strings of ASCII digits (surrounding whitespace allowed); `AccessToken` likewise but may be
///   negative. A missing field or JSON `null` is `nil` (unknown) — never `0`. An `AccessToken` that is
///   present but not such an integer makes the body undecodable: it names the export the answer is
///   about, so an answer that cannot say which export is not trusted (see ``PollOutcome/identified(as:)``). **A count that is
///   negative, fractional (`1.5`, even `1.0`), in exponent form, or beyond `Int64` is also `nil`,
///   and the rest of the body is still decoded** (the status is what the poller needs most).
/// - `Expires` is kept verbatim when it is a string (JSON numbers are kept as their literal text).
/// - Anything else — garbage, HTML, an empty body, a JSON array, another XML root — is
///   `.undecodable(reason:excerpt:)` with a bounded excerpt (see ``BodyExcerpt``). No input traps.
package enum StatusDecoder {
    /// The body format chosen for a response.
    package enum Format: String, Sendable {
        case json, xml
    }

    /// Decodes `body` as chosen by `contentType`; returns `.ok` or `.undecodable`.
    package static func decode<Body: Collection>(_ body: Body, contentType: String?) -> PollOutcome
    where Body.Element == UInt8 {
        let bytes = Array(body)
        switch format(contentType: contentType, body: bytes) {
        case .json:
            return outcome(decodeJSON(bytes), body: bytes)
        case .xml:
            return outcome(decodeXML(bytes), body: bytes)
        case nil:
            let reason =
                bytes.isEmpty
                ? "empty body"
                : "unrecognised content type \(BodyExcerpt.make(Array((contentType ?? "(none)").utf8), limit: 64)) and body is neither JSON nor XML"
            return .undecodable(reason: reason, excerpt: BodyExcerpt.make(bytes))
        }
    }

    private static func outcome(_ result: Result<ExportStatus, DecodingFailure>, body: [UInt8]) -> PollOutcome {
        switch result {
        case .success(let status): .ok(status)
        case .failure(let failure): .undecodable(reason: failure.reason, excerpt: BodyExcerpt.make(body))
        }
    }

    /// The format named by `contentType` (media type only, case-insensitive), else sniffed from `body`.
    package static func format(contentType: String?, body: [UInt8]) -> Format? {
        if let contentType {
            let mediaType =
                contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first
                .map { $0.trimmingWhitespace(andNewlines: false).lowercased() } ?? ""
            switch mediaType {
            case "application/json", "text/json": return .json
            case "application/xml", "text/xml": return .xml
            default:
                if mediaType.hasSuffix("+json") { return .json }
                if mediaType.hasSuffix("+xml") { return .xml }
            }
        }
        var index = body.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while index < body.count, [0x20, 0x09, 0x0A, 0x0D].contains(body[index]) { index += 1 }
        guard index < body.count else { return nil }
        switch body[index] {
        case UInt8(ascii: "{"): return .json
        case UInt8(ascii: "<"): return .xml
        default: return nil
        }
    }

    struct DecodingFailure: Error {
        var reason: String
    }

    // MARK: JSON

    static func decodeJSON(_ bytes: [UInt8]) -> Result<ExportStatus, DecodingFailure> {
        guard !bytes.isEmpty else { return .failure(DecodingFailure(reason: "empty body")) }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .failure(DecodingFailure(reason: "invalid JSON: \(error)"))
        }
        guard case .object(let members) = value else {
            return .failure(DecodingFailure(reason: "JSON body is not an object"))
        }
        let folded = members.map { (key: $0.key.lowercased(), value: $0.value) }  // each key folded once
        if let repeated = repeatedField(folded.map(\.key)) {
            return .failure(DecodingFailure(reason: "\(repeated) appears more than once (ambiguous)"))
        }
        func field(_ name: String) -> JSONValue? {
            folded.first(where: { $0.key == name })?.value
        }
        guard let statusValue = field("status") else {
            return .failure(DecodingFailure(reason: "missing Status"))
        }
        guard case .string(let status) = statusValue else {
            return .failure(DecodingFailure(reason: "Status is not a string"))
        }
        var expires: String?
        switch field("expires") {
        case .string(let text): expires = text
        case .number(let text): expires = text
        default: expires = nil
        }
        let accessToken = integer(field("accesstoken"), allowNegative: true)
        switch field("accesstoken") {
        case nil, .null?: break
        default: if accessToken == nil { return .failure(DecodingFailure(reason: "AccessToken is not an integer")) }
        }
        return .success(
            ExportStatus(
                accessToken: accessToken.map { AccessToken($0) },
                status: status,
                rowCount: integer(field("rowcount"), allowNegative: false),
                byteCount: integer(field("bytecount"), allowNegative: false),
                expires: expires
            ))
    }

    /// The fields this decoder reads: lower-cased key (as matched) → documented spelling (for messages).
    static let readFields: KeyValuePairs<String, String> = [
        "status": "Status", "accesstoken": "AccessToken", "rowcount": "RowCount", "bytecount": "ByteCount",
        "expires": "Expires",
    ]

    /// The documented spelling of the first read field that `keys` (lower-cased) hold more than once.
    static func repeatedField(_ keys: [String]) -> String? {
        readFields.first { field in keys.lazy.filter { $0 == field.key }.count > 1 }?.value
    }

    private static func integer(_ value: JSONValue?, allowNegative: Bool) -> Int64? {
        switch value {
        case .number(let text), .string(let text): integer(text: text, allowNegative: allowNegative)
        default: nil
        }
    }

    /// An `Int64` from ASCII digits (optionally one leading `-` when `allowNegative`), with
    /// surrounding whitespace ignored; `nil` for anything else, including values beyond `Int64`.
    static func integer(text: String, allowNegative: Bool) -> Int64? {
        let trimmed = text.trimmingWhitespace()
        var digits = Substring(trimmed)
        if allowNegative, digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.count <= 40,
            digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int64(trimmed)
    }
}
