import MyPreferences

/// Checks of `base_url` and `token_url`: the client's own validation (`StatusURL.validate`), so the
/// configuration and the client never disagree, worded as what the key allows.
enum URLCheck {
    /// What `text` must be instead, or `nil` when it is fine: an absolute http(s) URL with a host,
    /// no query or fragment, and plain `http://` only to a loopback host unless `insecureKey` is true.
    static func problem(_ text: String, allowInsecureHTTP: Bool, insecureKey: String) -> String? {
        do {
            try StatusURL.validate(text, field: insecureKey, allowInsecureHTTP: allowInsecureHTTP)
            return nil
        } catch let error as ClientConfigurationError where error.code == .insecureHTTP {
            return "https:// (plain http:// to a non-loopback host needs \(insecureKey): true)"
        } catch {
            return "an absolute http(s) URL with a host and without a query or fragment, e.g. https://pm.mypreferences.com/Profiles"
        }
    }
}
