import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Collects one status response — head, then body up to a byte limit — as AsyncHTTPClient's
/// delegate: every callback runs on the request's event loop, so collecting costs no task hops.
///
/// Unlike AsyncHTTPClient's `ResponseAccumulator`, the head survives a failed body (a 503 whose
/// body is cut off or too large still has its `Retry-After`): read ``head`` after the request failed.
final class StatusResponseCollector: HTTPClientResponseDelegate {
    /// The answer: status line and headers, the whole body, and the wall-clock time the head arrived.
    struct Collected: Sendable {
        var head: HTTPResponseHead
        var body: ByteBuffer
        var receivedAt: Date
    }

    /// The body went past `maxBodyBytes` (announced by `Content-Length` or as it arrived).
    struct BodyTooLarge: Error {
        var maxBodyBytes: Int
    }

    private struct State {
        var head: HTTPResponseHead?
        var receivedAt = Date.distantPast
        var body = ByteBuffer()
    }

    private let maxBodyBytes: Int
    private let now: @Sendable () -> Date
    private let state = NIOLockedValueBox(State())

    /// - Parameters:
    ///   - maxBodyBytes: the largest body accepted, in bytes; a longer one fails the request with ``BodyTooLarge``.
    ///   - now: the wall clock, read when the head arrives (for `Retry-After` dates).
    init(maxBodyBytes: Int, now: @escaping @Sendable () -> Date) {
        self.maxBodyBytes = maxBodyBytes
        self.now = now
    }

    /// The response head with the time it arrived, once it has; `nil` when the request failed before it.
    var head: (head: HTTPResponseHead, receivedAt: Date)? {
        state.withLockedValue { s in s.head.map { ($0, s.receivedAt) } }
    }

    func didReceiveHead(task: HTTPClient.Task<Collected>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let receivedAt = now()
        state.withLockedValue {
            $0.head = head
            $0.receivedAt = receivedAt
        }
        if let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }) {
            guard length <= maxBodyBytes else {
                return task.eventLoop.makeFailedFuture(BodyTooLarge(maxBodyBytes: maxBodyBytes))
            }
            // The whole body in one allocation (a page is about a megabyte), not grown by doubling.
            if length > 0 { state.withLockedValue { $0.body.reserveCapacity(length) } }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Collected>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let fits = state.withLockedValue { s -> Bool in
            guard s.body.readableBytes + buffer.readableBytes <= maxBodyBytes else { return false }
            var part = buffer
            s.body.writeBuffer(&part)
            return true
        }
        return fits
            ? task.eventLoop.makeSucceededVoidFuture()
            : task.eventLoop.makeFailedFuture(BodyTooLarge(maxBodyBytes: maxBodyBytes))
    }

    func didReceiveError(task: HTTPClient.Task<Collected>, _ error: any Error) {}

    func didFinishRequest(task: HTTPClient.Task<Collected>) throws -> Collected {
        try state.withLockedValue { s in
            guard let head = s.head else { throw HTTPClientError.remoteConnectionClosed }
            return Collected(head: head, body: s.body, receivedAt: s.receivedAt)
        }
    }
}
