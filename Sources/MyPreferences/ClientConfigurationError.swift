/// A configuration the client refuses, found at `MyPreferencesClient.init`.
///
/// Shaped like AsyncHTTPClient's `HTTPClientError`: a struct with a stable ``Code``, the
/// configuration field at fault, and a `description` that is safe to log (it names the field,
/// the offending URL or value and the fix, and never contains a secret).
public struct ClientConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A URL that does not parse, lacks a host, or has a scheme other than `http`/`https`.
        public static let invalidURL = Code("invalid_url")
        /// Plain `http://` to a host that is not loopback, without `allowInsecureHTTP`.
        public static let insecureHTTP = Code("insecure_http")
        /// A status path template without `{accessToken}`.
        public static let invalidStatusPath = Code("invalid_status_path")
        /// A value out of range (empty client ID, non-positive timeout or body limit, …).
        public static let invalidValue = Code("invalid_value")
    }

    public let code: Code
    /// The configuration field at fault, e.g. `baseURL`, `auth.tokenURL`, `requestTimeout`.
    public let field: String
    /// What is wrong and how to fix it; safe to log.
    public let description: String

    public init(code: Code, field: String, description: String) {
        self.code = code
        self.field = field
        self.description = description
    }
}
