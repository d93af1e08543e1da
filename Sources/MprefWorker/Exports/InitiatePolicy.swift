import Foundation
import MprefCore
import MyPreferences

/// What to do with one initiate request's outcome: the pure rule of `mprefd export`.
///
/// The API has no idempotency key, so an initiate is only sent again when the answer proves the
/// server started nothing: the connection was never made (`transport_error` of kind `connect`), or a
/// 503/429 asked to come back later (MyPreferences "HTTP status codes": 503 "delay your request for some
/// time"). Any other answer that is not a token either refused the request (4xx, 3xx: nothing started)
/// or leaves the outcome unknown (a timeout or reset after sending, a 5xx, an unreadable 2xx).
package struct InitiatePolicy: Sendable {
    /// What follows one attempt.
    package enum Decision: Sendable, Hashable {
        /// The export started with this access token.
        case started(accessToken: AccessToken)
        /// Nothing started; send again after `delay`.
        case retry(after: Duration, reason: String)
        /// Nothing started, and sending again will not change that.
        case refused(Refusal, reason: String)
        /// An export may have started; its token is not known.
        case unknown(reason: String)
    }

    /// Why nothing started, for the exit code.
    package enum Refusal: Sendable, Hashable {
        /// 400 and other 4xx, 3xx: the request as made is wrong (the segment, the body).
        case badRequest
        /// 404: the client ID (or segment) is not known to the server.
        case notFound
        /// 401/403: credentials or permissions.
        case credentials
        /// 503/429 or no connection through every attempt; TLS failures.
        case unavailable
    }

    /// Attempts in all (the first included). Default 5.
    package var maxAttempts: Int
    /// Delay before the second attempt when the server gave no `Retry-After`; doubles (full jitter). Default 1 s.
    package var initialDelay: Duration
    /// The longest wait between attempts (a longer `Retry-After` ends the command instead). Default 60 s.
    package var maxDelay: Duration

    package init(maxAttempts: Int = 5, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The decision after attempt number `attempt` (1-based) came to `result`; jitter from `rng`.
    package func decide(_ result: InitiateResult, attempt: Int, using rng: inout some RandomNumberGenerator) -> Decision
    {
        let status = result.httpStatus.map { "HTTP \($0)" } ?? "no answer"
        switch result.outcome {
        case .ok(let initiated):
            return .started(accessToken: initiated.accessToken)
        case .unavailable(let retryAfter):
            let reason =
                "the server is unavailable (\(status)\(retryAfter.map { ", Retry-After \($0.seconds) s" } ?? ""))"
            return retry(after: retryAfter, attempt: attempt, reason: reason, using: &rng)
        case .transportError(.connect, let detail):
            return retry(after: nil, attempt: attempt, reason: "cannot connect: \(detail)", using: &rng)
        case .transportError(.tls, let detail):
            return .refused(.unavailable, reason: "TLS failed before the request was sent: \(detail)")
        case .badRequest(let detail):
            return .refused(
                .badRequest,
                reason: "the server refused the request (400 Bad Request): \(detail.isEmpty ? "no message" : detail)")
        case .notFound:
            return .refused(
                .notFound,
                reason: "the server answered 404 Not Found: the client ID (or the segment) is not known to it")
        case .unauthorized:
            return .refused(
                .credentials,
                reason:
                    "the server answered 401 Unauthorized: check the account's auth settings (`mprefd check-config --probe`)"
            )
        case .forbidden:
            return .refused(
                .credentials,
                reason: "the server answered 403 Forbidden: the API user lacks permission to export this segment")
        case .unexpectedStatus:
            if let code = result.httpStatus, (300..<500).contains(code) {
                return .refused(.badRequest, reason: "the server answered HTTP \(code); nothing was started")
            }
            return .unknown(reason: "the server answered \(status)")
        case .serverError:
            return .unknown(reason: "the server failed (\(status)) and may or may not have started the export")
        case .transportError(let failure, let detail):
            return .unknown(reason: "the answer was lost (\(failure.rawValue): \(detail))")
        case .undecodable(let reason, let excerpt):
            return .unknown(reason: "the answer cannot be read (\(reason))\(excerpt.isEmpty ? "" : ": \(excerpt)")")
        }
    }

    private func retry(
        after retryAfter: Duration?, attempt: Int, reason: String, using rng: inout some RandomNumberGenerator
    ) -> Decision {
        guard attempt < maxAttempts else {
            return .refused(.unavailable, reason: "\(reason); gave up after \(attempt) attempts")
        }
        if let retryAfter {
            guard retryAfter <= maxDelay else {
                return .refused(
                    .unavailable, reason: "\(reason): longer than \(maxDelay.seconds) s to wait; try again later")
            }
            return .retry(after: max(retryAfter, .zero), reason: reason)
        }
        let ceiling = min(maxDelay, initialDelay * (1 << min(attempt - 1, 20)))
        let jittered = Duration.milliseconds(Int64.random(in: 0...max(0, ceiling.milliseconds), using: &rng))
        return .retry(after: max(jittered, .milliseconds(100)), reason: reason)
    }
}
