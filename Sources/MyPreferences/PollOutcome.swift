import MprefCore
/// What one request to MyPreferences came to, classified so the worker can act on it without knowing
/// HTTP. `Answer` is what a usable 2xx carries: an ``ExportStatus`` for a status poll, an
/// ``ExportPage`` for a retrieve, a ``CommitReceipt`` for a commit. Every request kind shares the
/// other cases, so 503/Retry-After, 401/403, 404 and errors mean the same thing for all of them.
///
/// Error-code meanings: MyPreferences Profiles API help, "HTTP status codes" (400, 401, 403, 404, 500, 503).
package enum RequestOutcome<Answer: Sendable & Hashable>: Sendable, Hashable {
    /// 2xx with a decodable answer (for a status poll: an `AsyncApiDataExportStatusResult`).
    case ok(Answer)
    /// 503 (or 429 Too Many Requests): the whole host is temporarily unavailable or asks us to slow
    /// down (the code is in `PollResult.httpStatus`). `retryAfter` is the server's usable
    /// `Retry-After` hint (RFC 9110 §10.2.3), or `nil` when absent or unusable.
    case unavailable(retryAfter: Duration?)
    /// Any other 5xx (the code is in `PollResult.httpStatus`).
    case serverError
    /// 400: the request is malformed; `detail` is a bounded excerpt of the body.
    case badRequest(detail: String)
    /// 401 after the one OAuth refresh-and-retry (if the scheme has one).
    case unauthorized
    /// 403: the user lacks permission.
    case forbidden
    /// 404: bad client ID or access token (or not visible yet).
    case notFound
    /// Any other status code (1xx, 3xx, other 4xx) — e.g. a redirect, which is never followed.
    case unexpectedStatus
    /// No response: connect failure, reset, timeout, TLS failure, body over the limit.
    case transportError(TransportFailure, detail: String)
    /// A 2xx whose body could not be decoded; `excerpt` is at most 256 characters of it.
    case undecodable(reason: String, excerpt: String)
}

/// Why no usable response arrived.
package enum TransportFailure: String, Sendable, Hashable {
    case connect, timeout, reset, tls, bodyTooLarge = "body_too_large", other
}

/// What a status poll came to.
package typealias PollOutcome = RequestOutcome<ExportStatus>

/// One request's outcome with its measurements.
package struct RequestResult<Answer: Sendable & Hashable>: Sendable, Hashable {
    package var outcome: RequestOutcome<Answer>
    /// The HTTP status code of the final response; `nil` when no response arrived.
    package var httpStatus: Int?
    /// Time from sending the request to having the whole body (monotonic clock).
    package var latency: Duration

    package init(outcome: RequestOutcome<Answer>, httpStatus: Int?, latency: Duration) {
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.latency = latency
    }
}

/// One status poll's outcome with its measurements.
package typealias PollResult = RequestResult<ExportStatus>

extension RequestOutcome where Answer == ExportStatus {
    /// This outcome for a poll of `accessToken`: an `.ok` answer whose body names another export
    /// (`AccessToken` echoed as a different number) is `.undecodable` — recorded and logged as an
    /// error, never a terminal state, so an answer meant for export 71 can never complete export 70
    /// (or start its hooks). An answer without `AccessToken` is trusted, as the API documents none
    /// as required.
    package func identified(as accessToken: AccessToken) -> PollOutcome {
        guard case .ok(let status) = self, let echoed = status.accessToken, echoed != accessToken else { return self }
        return .undecodable(
            reason: "the answer names AccessToken \(echoed), not the polled \(accessToken)",
            excerpt: "AccessToken \(echoed), Status \(BodyExcerpt.make(Array(status.status.utf8), limit: 64))")
    }
}

extension RequestOutcome {

    /// The case without its payload: what history, logs and metrics labels record.
    package var kind: OutcomeKind {
        switch self {
        case .ok: .ok
        case .unavailable: .unavailable
        case .serverError: .serverError
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .unexpectedStatus: .unexpectedStatus
        case .transportError: .transportError
        case .undecodable: .undecodable
        }
    }
}
