// The three identifiers mprefd passes around, as three types instead of two `Int64`s and a `String`:
// a token's row id (``TokenID``), the vendor's access token (``AccessToken``) and the account's client ID
// (``ClientID``). Each is converted once where it enters (CLI argument, config file, HTTP body, database
// row) and carried typed from there. Each prints (`description`) and encodes (`Codable`, a single value)
// as the bare number or string it wraps, so log metadata, URLs, file names, CLI and JSON output read
// exactly as they did with the plain values. GRDB conversions live in MprefStore (`Identifiers+GRDB`).

/// A MyPreferences access token: the integer the vendor returns when an export is initiated
/// (`{"AccessToken": N}`) and the `{accessToken}` of the status, page and commit paths.
///
/// Any `Int64` can be held (a status answer may echo another number, which is then compared); a token
/// mprefd stores or is given is positive (``init(digits:)``, the `tokens.access_token > 0` CHECK).
package struct AccessToken: IntegerIdentifier {
    /// The integer as the vendor sent it.
    package let value: Int64

    package init(_ value: Int64) { self.value = value }

    /// What ``init(digits:)`` accepts, for error messages.
    package static let rule = "an access token is a positive integer 1…9223372036854775807 written with digits only"

    /// An access token typed by an operator: 1…9223372036854775807 written as ASCII digits only (no sign,
    /// no `+`, no spaces; leading zeros are allowed). `nil` for anything else (``rule``).
    package init?(digits text: some StringProtocol) {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let value = Int64(String(text)), value > 0 else { return nil }
        self.value = value
    }
}

/// The id of a `tokens` row (`tokens.id`, the `token_id` of `polls`, `hook_runs`, `downloads`, …):
/// mprefd's own handle of a token, assigned by SQLite, never sent to the vendor.
package struct TokenID: IntegerIdentifier {
    /// The SQLite row id.
    package let value: Int64

    package init(_ value: Int64) { self.value = value }
}

/// What ``AccessToken`` and ``TokenID`` share: an `Int64` that prints, compares and encodes as the
/// bare integer (`description`, `<`, `Codable` as a single value), so output reads as it did with
/// plain integers.
package protocol IntegerIdentifier: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The integer.
    var value: Int64 { get }
    init(_ value: Int64)
}

extension IntegerIdentifier {
    /// The bare integer (`123456`): log values, URL segments, file names, CLI and JSON output.
    package var description: String { String(value) }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// Decodes the bare integer.
    package init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(Int64.self))
    }

    /// Encodes the bare integer (JSON output is unchanged).
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

// Integer literals, for readability where a number is written in code (tests: `tokenID: 7`). The `Int64`
// initialisers are total, so a literal checks nothing that `init(_:)` would not.
extension AccessToken: ExpressibleByIntegerLiteral {
    package init(integerLiteral value: Int64) { self.init(value) }
}

extension TokenID: ExpressibleByIntegerLiteral {
    package init(integerLiteral value: Int64) { self.init(value) }
}

/// A MyPreferences client ID: the `ClientId` of an account, the `{clientId}` of every API path and the
/// directory of its downloads (`<directory>/<client ID>/<access token>.ndjson`).
///
/// Checked once where it enters (``init(_:)``, ``rule``): 1–128 of ASCII letters, digits, `_`, `-`,
/// `.`, and not `.` or `..` (which would name directories in a download path). So it is safe as one
/// path segment and as a file name component as it is.
package struct ClientID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The client ID as configured.
    package let value: String

    /// What ``init(_:)`` accepts, for error messages.
    package static let rule = "a client ID is 1–128 of letters, digits, '_', '-', '.'"

    /// `nil` when `text` breaks ``rule``.
    package init?(_ text: some StringProtocol) {
        guard Self.isValid(text) else { return nil }
        value = String(text)
    }

    /// Whether `text` follows ``rule``.
    package static func isValid(_ text: some StringProtocol) -> Bool {
        let bytes = text.utf8
        // `.` and `..` would name directories in a download path (and are no client ID).
        guard (1...128).contains(bytes.count), text != ".", text != ".." else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }

    /// The client ID as it is (`acme`): log values, URL segments, directory names, CLI output.
    package var description: String { value }

    package static func < (lhs: ClientID, rhs: ClientID) -> Bool { lhs.value < rhs.value }

    /// Decodes the bare string; one that breaks ``rule`` is a `DecodingError.dataCorrupted`.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ClientID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.rule)
        }
        self = id
    }

    /// Encodes the bare string (JSON output is unchanged).
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
