import Foundation

extension StringProtocol {
    /// `self` without surrounding whitespace (`newlines` too when asked), exactly as Foundation's
    /// `trimmingCharacters(in:)` with `.whitespaces` / `.whitespacesAndNewlines` trims — but when both
    /// ends are printable ASCII, as in nearly every answer, without Foundation's bridging cost
    /// (measured on the poll path in docs/BENCHMARKS.md).
    func trimmingWhitespace(andNewlines newlines: Bool = true) -> String {
        let utf8 = Substring(self).utf8
        if let first = utf8.first, let last = utf8.last, (0x21...0x7E).contains(first), (0x21...0x7E).contains(last) {
            return String(self)
        }
        return trimmingCharacters(in: newlines ? .whitespacesAndNewlines : .whitespaces)
    }
}
