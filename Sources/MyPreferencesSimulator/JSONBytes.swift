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
                    UTF16.encode(scalar) { unicodeEscape($0) }
                } else {
                    UTF8.encode(scalar) { bytes.append($0) }
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends `value` as `digits` decimal digits, zero-padded (`value` in `0..<10^digits`).
    mutating func zeroPadded(_ value: Int64, digits: Int) {
        var divisor: Int64 = 1
        for _ in 1..<max(1, digits) { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    private mutating func unicodeEscape(_ unit: UInt16) {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "u"))
        for shift: UInt16 in [12, 8, 4, 0] {
            let nibble = UInt8(truncatingIfNeeded: (unit >> shift) & 0xF)
            bytes.append(nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10))
        }
    }
}
