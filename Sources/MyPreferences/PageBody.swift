import NIOCore

/// A retrieve answer's body as it arrived, not yet decoded: a download keeps it restartable (its
/// spool, beside the `.partial` file) before it asks for the next page, then decodes it.
package struct PageBody: Sendable, Hashable {
    private let buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// A body read back from a download's spool.
    package init(_ bytes: [UInt8]) { self.buffer = ByteBuffer(bytes: bytes) }

    /// Its length in bytes.
    package var count: Int { buffer.readableBytes }

    /// Its bytes, lent for the duration of `body` (read in place, not copied).
    package func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeReadableBytes(body)
    }

    /// The page it holds, or why it is not one (``PageDecoder``).
    package func decoded() -> RequestOutcome<ExportPage> {
        withUnsafeBytes { PageDecoder.decode($0) }
    }
}

/// One retrieve request's outcome, its 2xx body not yet decoded, with its measurements.
package typealias PageBodyResult = RequestResult<PageBody>

extension RequestOutcome {
    /// The same outcome with a 2xx's answer replaced by what `transform` makes of it (which may be
    /// `.undecodable`); every other outcome is carried over as it is.
    package func flatMap<Other>(_ transform: (Answer) -> RequestOutcome<Other>) -> RequestOutcome<Other> {
        switch self {
        case .ok(let answer): transform(answer)
        case .unavailable(let retryAfter): .unavailable(retryAfter: retryAfter)
        case .serverError: .serverError
        case .badRequest(let detail): .badRequest(detail: detail)
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .unexpectedStatus: .unexpectedStatus
        case .transportError(let failure, let detail): .transportError(failure, detail: detail)
        case .undecodable(let reason, let excerpt): .undecodable(reason: reason, excerpt: excerpt)
        }
    }
}
