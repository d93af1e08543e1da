import Foundation
import NIOCore
import NIOHTTP1

/// Maps one complete HTTP response to a ``PollOutcome``. Pure: no I/O, no clock.
///
/// Error-code meanings: MyPreferences Profiles API help, "HTTP status codes".
/// - 2xx → ``StatusDecoder`` → `.ok` or `.undecodable`
/// - 503, and 429 Too Many Requests (RFC 6585 §4: the same "wait, then retry" with an optional
///   `Retry-After`) → `.unavailable(retryAfter:)` from `Retry-After` (see ``RetryAfter``)
/// - other 5xx → `.serverError`
/// - 400 → `.badRequest(detail:)` with a bounded body excerpt
/// - 401 → `.unauthorized`, 403 → `.forbidden`, 404 → `.notFound`
/// - anything else (1xx, 3xx — redirects are never followed — and other 4xx) → `.unexpectedStatus`
enum ResponseClassifier {
    static func outcome(status: Int, headers: HTTPHeaders, body: ByteBuffer, receivedAt: Date) -> PollOutcome {
        outcome(status: status, headers: headers, body: body, receivedAt: receivedAt) { body, contentType in
            StatusDecoder.decode(body.readableBytesView, contentType: contentType)
        }
    }

    /// The same mapping for any request kind: a 2xx goes to `decode` (the body and its `Content-Type`).
    static func outcome<Answer>(
        status: Int, headers: HTTPHeaders, body: ByteBuffer, receivedAt: Date,
        decode: (ByteBuffer, String?) -> RequestOutcome<Answer>
    ) -> RequestOutcome<Answer> {
        switch status {
        case 200..<300:
            return decode(body, headers.first(name: "Content-Type"))
        case 503, 429:
            let delay = RetryAfter.delay(
                from: headers["Retry-After"], dateHeader: headers.first(name: "Date"), receivedAt: receivedAt
            )
            return .unavailable(retryAfter: delay)
        case 500..<600:
            return .serverError
        case 400:
            return .badRequest(detail: BodyExcerpt.make(body.readableBytesView))
        case 401:
            return .unauthorized
        case 403:
            return .forbidden
        case 404:
            return .notFound
        default:
            return .unexpectedStatus
        }
    }
}
