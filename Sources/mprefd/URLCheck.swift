import Foundation
import MyPreferences

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

    /// `localhost`, 127.0.0.0/8, or `::1` — the client's own rule, so config validation and the
    /// client never disagree.
    static func isLoopback(host: String) -> Bool {
        StatusURL.isLoopback(host: host)
    }
}
