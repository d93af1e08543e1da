import AsyncHTTPClient
import NIOCore
import NIOHTTP1
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TransportFailure {
    /// Classifies an error thrown by AsyncHTTPClient / SwiftNIO while no complete response arrived,
    /// with a short detail that is safe to log (error descriptions of these libraries carry no
    /// request headers, and our URLs carry no secrets).
    ///
    /// - connect refused / unreachable / connect timeout / DNS → `.connect`
    /// - `HTTPClientError.deadlineExceeded`, read/write timeouts, pool wait timeout → `.timeout`
    /// - connection reset, remote closed mid-response, premature EOF → `.reset`
    /// - NIOSSL / BoringSSL errors, TLS handshake timeout → `.tls`
    /// - `StatusResponseCollector.BodyTooLarge`, `NIOTooManyBytesError` → `.bodyTooLarge`
    /// - anything else → `.other`
    ///
    /// NIOPosix and NIOSSL are not direct dependencies of this target, so their error types
    /// (`NIOConnectionError`, `NIOSSLError`, `BoringSSLError`, …) are recognised by module name.
    static func classify(_ error: any Error) -> (failure: TransportFailure, detail: String) {
        let (failure, detail) = classifyRaw(error)
        // NIO describes a failed connect as "connection reset (error set): Connection refused (errno:
        // 111)": say what happened, not "reset" (issue 17.14).
        if failure == .connect, let plain = Self.connectDetail(detail) { return (failure, plain) }
        return (failure, detail)
    }

    /// A plain description of a failed connect from NIO's text, when it names the errno.
    static func connectDetail(_ text: String) -> String? {
        let known: [(String, String)] = [
            ("errno: \(ECONNREFUSED)", "connection refused"), ("errno: \(ENETUNREACH)", "network unreachable"),
            ("errno: \(EHOSTUNREACH)", "host unreachable"), ("errno: \(EADDRNOTAVAIL)", "address not available"),
            ("errno: \(ENETDOWN)", "network down"),
        ]
        return known.first { text.contains($0.0) }?.1
    }

    private static func classifyRaw(_ error: any Error) -> (failure: TransportFailure, detail: String) {
        let detail = BodyExcerpt.make(Array(String(describing: error).utf8), limit: 200)
        if error is StatusResponseCollector.BodyTooLarge || error is NIOTooManyBytesError {
            return (.bodyTooLarge, "response body over the size limit")
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return (.connect, "connect timed out")
            case .deadlineExceeded: return (.timeout, "request deadline exceeded")
            case .readTimeout: return (.timeout, "read timed out")
            case .writeTimeout: return (.timeout, "write timed out")
            case .getConnectionFromPoolTimeout: return (.timeout, "timed out waiting for a pooled connection")
            case .tlsHandshakeTimeout: return (.tls, "TLS handshake timed out")
            case .remoteConnectionClosed:
                return (.reset, "remote closed the connection before the response was complete")
            case .bodyLengthMismatch: return (.reset, "body length mismatch")
            default: return (.other, detail)
            }
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENETDOWN:
                return (.connect, detail)
            case ECONNRESET, EPIPE, ECONNABORTED:
                return (.reset, detail)
            case ETIMEDOUT:
                return (.timeout, detail)
            default:
                return (.other, detail)
            }
        }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return (.connect, "connect timed out")
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed: return (.reset, detail)
            default: return (.other, detail)
            }
        }
        if let error = error as? HTTPParserError {
            switch error {
            case .invalidEOFState: return (.reset, "connection closed mid-response")
            default: return (.other, "malformed HTTP response: \(detail)")
            }
        }
        let typeName = String(reflecting: type(of: error))
        if typeName.hasPrefix("NIOSSL.") || typeName.contains("BoringSSL") || typeName.contains("NIOSSL") {
            return (.tls, detail)
        }
        if typeName.hasSuffix("NIOConnectionError") || typeName.hasSuffix("GetaddrinfoError")
            || typeName.hasSuffix("SocketAddressError")
        {
            return (.connect, detail)
        }
        if error is CancellationError { return (.other, "cancelled") }
        return (.other, detail)
    }

    /// Whether `error`, thrown before any response byte, looks like a pooled keep-alive connection
    /// the server had already closed — safe to retry an idempotent GET once on a fresh connection.
    static func isStaleConnection(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .remoteConnectionClosed }
        if let error = error as? IOError { return [ECONNRESET, EPIPE].contains(error.errnoCode) }
        if let error = error as? ChannelError {
            return error == .eof || error == .ioOnClosedChannel || error == .outputClosed
        }
        if let error = error as? HTTPParserError { return error == .invalidEOFState }
        return false
    }
}
