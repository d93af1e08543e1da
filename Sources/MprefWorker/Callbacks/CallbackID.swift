/// The id that ends an export's `CallbackURL` (`<callbacks.public_url>/<id>`, `exports.callback_id`):
/// 128 random bits as 32 lower-case hex digits. Unguessable, so a POST naming it can only come from
/// someone the URL was given to (the vendor); still only a hint to poll — the status comes from the poll.
package enum CallbackID {
    /// Length of an id: 32 hex digits = 128 bits.
    package static let length = 32

    /// A fresh id from `generator` (`SystemRandomNumberGenerator` in production: a CSPRNG on Linux,
    /// `getrandom(2)`).
    package static func make(using generator: inout some RandomNumberGenerator) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<(length / 16) {
            var word = generator.next()
            for _ in 0..<16 {
                bytes.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A fresh id from the system's CSPRNG.
    package static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    /// Whether `text` has the form of an id: exactly ``length`` characters of `0-9a-f`. Checked before
    /// any database lookup, so a malformed id costs no read.
    package static func isWellFormed(_ text: some StringProtocol) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}
