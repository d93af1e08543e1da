/// A short, log-safe excerpt of a response body (for `.undecodable` and `.badRequest`).
///
/// At most `limit` characters (default 256); invalid UTF-8 becomes U+FFFD, never a trap; the cut
/// never splits a UTF-8 sequence; tab, CR and LF become a space and every other control character
/// (C0, DEL, C1) becomes U+FFFD, so an excerpt is always one printable line.
package enum BodyExcerpt {
    package static let defaultLimit = 256

    package static func make<Body: Collection>(_ body: Body, limit: Int = defaultLimit) -> String
    where Body.Element == UInt8 {
        guard limit > 0 else { return "" }
        // A character is at most a few bytes in practice; read a bounded prefix, cut at a sequence start.
        let maximumBytes = limit * 8
        var prefix = Array(body.prefix(maximumBytes + 1))
        if prefix.count > maximumBytes {
            var end = maximumBytes
            while end > 0, prefix[end] & 0xC0 == 0x80 { end -= 1 }
            prefix.removeSubrange(end...)
        }
        var result = ""
        var count = 0
        for character in String(decoding: prefix, as: UTF8.self) {
            guard count < limit else { break }
            result.append(clean(character))
            count += 1
        }
        return result
    }

    private static func clean(_ character: Character) -> Character {
        guard let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1 || character == "\r\n"
        else {
            return character.unicodeScalars.contains(where: isControl) ? "\u{FFFD}" : character
        }
        if character == "\r\n" || scalar == "\t" || scalar == "\n" || scalar == "\r" { return " " }
        return isControl(scalar) ? "\u{FFFD}" : character
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
