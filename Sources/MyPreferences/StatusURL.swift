import Foundation
import MprefCore
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Building and checking the URLs the client calls.
///
/// Status path: MyPreferences Profiles API help, "GET Async/{clientId}/Export/{accessToken}/Status";
/// API/3 async help, "GET {clientId}/status/Token/{accessToken}".
package enum StatusURL {
    /// `baseURL` and the expanded `template` joined with exactly one `/`, whatever slashes either
    /// side carries. `{clientId}` and `{accessToken}` are each replaced by one percent-encoded
    /// path segment (only RFC 3986 unreserved characters stay literal; a segment of dots is
    /// encoded too, so it can never mean "this" or "parent" directory). `clientID` is any text (the
    /// reference ``Template`` is checked against, for every text, not only a valid `ClientID`).
    static func make(baseURL: String, template: String, clientID: String, accessToken: AccessToken) -> String {
        let path =
            template
            .replacingOccurrences(of: "{clientId}", with: encodeSegment(clientID))
            .replacingOccurrences(of: "{accessToken}", with: encodeSegment(accessToken.description))
        return join(baseURL, path)
    }

    /// One account's status URL with everything but the access token expanded once, so that each
    /// poll only splices the token's digits in (`make` per poll cost more than the HTTP client's own
    /// work; see docs/BENCHMARKS.md). `url(for:)` equals `make(…)` for every access token.
    package struct Template: Sendable {
        private let head: String
        private let pieces: [String]

        package init(baseURL: String, template: String, clientID: ClientID) {
            var base = Substring(baseURL)
            while base.hasSuffix("/") { base = base.dropLast() }
            var path = Substring(
                template.replacingOccurrences(of: "{clientId}", with: StatusURL.encodeSegment(clientID.value)))
            while path.hasPrefix("/") { path = path.dropFirst() }
            head = String(base) + "/"
            pieces = path.components(separatedBy: "{accessToken}")
        }

        /// The URL for `accessToken` (its decimal digits are all unreserved characters, so they need no encoding).
        package func url(for accessToken: AccessToken) -> String {
            let digits = accessToken.description
            var url = head
            url.reserveCapacity(
                head.utf8.count + pieces.reduce(0) { $0 + $1.utf8.count } + digits.utf8.count * max(pieces.count - 1, 0)
            )
            for (i, piece) in pieces.enumerated() {
                if i > 0 { url += digits }
                url += piece
            }
            return url
        }
    }

    /// The placeholders a path template may hold, exactly as spelled (case matters).
    package static let placeholders: Set<String> = ["{clientId}", "{accessToken}"]

    /// The `{…}` spans of `template` that are not one of ``placeholders`` — e.g. `{clientid}`, which
    /// would otherwise be sent literally — and a lone `{` or `}`, in order of appearance.
    package static func unknownPlaceholders(in template: String) -> [String] {
        var unknown: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else {
                unknown.append(String(rest[open]))
                rest = rest[rest.index(after: open)...]
                continue
            }
            let span = String(rest[open...close])
            if !placeholders.contains(span) { unknown.append(span) }
            rest = rest[rest.index(after: close)...]
        }
        return unknown
    }

    static func join(_ base: String, _ path: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        var path = Substring(path)
        while path.hasPrefix("/") { path = path.dropFirst() }
        return path.isEmpty ? String(base) : "\(base)/\(path)"
    }

    /// Percent-encodes `text` as a single path segment (UTF-8, upper-case hex).
    static func encodeSegment(_ text: String) -> String {
        let onlyDots = !text.isEmpty && text.allSatisfy { $0 == "." }
        var result = ""
        for byte in text.utf8 {
            let isUnreserved =
                (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
                || (byte == UInt8(ascii: ".") && !onlyDots)
            if isUnreserved {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + hex(byte >> 4) + hex(byte & 0x0F)
            }
        }
        return result
    }

    private static func hex(_ nibble: UInt8) -> String {
        String(Unicode.Scalar(nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10))
    }

    /// `application/x-www-form-urlencoded` encoding of one value (WHATWG URL "urlencoded serializer":
    /// `*-._` and alphanumerics literal, space as `+`, everything else percent-encoded).
    static func formEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "*"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                result += "+"
            default:
                result += "%" + hex(byte >> 4) + hex(byte & 0x0F)
            }
        }
        return result
    }

    /// Checks an absolute `http`/`https` URL, refusing plain `http://` to a non-loopback host
    /// unless `allowInsecureHTTP`.
    ///
    /// - Throws: ``ClientConfigurationError`` with code `.invalidURL` or `.insecureHTTP`, naming `field`.
    package static func validate(_ urlString: String, field: String, allowInsecureHTTP: Bool) throws {
        guard let components = URLComponents(string: urlString),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw ClientConfigurationError(
                code: .invalidURL, field: field,
                description:
                    "\(field) '\(urlString)' is not an absolute http(s) URL with a host; write it like 'https://pm.mypreferences.com/Profiles'"
            )
        }
        guard components.query == nil, components.fragment == nil else {
            throw ClientConfigurationError(
                code: .invalidURL, field: field,
                description:
                    "\(field) '\(urlString)' must not carry a query or fragment; remove the part after '?' or '#'"
            )
        }
        if scheme == "http", !allowInsecureHTTP, !isLoopback(host: host) {
            throw ClientConfigurationError(
                code: .insecureHTTP, field: field,
                description:
                    "\(field) '\(urlString)' uses plain http:// to the non-loopback host '\(host)'; use https://, "
                    + "or set allowInsecureHTTP (allow_insecure_http) if you really mean to send credentials unencrypted"
            )
        }
    }

    /// Whether `host` is loopback: `localhost` (any case, optional trailing dot), an IPv4 address
    /// in 127.0.0.0/8, or the IPv6 address `::1` (any spelling, brackets allowed).
    package static func isLoopback(host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            var loopback = in6_addr()
            _ = inet_pton(AF_INET6, "::1", &loopback)
            return withUnsafeBytes(of: &v6) { a in withUnsafeBytes(of: &loopback) { b in a.elementsEqual(b) } }
        }
        return false
    }
}
