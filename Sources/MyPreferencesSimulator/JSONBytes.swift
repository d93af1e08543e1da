/// Compact JSON written byte by byte, so that the simulator's export records have fixed key order and
/// fixed bytes (Foundation's encoder promises neither). Never writes a raw control character: a record is
/// one line of NDJSON.
struct JSONBytes {
    var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends `text` as is (JSON punctuation, literals, pre-built fragments).
    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends `"key":`.
    mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func int(_ value: Int64) {
        raw(String(value))
    }

    mutating func bool(_ value: Bool) {
        raw(value ? "true" : "false")
    }

    /// Appends a JSON string. `"`, `\` and controls are escaped (`\n`, `\r`, `\t`, else `\u00XX`), as are
    /// U+2028 and U+2029 (which some JavaScript parsers take for line ends); with `asciiOnly`, every
    /// non-ASCII scalar is written as `\uXXXX` (a surrogate pair above U+FFFF).
    mutating func string(_ value: String, asciiOnly: Bool = false) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20, 0x2028, 0x2029: unicodeEscape(UInt16(truncatingIfNeeded: scalar.value))
            case 0x20..<0x80: bytes.append(UInt8(truncatingIfNeeded: scalar.value))
            default:
                if asciiOnly {
                    for unit in String(scalar).utf16 { unicodeEscape(unit) }
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func unicodeEscape(_ unit: UInt16) {
        let hex = Array("0123456789abcdef".utf8)
        raw("\\u")
        for shift in stride(from: 12, through: 0, by: -4) {
            bytes.append(hex[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }
}
