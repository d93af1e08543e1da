import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MprefCore
import MprefStore
import MprefWorker
import MyPreferences
import NIOCore
import ServiceLifecycle
import Synchronization

/// The callback listener (`callbacks.listen`): MyPreferences POSTs to an export's `CallbackURL`
/// (`<callbacks.public_url>/<id>`, sent by `mprefd export`) when the export is complete, and the
/// daemon then polls that token at once. Served by Hummingbird as one more service of `mprefd run`'s
/// `ServiceGroup`, like ``MetricsEndpoint``, behind the operator's TLS reverse proxy.
///
/// The vendor documents neither the body, its content type, a signature nor retries, so nothing in
/// the request is trusted: the id only says *which* token to poll, the status comes from the poll.
/// The body is read (at most ``maxBodyBytes``) only to log its size and, at debug, an excerpt.
///
/// Answers, in the order they are checked:
/// 1. a source over its rate (token bucket per peer address; behind a proxy on loopback, per the
///    last `X-Forwarded-For` entry) → 429 with `Retry-After: 1`;
/// 2. a method other than POST → 405 (`Allow: POST`);
/// 3. a path whose last segment is not a well-formed id (32 of `0-9a-f`) → 404, without touching the
///    database; any prefix before it is ignored (`/ID`, `/mprefd/callback/ID`), so the proxy may strip
///    or keep its own prefix;
/// 4. a body over ``maxBodyBytes`` (by `Content-Length` or as read) → 413;
/// 5. an id no export has → 404 (one indexed read, no write);
/// 6. a known id → 202 at once; when its token is `watching`, the scheduler is asked to poll it now
///    (``Daemon/pollNow(tokenID:)``: pauses, pace and `max_in_flight` still apply). A known id whose
///    token is finished, paused or not yet stored is accepted too (so the vendor does not retry),
///    with nothing to do.
/// A database that cannot be read answers 503. Each answer is counted in `mprefd_callbacks_total`.
final class CallbackEndpoint: Sendable {
    let configuration: CallbackConfiguration
    let database: DaemonStore
    let daemon: Daemon
    let logger: Logger
    private let limiter: Mutex<CallbackRateLimiter>

    /// Largest callback body read, in bytes: 16 KiB (a status document is ~100 bytes).
    static let maxBodyBytes = 16 * 1024
    /// Characters of the body logged at debug.
    static let excerptCharacters = 256
    /// A connection idle this long is closed. 10 s.
    static let idleTimeout: TimeAmount = .seconds(10)
    /// Connections served at once; more wait in the listen backlog. 32.
    static let maxConnections = 32

    init(configuration: CallbackConfiguration, database: TokenDatabase, daemon: Daemon, logger: Logger) {
        self.configuration = configuration
        self.database = DaemonStore(database)
        self.daemon = daemon
        self.logger = logger
        self.limiter = Mutex(
            CallbackRateLimiter(rate: configuration.ratePerSourcePerSecond, burst: configuration.burstPerSource))
    }

    /// The HTTP server, a `Service` for the daemon's `ServiceGroup`; it stops on graceful shutdown.
    /// - Throws (from `run()`): ``ListenerFailure`` naming `callbacks.listen` when the server fails (e.g. cannot bind).
    func service() -> some Service {
        var listenerLogger = logger
        listenerLogger[metadataKey: "callbacks.listen"] = "\(configuration.listen)"
        let application = Application(
            responder: Responder(endpoint: self),
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.listen.host, port: configuration.listen.port),
                serverName: "mprefd-callbacks",
                availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections, logger: listenerLogger)),
            logger: listenerLogger)
        return NamedListenerService(
            inner: application,
            failure: ListenerFailure(
                key: "callbacks.listen", what: "the callback listener", feature: "callbacks",
                address: configuration.listen, reason: ""))
    }

    /// The source a request is rate-limited as: the peer's address, or — when the peer is a loopback
    /// address (the reverse proxy) and sent `X-Forwarded-For` — its last entry, the address the
    /// proxy itself saw (entries before it come from the client and could be forged).
    static func source(peer: String?, forwardedFor: String?) -> String {
        let address = peer ?? "unknown"
        guard StatusURL.isLoopback(host: address), let forwardedFor,
            let last = forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty
        else { return address }
        return String(last.prefix(64))
    }

    /// The id a request names: the last non-empty segment of its path (a prefix the proxy kept is
    /// ignored); `nil` when that segment is not a well-formed ``CallbackID``.
    static func callbackID(inPath path: String) -> String? {
        guard let last = path.split(separator: "/", omittingEmptySubsequences: true).last, CallbackID.isWellFormed(last)
        else { return nil }
        return String(last)
    }

    /// Answers one request (see the type's documentation for the order of checks).
    func respond(to request: Request, source: String) async -> Response {
        let allowed = limiter.withLock { $0.allow(source, now: .now) }
        guard allowed else {
            MprefMetrics.callbackAnswered(.rateLimited)
            logger.debug("callback refused: source over its rate", metadata: ["http.peer": "\(source)"])
            return Self.text(
                .tooManyRequests, "too many callbacks from \(source); slow down\n", headers: [.retryAfter: "1"])
        }
        guard request.method == .post else {
            MprefMetrics.callbackAnswered(.badRequest)
            return Self.text(.methodNotAllowed, "only POST is allowed\n", headers: [.allow: "POST"])
        }
        guard let id = Self.callbackID(inPath: request.uri.path) else {
            MprefMetrics.callbackAnswered(.unknown)
            logger.debug(
                "callback for a malformed id",
                metadata: [
                    "http.peer": "\(source)",
                    "http.path": "\(BodyExcerpt.make(Array(request.uri.path.utf8), limit: 120))",
                ])
            return Self.text(.notFound, "no such callback\n")
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > Self.maxBodyBytes {
            MprefMetrics.callbackAnswered(.badRequest)
            return Self.text(.contentTooLarge, "body larger than \(Self.maxBodyBytes) bytes\n")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch {
            MprefMetrics.callbackAnswered(.badRequest)
            return Self.text(.contentTooLarge, "body larger than \(Self.maxBodyBytes) bytes\n")
        }
        let target: CallbackTarget?
        do {
            target = try database.callbackTarget(callbackID: id)
        } catch {
            logger.warning("callback not served: the database cannot be read", metadata: ["error": "\(error)"])
            return Self.text(.serviceUnavailable, "database not readable\n", headers: [.retryAfter: "5"])
        }
        guard let target else {
            MprefMetrics.callbackAnswered(.unknown)
            logger.debug("callback for an unknown id", metadata: ["http.peer": "\(source)"])
            return Self.text(.notFound, "no such callback\n")
        }
        MprefMetrics.callbackAnswered(.accepted)
        var metadata: Logger.Metadata = [
            "export.client_id": "\(target.clientID)", "export.segment": "\(target.segment)",
            "export.id": "\(target.exportID)",
            "callback.body_bytes": "\(body.readableBytes)", "http.peer": "\(source)",
        ]
        if let accessToken = target.accessToken { metadata["export.access_token"] = "\(accessToken)" }
        if let tokenID = target.tokenID, target.tokenState == .watching {
            let handed = daemon.pollNow(tokenID: tokenID)
            logger.info(
                handed ? "callback received; polling at once" : "callback received; the scheduler is not running",
                metadata: metadata)
        } else {
            metadata["token.state"] = "\(target.tokenState?.rawValue ?? "none")"
            logger.info("callback received; nothing to poll", metadata: metadata)
        }
        if logger.logLevel <= .debug {
            logger.debug(
                "callback body (not trusted; the status comes from the poll)",
                metadata: [
                    "export.id": "\(target.exportID)", "callback.body_bytes": "\(body.readableBytes)",
                    "callback.body_excerpt":
                        "\(BodyExcerpt.make(body.readableBytesView, limit: Self.excerptCharacters))",
                ])
        }
        return Self.text(.accepted, "accepted\n")
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    /// Every request goes to ``CallbackEndpoint/respond(to:source:)``: there are no other routes.
    private struct Responder: HTTPResponder {
        typealias Context = CallbackRequestContext
        let endpoint: CallbackEndpoint
        func respond(to request: Request, context: Context) async throws -> Response {
            let source = CallbackEndpoint.source(
                peer: context.peerAddress, forwardedFor: Self.forwardedFor(request.headers))
            return await endpoint.respond(to: request, source: source)
        }

        /// Every `X-Forwarded-For` field, joined with `,` (as if it were one); `nil` when there is none.
        static func forwardedFor(_ headers: HTTPFields) -> String? {
            let values = headers.filter { $0.name.canonicalName == "x-forwarded-for" }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ",")
        }
    }

}

/// The request context of the callback listener: Hummingbird's basics plus the peer's IP address
/// (for the per-source rate limit).
struct CallbackRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's IP address (no port), `nil` when unknown.
    let peerAddress: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }
}
