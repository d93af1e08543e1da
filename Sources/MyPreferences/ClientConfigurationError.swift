/// A configuration the client refuses, found at `MyPreferencesClient.init`.
///
/// Shaped like AsyncHTTPClient's `HTTPClientError`: a struct with a stable ``Code``, the
/// configuration field at fault, and a `description` that is safe to log (it names the field,
/// the offending URL or value and the fix, and never contains a secret).
package struct ClientConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        package let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        package var description: String { rawValue }

        /// A URL that does not parse, lacks a host, or has a scheme other than `http`/`https`.
        package static let invalidURL = Code("invalid_url")
        /// Plain `http://` to a host that is not loopback, without `allowInsecureHTTP`.
        package static let insecureHTTP = Code("insecure_http")
        /// A status path template without `{accessToken}`.
        package static let invalidStatusPath = Code("invalid_status_path")
        /// A value out of range (empty client ID, non-positive timeout or body limit, …).
        package static let invalidValue = Code("invalid_value")
    }

    package let code: Code
    /// The configuration field at fault, e.g. `baseURL`, `auth.tokenURL`, `requestTimeout`.
    package let field: String
    /// What is wrong and how to fix it; safe to log.
    package let description: String

    package init(code: Code, field: String, description: String) {
        self.code = code
        self.field = field
        self.description = description
    }
}
