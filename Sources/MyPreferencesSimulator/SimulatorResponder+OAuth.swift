import Foundation
import HTTPTypes
import Hummingbird

extension SimulatorResponder {
    /// The OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4).
    ///
    /// Client authentication by HTTP Basic `client_id:client_secret` or by the form fields `client_id` and
    /// `client_secret`; form fields `grant_type=client_credentials` and `scope={ClientId}/{UserId}`.
    /// Answers `{"access_token": …, "token_type": "Bearer", "expires_in": N}`; errors are RFC 6749 §5.2
    /// bodies: 400 `invalid_request` / `unsupported_grant_type` / `invalid_scope`, 401 `invalid_client`.
    /// Every request to this endpoint is counted. Outside `.oauth` mode any client is accepted (lifetime 1 h).
    func issueOAuthToken(_ request: Request, at time: Date) async throws -> Response {
        state.countOAuthTokenRequest()
        var request = request
        let body = try await request.collectBody(upTo: 64 * 1024)
        let form = Self.formFields(String(buffer: body))

        var clientID = form["client_id"]
        var clientSecret = form["client_secret"]
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "basic",
                let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
                let pair = String(data: decoded, encoding: .utf8),
                let colon = pair.firstIndex(of: ":")
            {
                clientID = String(pair[..<colon])
                clientSecret = String(pair[pair.index(after: colon)...])
            } else {
                return Self.oauthError(401, "invalid_client")
            }
        }

        guard form["grant_type"] == "client_credentials" else {
            return Self.oauthError(400, form["grant_type"] == nil ? "invalid_request" : "unsupported_grant_type")
        }
        guard let scope = form["scope"], let slash = scope.firstIndex(of: "/"),
            scope.startIndex < slash, scope.index(after: slash) < scope.endIndex
        else { return Self.oauthError(400, "invalid_scope") }
        let scopeClientID = String(scope[..<slash])

        let lifetime: Duration
        switch authenticator.auth {
        case .oauth(let clients, let tokenLifetime):
            guard let clientID, let clientSecret, let expected = Self.secret(of: clientID, in: clients),
                Authenticator.constantTimeEquals(clientSecret, expected)
                    || Authenticator.constantTimeEquals(clientSecret.removingPercentEncoding ?? clientSecret, expected)
            else { return Self.oauthError(401, "invalid_client") }
            lifetime = tokenLifetime
        case .none, .pnauthinfo3:
            lifetime = .seconds(3600)
        }

        let token = Self.randomToken()
        state.issue(token: token, clientID: scopeClientID, expiresAt: time + lifetime.secondsDouble, now: time)
        let expiresIn = max(0, Int(lifetime.secondsDouble.rounded(.down)))
        return Self.response(
            200, contentType: "application/json; charset=utf-8",
            body: "{\"access_token\":\"\(token)\",\"token_type\":\"Bearer\",\"expires_in\":\(expiresIn)}",
            extraHeaders: [(.cacheControl, "no-store")]
        )
    }

    /// The secret of `clientID`, also trying the form-urlencoded decoding RFC 6749 §2.3.1 prescribes for Basic.
    private static func secret(of clientID: String, in clients: [String: String]) -> String? {
        clients[clientID] ?? clientID.removingPercentEncoding.flatMap { clients[$0] }
    }

    static func oauthError(_ code: Int, _ error: String) -> Response {
        var extra: [(HTTPField.Name, String)] = [(.cacheControl, "no-store")]
        if code == 401 { extra.append((.wwwAuthenticate, "Basic realm=\"oauth\"")) }
        return response(
            code, contentType: "application/json; charset=utf-8", body: "{\"error\":\"\(error)\"}", extraHeaders: extra)
    }

    /// Parses `application/x-www-form-urlencoded` (`+` is a space).
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// 32 random bytes, base64url without padding.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
