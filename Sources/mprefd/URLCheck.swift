import Foundation

/// Checks of `base_url` and `token_url`.
enum URLCheck {
    /// What is wrong with `text` as an http(s) base URL, or `nil` when it is fine. Plain `http://`
    /// is allowed to loopback hosts, and elsewhere only with `allowInsecureHTTP`.
    static func problem(_ text: String, allowInsecureHTTP: Bool, insecureKey: String) -> String? {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty
        else { return "an absolute http(s) URL with a host, e.g. https://pm.mypreferences.com/Profiles" }
        guard components.query == nil, components.fragment == nil else {
            return "a URL without a query or fragment (remove the part after '?' or '#')"
        }
        if scheme == "http", !allowInsecureHTTP, !isLoopback(host: host) {
            return "https:// (plain http:// to the non-loopback host \(host) needs \(insecureKey): true)"
        }
        return nil
    }

    /// `localhost`, 127.0.0.0/8, or `::1`.
    static func isLoopback(host: String) -> Bool {
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
