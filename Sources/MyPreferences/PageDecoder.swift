/// Decodes a retrieve answer into an ``ExportPage`` without re-encoding its records.
///
/// Why a scanner of our own and not Foundation's `JSONDecoder`: the download must copy every record
/// to the file byte for byte (a decode–encode round trip would turn 64-bit integers into doubles,
/// reorder keys and rewrite escapes), so the page is validated as JSON (RFC 8259: strings, escapes,
/// numbers, literals, nesting) in one pass that notes where each record starts and ends. Pure, no
/// allocation per record beyond the output buffer; nesting is tracked on a small stack, never by
/// recursion, so a hostile page cannot exhaust the thread's stack.
package enum PageDecoder {
    /// The record array keys, lower-cased: Profiles and API/3 generations.
    static let recordKeys: Set<String> = ["userprofilepreferences", "preferences"]

    /// The page in `body`, or why it is not one (`.undecodable` with a bounded excerpt).
    package static func decode(_ body: [UInt8]) -> RequestOutcome<ExportPage> {
        body.withUnsafeBytes { decode($0) }
    }

    /// The page in the bytes of `body` (read in place, not copied), or why it is not one.
    package static func decode(_ body: UnsafeRawBufferPointer) -> RequestOutcome<ExportPage> {
        var scanner = JSONScanner(body)
        do {
            return .ok(try scanner.page())
        } catch {
            return .undecodable(reason: error.reason, excerpt: BodyExcerpt.make(body))
        }
    }
}

/// Why a page is not valid: what was expected, and at which byte.
struct PageDecodingError: Error {
    var reason: String
}

/// Reads bytes in place: valid only inside the `withUnsafeBytes` that lent them (never stored).
/// Every read is bounds-checked here (``peek``), so a page cannot make it read past its end.
struct JSONScanner {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    /// A line break was skipped between tokens of the current record (so it must be filtered out).
    private var sawLineBreak = false
    /// The closing brackets ``skipValue()`` expects, innermost last (kept between values: no allocation per record).
    private var closers: [UInt8] = []
    /// Deepest nesting accepted inside one record (objects and arrays).
    static let maximumDepth = 512

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func page() throws(PageDecodingError) -> ExportPage {
        var page = ExportPage(
            count: nil, hasMore: nil, limit: nil, offset: nil, totalResults: nil, records: 0, recordKey: "", ndjson: [])
        var seen: Set<String> = []
        var sawRecords = false
        // A UTF-8 byte order mark (some .NET servers send one) is not part of the JSON text.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        skipWhitespace()
        try expect(UInt8(ascii: "{"), "the page to be a JSON object")
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let key = try string()
                let folded = key.lowercased()
                guard seen.insert(folded).inserted else { throw fail("key \(key) appears twice") }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after key \(key)")
                skipWhitespace()
                switch folded {
                case "count": page.count = try integerOrNull(key)
                case "limit": page.limit = try integerOrNull(key)
                case "offset": page.offset = try integerOrNull(key)
                case "totalresults": page.totalResults = try integerOrNull(key)
                case "hasmore": page.hasMore = try boolOrNull(key)
                case _ where PageDecoder.recordKeys.contains(folded):
                    guard !sawRecords else { throw fail("both UserProfilePreferences and Preferences hold records") }
                    sawRecords = true
                    page.recordKey = key
                    try records(into: &page)
                default:
                    try skipValue()
                }
                skipWhitespace()
                if peek == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}' after the value of \(key)")
                break
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw fail("text after the page's closing '}'") }
        guard sawRecords else { throw fail("no UserProfilePreferences or Preferences array") }
        return page
    }

    // MARK: Records

    private mutating func records(into page: inout ExportPage) throws(PageDecodingError) {
        if literal("null") { return }
        try expect(UInt8(ascii: "["), "an array of records")
        skipWhitespace()
        if peek == UInt8(ascii: "]") { position += 1; return }
        page.ndjson.reserveCapacity(bytes.count)
        while true {
            skipWhitespace()
            let start = position
            sawLineBreak = false
            guard peek == UInt8(ascii: "{") else { throw fail("record \(page.records + 1) is not a JSON object") }
            try skipValue()
            append(start..<position, to: &page.ndjson)
            page.ndjson.append(UInt8(ascii: "\n"))
            page.records += 1
            skipWhitespace()
            if peek == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']' after record \(page.records)")
            return
        }
    }

    /// Appends the record's bytes; line breaks between its tokens are left out (a valid JSON string
    /// holds none), so each record stays one line.
    private func append(_ range: Range<Int>, to output: inout [UInt8]) {
        let slice = bytes[range]
        if !sawLineBreak {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: slice))
        } else {
            output.append(contentsOf: slice.lazy.filter { $0 != 0x0A && $0 != 0x0D })
        }
    }

    // MARK: Values

    @inline(__always)
    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func fail(_ reason: String) -> PageDecodingError {
        PageDecodingError(reason: "\(reason) (at byte \(position))")
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8, _ what: String) throws(PageDecodingError) {
        guard peek == byte else { throw fail("expected \(what)") }
        position += 1
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        // Compact JSON: most calls find a token at once.
        if position < bytes.count, bytes[position] > 0x20 { return }
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            if byte != 0x20 && byte != 0x09 { sawLineBreak = true }
            position += 1
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[position + $0] == expected[$0] }
        }
        if matches { position += count }
        return matches
    }

    private mutating func integerOrNull(_ key: String) throws(PageDecodingError) -> Int64? {
        if literal("null") { return nil }
        let start = position
        try number()
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let value = Int64(text) else {
            throw fail("\(key) is \(text.prefix(40)); expected an integer within 64 bits")
        }
        return value
    }

    private mutating func boolOrNull(_ key: String) throws(PageDecodingError) -> Bool? {
        if literal("null") { return nil }
        if literal("true") { return true }
        if literal("false") { return false }
        throw fail("\(key) is not true, false or null")
    }

    /// A JSON string at the current position; returns its text with escapes resolved.
    private mutating func string() throws(PageDecodingError) -> String {
        let start = position
        try skipString()
        let raw = bytes[(start + 1)..<(position - 1)]
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        // Keys with escapes are rare: resolve the simple ones; \u sequences stay as written.
        var out: [UInt8] = []
        var escaped = false
        for byte in raw {
            if escaped {
                switch byte {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"): out.append(contentsOf: [UInt8(ascii: "\\"), byte])
                default: out.append(byte)
                }
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func skipString() throws(PageDecodingError) {
        guard peek == UInt8(ascii: "\"") else { throw fail("expected a string") }
        position += 1
        while true {
            // Most of a page is printable ASCII inside strings: skip a run of it without the checks below.
            position = Self.plainRunEnd(in: bytes, from: position)
            guard let byte = peek else { break }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return
            case UInt8(ascii: "\\"):
                guard let escape = peek else { throw fail("unterminated string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let hex = peek, Self.isHexDigit(hex) else { throw fail("\\u needs 4 hex digits") }
                        position += 1
                    }
                default:
                    throw fail("invalid escape \\\(Character(Unicode.Scalar(escape)))")
                }
            case 0x00..<0x20:
                throw fail("control character \(byte) inside a string")
            case 0x80...:
                try skipUTF8(lead: byte)
            default:
                break
            }
        }
        throw fail("unterminated string")
    }

    /// The index of the first byte at or after `start` that is a quote, a backslash, a control
    /// character or not ASCII (`bytes.count` when none): eight bytes at a time (SWAR: a byte-wise
    /// "is zero / is less than" test on one 64-bit word, whose lowest flagged byte is exact, so its
    /// trailing zero bits give the position), then byte by byte for the last few bytes.
    @inline(__always)
    static func plainRunEnd(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var index = start
        while index + 8 <= bytes.count {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let quote = word ^ (ones &* 0x22)
            let backslash = word ^ (ones &* 0x5C)
            // A byte is zero in `x` when (x - 1) borrows into its high bit while x's own high bit is clear.
            let special =
                (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word)
                    | word) & highs
            if special != 0 { return index + special.trailingZeroBitCount / 8 }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            index += 1
        }
        return index
    }

    /// The continuation bytes of a UTF-8 sequence whose lead byte was just consumed (RFC 3629:
    /// no overlong forms, no surrogates, nothing above U+10FFFF).
    private mutating func skipUTF8(lead: UInt8) throws(PageDecodingError) {
        let (count, low, high): (Int, UInt8, UInt8) =
            switch lead {
            case 0xC2...0xDF: (1, 0x80, 0xBF)
            case 0xE0: (2, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (2, 0x80, 0xBF)
            case 0xED: (2, 0x80, 0x9F)
            case 0xF0: (3, 0x90, 0xBF)
            case 0xF1...0xF3: (3, 0x80, 0xBF)
            case 0xF4: (3, 0x80, 0x8F)
            default: (0, 0, 0)
            }
        guard count > 0 else { throw fail("invalid UTF-8") }
        for index in 0..<count {
            guard let byte = peek else { throw fail("invalid UTF-8") }
            let (lower, upper): (UInt8, UInt8) = index == 0 ? (low, high) : (0x80, 0xBF)
            guard byte >= lower, byte <= upper else { throw fail("invalid UTF-8") }
            position += 1
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    private static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return (0x30...0x39).contains(byte)
    }

    /// A JSON number (RFC 8259 §6).
    private mutating func number() throws(PageDecodingError) {
        if peek == UInt8(ascii: "-") { position += 1 }
        guard let first = peek, Self.isDigit(first) else { throw fail("expected a number") }
        position += 1
        if first != UInt8(ascii: "0") {
            while Self.isDigit(peek) { position += 1 }
        }
        if peek == UInt8(ascii: ".") {
            position += 1
            guard Self.isDigit(peek) else { throw fail("expected a digit after '.'") }
            while Self.isDigit(peek) { position += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            position += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { position += 1 }
            guard Self.isDigit(peek) else { throw fail("expected a digit in the exponent") }
            while Self.isDigit(peek) { position += 1 }
        }
    }

    /// Skips one complete value (any nesting), validating it.
    private mutating func skipValue() throws(PageDecodingError) {
        closers.removeAll(keepingCapacity: true)
        while true {
            skipWhitespace()
            // One value.
            switch peek {
            case UInt8(ascii: "{"):
                position += 1
                skipWhitespace()
                if peek == UInt8(ascii: "}") {
                    position += 1
                } else {
                    guard closers.count < Self.maximumDepth else {
                        throw fail("nested deeper than \(Self.maximumDepth)")
                    }
                    closers.append(UInt8(ascii: "}"))
                    try memberKey()
                    continue
                }
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    position += 1
                } else {
                    guard closers.count < Self.maximumDepth else {
                        throw fail("nested deeper than \(Self.maximumDepth)")
                    }
                    closers.append(UInt8(ascii: "]"))
                    continue
                }
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "t"):
                guard literal("true") else { throw fail("expected a value") }
            case UInt8(ascii: "f"):
                guard literal("false") else { throw fail("expected a value") }
            case UInt8(ascii: "n"):
                guard literal("null") else { throw fail("expected a value") }
            default:
                try number()
            }
            // After a value: close containers or go on to the next element.
            while let closer = closers.last {
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    position += 1
                    if closer == UInt8(ascii: "}") { try memberKey() }
                    break
                }
                guard peek == closer else { throw fail("expected ',' or '\(Character(Unicode.Scalar(closer)))'") }
                position += 1
                closers.removeLast()
            }
            if closers.isEmpty { return }
        }
    }

    /// `"key" :` inside an object.
    @inline(__always)
    private mutating func memberKey() throws(PageDecodingError) {
        skipWhitespace()
        try skipString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after an object key")
    }
}
