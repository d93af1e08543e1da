/// The name of a MyPreferences segment, the `{segmentName}` of the initiate path
/// (`POST Async/{clientId}/Export/Segment/{segmentName}`, MyPreferences Profiles API help).
///
/// Checked once where it enters (the CLI, a database row) and carried typed from there: 1–200
/// characters, none of them a control character, `/` or `\` (a server may decode `%2F` back into a
/// path separator), and not only spaces. The client percent-encodes it as one path segment.
package struct SegmentName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The name as the vendor knows it.
    package let value: String

    /// The rule, for error messages.
    package static let rule =
        "a segment name is 1–200 characters of valid UTF-8, without control, format or bidirectional characters (e.g. U+200B, U+202E), '/' or '\\', not only spaces, and not '.' or '..'"

    /// `nil` when `text` breaks ``rule``.
    package init?(_ text: String) {
        guard (1...200).contains(text.count), !text.allSatisfy(\.isWhitespace), text != ".", text != "..",
            !text.unicodeScalars.contains("\u{FFFD}"),
            !text.unicodeScalars.contains(where: {
                $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "/" || $0 == "\\"
                    || $0.properties.generalCategory == .format || $0 == "\u{2028}" || $0 == "\u{2029}"
            })
        else { return nil }
        value = text
    }

    package var description: String { value }
    package static func < (lhs: SegmentName, rhs: SegmentName) -> Bool { lhs.value < rhs.value }
}
