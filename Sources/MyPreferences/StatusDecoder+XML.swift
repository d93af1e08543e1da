import Foundation
import MprefCore
#if canImport(FoundationXML)
    import FoundationXML
#endif

extension StatusDecoder {
    /// The data-contract namespace of `AsyncApiDataExportStatusResult` (MyPreferences Profiles API
    /// help, XML sample of the status resource).
    package static let xmlNamespace =
        "http://schemas.datacontract.org/2004/07/PossibleNow.Profiles.DataExportCore.Classes"
    /// The root element's local name.
    package static let xmlRootElement = "AsyncApiDataExportStatusResult"

    /// Decodes the XML form: the root must be `AsyncApiDataExportStatusResult` (local name matched
    /// case-insensitively) in ``xmlNamespace`` — or in no namespace, for hand-written servers; any
    /// other namespace is refused. Its child elements may come in any order; unknown ones are
    /// ignored; `i:nil="true"` counts as absent. Documents with a DTD are refused outright
    /// (no entity expansion), so the parser never fetches or expands anything.
    static func decodeXML(_ bytes: [UInt8]) -> Result<ExportStatus, DecodingFailure> {
        guard !bytes.isEmpty else { return .failure(DecodingFailure(reason: "empty body")) }
        if containsDTD(bytes) {
            return .failure(DecodingFailure(reason: "XML with a document type declaration is not accepted"))
        }
        // FoundationXML on Linux traps on element names that are not valid UTF-8, so only
        // well-formed UTF-8 without NUL reaches the parser, and no other declared encoding.
        guard String(validating: bytes, as: UTF8.self) != nil, !bytes.contains(0) else {
            return .failure(DecodingFailure(reason: "XML body is not valid UTF-8"))
        }
        if let problem = processingInstructionProblem(bytes) {
            return .failure(DecodingFailure(reason: problem))
        }
        if let encoding = declaredEncoding(bytes), !["utf-8", "utf8", "us-ascii", "ascii"].contains(encoding) {
            return .failure(DecodingFailure(reason: "XML encoding is not UTF-8"))
        }
        let collector = XMLStatusCollector()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = collector
        let parsed = parser.parse()
        if let failure = collector.failure {
            return .failure(DecodingFailure(reason: failure))
        }
        guard parsed else {
            let detail = parser.parserError.map { " (\(($0 as NSError).code))" } ?? ""
            return .failure(DecodingFailure(reason: "invalid XML\(detail)"))
        }
        guard collector.sawRoot else {
            return .failure(DecodingFailure(reason: "no \(xmlRootElement) element"))
        }
        if let repeated = repeatedField(collector.repeatedFields) {
            return .failure(DecodingFailure(reason: "\(repeated) appears more than once (ambiguous)"))
        }
        guard let status = collector.fields["status"] ?? nil else {
            return .failure(DecodingFailure(reason: "missing Status"))
        }
        if let text = collector.fields["accesstoken"] ?? nil, integer(text: text, allowNegative: true) == nil {
            return .failure(DecodingFailure(reason: "AccessToken is not an integer"))
        }
        func count(_ name: String, allowNegative: Bool) -> Int64? {
            guard let text = collector.fields[name] ?? nil else { return nil }
            return integer(text: text, allowNegative: allowNegative)
        }
        return .success(
            ExportStatus(
                accessToken: count("accesstoken", allowNegative: true).map { AccessToken($0) },
                status: status,
                rowCount: count("rowcount", allowNegative: false),
                byteCount: count("bytecount", allowNegative: false),
                expires: collector.fields["expires"] ?? nil
            ))
    }

    /// The lower-cased `encoding` of a leading XML declaration, if any.
    private static func declaredEncoding(_ bytes: [UInt8]) -> String? {
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        guard bytes[start...].starts(with: Array("<?xml".utf8)) else { return nil }
        let head = String(decoding: bytes[start...].prefix(200), as: UTF8.self)
        guard let end = head.range(of: "?>") else { return nil }
        let declaration = head[..<end.lowerBound]
        guard let key = declaration.range(of: "encoding") else { return nil }
        let rest = declaration[key.upperBound...].drop(while: { $0 == " " || $0 == "=" || $0 == "\t" })
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        return String(rest.dropFirst().prefix(while: { $0 != quote })).lowercased()
    }

    /// Processing instructions (`<?…?>`) other than one XML declaration that names its version at the
    /// very start: FoundationXML on Linux crashes (a NULL `strlen`) on some, e.g. `<?xml?>` (found by
    /// the fuzzer, `FuzzRegressions`), and a status document needs none.
    static func processingInstructionProblem(_ bytes: [UInt8]) -> String? {
        let open: [UInt8] = [0x3C, 0x3F]  // "<?"
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        var index = 0
        while index + 1 < bytes.count {
            guard bytes[index] == open[0], bytes[index + 1] == open[1] else { index += 1; continue }
            guard index == start else { return "XML processing instructions are not accepted" }
            // The declaration: `<?xml` + whitespace … `version=` … `?>`.
            let rest = bytes[(index + 2)...]
            guard
                let close = rest.indices.first(where: {
                    $0 + 1 < bytes.count && bytes[$0] == 0x3F && bytes[$0 + 1] == 0x3E
                })
            else {
                return "XML declaration is not closed"
            }
            let declaration = String(decoding: bytes[(index + 2)..<close], as: UTF8.self)
            guard declaration.hasPrefix("xml"),
                declaration.dropFirst(3).first.map({ $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) == true,
                declaration.contains("version")
            else { return "XML declaration is malformed (it needs <?xml version=\"1.0\" …?>)" }
            index = close + 2
        }
        return nil
    }

    private static func containsDTD(_ bytes: [UInt8]) -> Bool {
        let marker = Array("<!DOCTYPE".utf8)
        let upper = bytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }
        guard upper.count >= marker.count else { return false }
        for start in 0...(upper.count - marker.count) where upper[start] == marker[0] {
            if upper[start..<start + marker.count].elementsEqual(marker) { return true }
        }
        return false
    }
}

/// Collects the direct children of the status root element. Used by one parser on one thread.
private final class XMLStatusCollector: NSObject, XMLParserDelegate {
    /// Lower-cased child name → text (`nil` when marked `i:nil="true"`); first occurrence kept.
    var fields: [String: String?] = [:]
    /// Lower-cased child names seen again after their first occurrence (each repeat listed twice, so
    /// ``StatusDecoder/repeatedField(_:)`` finds it).
    var repeatedFields: [String] = []
    var sawRoot = false
    var failure: String?

    private var depth = 0
    private var currentField: String?
    private var currentIsNil = false
    private var currentHasChildElements = false
    private var text = ""

    private static let instanceNamespace = "http://www.w3.org/2001/XMLSchema-instance"

    private static func isContractNamespace(_ uri: String?) -> Bool {
        uri == nil || uri == "" || uri == StatusDecoder.xmlNamespace
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        depth += 1
        switch depth {
        case 1:
            guard elementName.lowercased() == StatusDecoder.xmlRootElement.lowercased() else {
                failure = "root element is not \(StatusDecoder.xmlRootElement)"
                parser.abortParsing()
                return
            }
            guard Self.isContractNamespace(namespaceURI) else {
                failure = "root element is in an unexpected namespace"
                parser.abortParsing()
                return
            }
            sawRoot = true
        case 2:
            currentField = Self.isContractNamespace(namespaceURI) ? elementName.lowercased() : nil
            currentIsNil = attributeDict.contains { key, value in
                (key == "nil" || key.hasSuffix(":nil"))
                    && value.trimmingWhitespace(andNewlines: false).lowercased() == "true"
            }
            currentHasChildElements = false
            text = ""
        default:
            currentHasChildElements = true
        }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        // FoundationXML on Linux can report errors yet return `true` from `parse()`.
        if failure == nil { failure = "invalid XML (code \((parseError as NSError).code))" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if depth == 2, currentField != nil { text += string }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if depth == 2, currentField != nil { text += String(decoding: CDATABlock, as: UTF8.self) }
    }

    func parser(
        _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?
    ) {
        if depth == 2, let field = currentField, fields[field] != nil {
            repeatedFields += [field, field]
        }
        if depth == 2, let field = currentField, fields[field] == nil {
            // An element with element children is not a simple value: treat it as absent.
            fields[field] = (currentIsNil || currentHasChildElements) ? String?.none : String?.some(text)
        }
        if depth == 2 { currentField = nil }
        depth -= 1
    }
}
