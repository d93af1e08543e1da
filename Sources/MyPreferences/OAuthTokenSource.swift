import AsyncHTTPClient
import Foundation
import Logging
import MprefCore
import NIOCore
import NIOHTTP1

/// Why no OAuth access token could be had. `description` is safe to log: it never contains the
/// client secret or a token.
struct OAuthTokenError: Error, CustomStringConvertible {
    enum Kind {
        /// The token endpoint answered 400 or 401 (bad client credentials or scope).
        case rejected
        /// The token endpoint answered something else, or an unusable body.
        case unusableAnswer
        /// No answer: connect failure, timeout, …
        case transport(TransportFailure)
    }

    var kind: Kind
    /// The token endpoint's HTTP status, when it answered.
    var httpStatus: Int?
    var description: String
}

/// An OAuth 2.0 client-credentials token cache with single-flight refresh.
///
/// Grant (PossibleNOW integration-API docs, "OAuth 2.0"; RFC 6749 §4.4): `POST tokenURL` with HTTP
/// Basic `oauthClientID:oauthClientSecret` and the form body
/// `grant_type=client_credentials&scope={ClientId}/{UserId}`; the JSON answer carries
/// `access_token`, `token_type` (`Bearer`) and `expires_in` (seconds; 300 assumed when absent).
///
/// A cached token is used until less than a refresh margin of its lifetime remains:
/// `max(30 s, 10 % of the lifetime)`, but never more than half the lifetime. Concurrent callers
/// needing a token share one request to the token endpoint.
actor OAuthTokenSource {
    struct Token: Sendable, Equatable {
        var value: String
        var obtainedAt: Date
        var lifetime: TimeInterval

        var refreshAt: Date {
            let margin = min(max(30, lifetime * 0.1), lifetime * 0.5)
            return obtainedAt.addingTimeInterval(lifetime - margin)
        }
    }

    private let httpClient: HTTPClient
    private let tokenURL: String
    private let basicCredentials: String
    private let formBody: String
    private let requestTimeout: Duration
    private let now: @Sendable () -> Date
    private let logger: Logger

    private var cached: Token?
    private var inFlight: Task<Token, any Error>?

    init(
        httpClient: HTTPClient, tokenURL: String, oauthClientID: String, oauthClientSecret: Secret,
        clientID: String, userID: String, requestTimeout: Duration, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.httpClient = httpClient
        self.tokenURL = tokenURL
        self.basicCredentials = Data("\(oauthClientID):\(oauthClientSecret.value)".utf8).base64EncodedString()
        self.formBody = "grant_type=client_credentials&scope=" + StatusURL.formEncode("\(clientID)/\(userID)")
        self.requestTimeout = requestTimeout
        self.now = now
        self.logger = logger
    }

    /// A token good for at least the refresh margin, fetching one if needed (shared among callers).
    ///
    /// - Throws: ``OAuthTokenError``.
    func token() async throws -> String {
        if let cached, now() < cached.refreshAt { return cached.value }
        let task: Task<Token, any Error>
        if let inFlight {
            task = inFlight
        } else {
            let fetch = { @Sendable [httpClient, tokenURL, basicCredentials, formBody, requestTimeout, now, logger] in
                try await Self.fetch(
                    httpClient: httpClient, tokenURL: tokenURL, basicCredentials: basicCredentials, formBody: formBody,
                    requestTimeout: requestTimeout, now: now, logger: logger
                )
            }
            // Unstructured on purpose: the refresh is shared, so one caller's cancellation must not fail the others.
            task = Task { try await fetch() }
            inFlight = task
        }
        do {
            let token = try await task.value
            if inFlight == task { inFlight = nil }
            if cached.map({ $0.obtainedAt <= token.obtainedAt }) ?? true { cached = token }
            return token.value
        } catch {
            if inFlight == task { inFlight = nil }
            throw error
        }
    }

    /// Forgets `token` after the API refused it (401), so the next ``token()`` fetches a new one.
    /// A token that has already been replaced is left alone, so concurrent 401s cause one refresh.
    func invalidate(_ token: String) {
        if cached?.value == token { cached = nil }
    }

    private static func fetch(
        httpClient: HTTPClient, tokenURL: String, basicCredentials: String, formBody: String,
        requestTimeout: Duration, now: @Sendable () -> Date, logger: Logger
    ) async throws -> Token {
        var request = HTTPClientRequest(url: tokenURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Basic \(basicCredentials)")
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: MyPreferencesClient.userAgent)
        request.body = .bytes(ByteBuffer(string: formBody))

        // The lifetime counts from before the request, so the token is never thought fresher than it is.
        let requestedAt = now()
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, deadline: .now() + TimeAmount(requestTimeout))
            body = try await response.body.collect(upTo: 65_536)
        } catch {
            let (failure, detail) = TransportFailure.classify(error)
            logger.debug("OAuth token request failed", metadata: ["oauth.failure": "\(failure.rawValue)"])
            throw OAuthTokenError(kind: .transport(failure), httpStatus: nil, description: "token endpoint: \(detail)")
        }
        let status = Int(response.status.code)
        logger.debug("OAuth token response", metadata: ["http.status": "\(status)"])
        guard (200..<300).contains(status) else {
            let kind: OAuthTokenError.Kind = (status == 400 || status == 401) ? .rejected : .unusableAnswer
            throw OAuthTokenError(kind: kind, httpStatus: status, description: "token endpoint answered HTTP \(status)")
        }
        func unusable(_ why: String) -> OAuthTokenError {
            OAuthTokenError(
                kind: .unusableAnswer, httpStatus: status, description: "token endpoint answer unusable: \(why)")
        }
        guard case .object(let members)? = try? JSONValue.parse(body.readableBytesView) else {
            throw unusable("not a JSON object")
        }
        func field(_ name: String) -> JSONValue? { members.first(where: { $0.key == name })?.value }
        guard case .string(let accessToken)? = field("access_token"), !accessToken.isEmpty,
            accessToken.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw unusable("no usable access_token") }
        if case .string(let type)? = field("token_type"), type.lowercased() != "bearer" {
            throw unusable("token_type is not Bearer")
        }
        var lifetime: TimeInterval = 300
        switch field("expires_in") {
        case .number(let text)?, .string(let text)?:
            guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
                throw unusable("invalid expires_in")
            }
            lifetime = min(seconds, Duration.longest.seconds)  // a server's "forever" stays a finite date
        default:
            break
        }
        return Token(value: accessToken, obtainedAt: requestedAt, lifetime: lifetime)
    }
}
