import Foundation
import MyPreferences

/// Checks of `base_url` and `token_url`: the client's own validation (`StatusURL.validate`), so the
/// configuration and the client never disagree, worded as what the key allows.
enum URLCheck {
    /// What `text` must be instead, or `nil` when it is fine: an absolute http(s) URL with a host,
    /// no query or fragment, and plain `http://` only to a loopback host unless `insecureKey` is true.
    static func problem(_ text: String, allowInsecureHTTP: Bool, insecureKey: String) -> String? {
        if hasUserInfo(text) {
            return
                "a URL without a user name or password (user:password@ would be sent to the server and shown in logs); put credentials under the account's auth: section, preferably in a secret_file"
        }
        do {
            try StatusURL.validate(text, field: insecureKey, allowInsecureHTTP: allowInsecureHTTP)
            return nil
        } catch let error as ClientConfigurationError where error.code == .insecureHTTP {
            return "https:// (plain http:// to a non-loopback host needs \(insecureKey): true)"
        } catch {
            return
                "an absolute http(s) URL with a host and without a query or fragment, e.g. https://pm.mypreferences.com/Profiles"
        }
    }

    /// Whether `text` has a user-info part (`user@` or `user:password@`) before its host.
    static func hasUserInfo(_ text: String) -> Bool {
        if let components = URLComponents(string: text), components.user != nil || components.password != nil {
            return true
        }
        // Also when URLComponents refuses the text: an `@` in the authority.
        guard let scheme = text.range(of: "://") else { return false }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return authority.contains("@")
    }

    /// `text` for an error message: a user-info part replaced by `<redacted>@`, so a password is never echoed.
    static func redacted(_ text: String) -> String {
        guard hasUserInfo(text), let scheme = text.range(of: "://") else { return text }
        let rest = text[scheme.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "<redacted>@" + String(rest[rest.index(after: at)...])
    }
}
