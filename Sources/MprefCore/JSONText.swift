/// Writing JSON text by hand, where building a value for an encoder would cost more than it says.
package enum JSONText {
    /// `text` as one JSON string literal (RFC 8259 §7): `"` and `\` escaped, `\n`, `\r`, `\t` as
    /// such, every other control character, DEL and the line/paragraph separators U+2028/U+2029 as
    /// `\u00XX`/`\u2028` (so the text stays on one line in any viewer); everything else as is.
    package static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
