/// The vendor's reading of an incremental export's `LastDateTime` (MyPreferences Profiles API help,
/// "Async Export Segment"): "milliseconds are rounded up to a boundary (000–002 → 003, 003–006 → 007,
/// 007–009 → 000 of the next unit) to avoid records being skipped", applied to the last digit of the
/// milliseconds. The one rule the client (which sends a value the rounding cannot move past the window
/// start), the simulator (which applies it) and the tests share.
package enum LastDateTime {
    /// `milliseconds` since the Unix epoch as the vendor reads them: `…0`–`…2` → `…3`, `…3`–`…6` → `…7`,
    /// `…7`–`…9` → the next multiple of 10 ms (carrying into the second, …). E.g. `.120` → `.123`,
    /// `.127` → `.130`, `.999` → `.000` of the next second. Saturates at `Int64.max`.
    package static func vendorRounded(milliseconds: Int64) -> Int64 {
        let digit = ((milliseconds % 10) + 10) % 10
        let tens = milliseconds - digit
        switch digit {
        case 0...2: return tens.addingSaturating(3)
        case 3...6: return tens.addingSaturating(7)
        default: return tens.addingSaturating(10)
        }
    }
}
