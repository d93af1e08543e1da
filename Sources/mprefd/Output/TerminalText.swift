/// Text from outside (hook output, labels, commands) made safe to print on a terminal.
enum TerminalText {
    /// Whether `scalar` can change how a terminal shows the text around it: C0/C1 controls and DEL
    /// (escape sequences, carriage return), line and paragraph separators (U+2028, U+2029), and the
    /// bidirectional formatting characters (marks U+200E, U+200F, U+061C; embeddings and overrides
    /// U+202A–U+202E; isolates U+2066–U+2069), which can make text display in another order.
    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x2028, 0x2029: true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `text` with every unsafe scalar but those in `keeping` written as an escape: `\t`, `\r`, `\e`
    /// for the common ones, `\u{XXXX}` (hex) for the others. A backslash stays as it is.
    static func escaped(_ text: some StringProtocol, keeping: Set<Unicode.Scalar> = []) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isUnsafe(scalar), !keeping.contains(scalar) else {
                out.append(scalar)
                continue
            }
            let escape: String
            switch scalar {
            case "\t": escape = "\\t"
            case "\r": escape = "\\r"
            case "\u{1B}": escape = "\\e"
            default: escape = "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }
}
