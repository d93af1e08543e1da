import Foundation
import MprefCore
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import MprefStore
import MprefWorker
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// The optional Prometheus endpoint (`metrics.listen`): `GET /metrics` in the text exposition
/// format 0.0.4, served by Hummingbird as one more service of `mprefd run`'s `ServiceGroup`.
///
/// Counters and histograms (``MprefMetrics/pollsTotal``, ``MprefMetrics/hookRunsTotal``, the
/// latency and duration histograms) are emitted by the worker through swift-metrics into the
/// registry bootstrapped here. The gauges — tokens by state, seconds left of host and account
/// pauses — are read from the database at each scrape (one `GROUP BY` over `tokens` and the
/// `pauses` in force), so they are right even after admin commands changed the database.
final class MetricsEndpoint: Sendable {
    /// The registry every metric of this process goes to.
    let registry: PrometheusCollectorRegistry
    let database: ReportStore
    let address: ListenAddress
    let logger: Logger
    /// `StderrLogHandler.droppedLines` as last exported.
    private let droppedLinesExported = Mutex<UInt64>(0)
    /// Pause subjects ever exported, so a pause that ended reads 0 rather than vanishing.
    private let pauseSubjects = Mutex<Set<PauseKey>>([])

    private struct PauseKey: Hashable, Sendable {
        var scope: PauseScope
        var subject: String
    }

    /// `Content-Type` of the exposition: Prometheus text format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Bootstraps swift-metrics with a Prometheus factory (histogram buckets for the poll latency and
    /// hook duration) and returns the endpoint. Call once per process, only when metrics are on:
    /// `MetricsSystem.bootstrap` may run only once.
    static func bootstrap(address: ListenAddress, database: TokenDatabase, logger: Logger) -> MetricsEndpoint {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            MprefMetrics.pollLatencySeconds: MprefMetrics.pollLatencyBuckets,
            MprefMetrics.hookDurationSeconds: MprefMetrics.hookDurationBuckets,
        ]
        MetricsSystem.bootstrap(factory)
        MprefMetrics.registerRareCounters()
        return MetricsEndpoint(registry: registry, database: ReportStore(database), address: address, logger: logger)
    }

    init(registry: PrometheusCollectorRegistry, database: ReportStore, address: ListenAddress, logger: Logger) {
        self.registry = registry
        self.database = database
        self.address = address
        self.logger = logger
    }

    /// A connection idle this long (no request, or between keep-alive requests) is closed. 10 s.
    static let idleTimeout: TimeAmount = .seconds(10)
    /// Connections served at once; more wait in the listen backlog (no descriptor used) until one
    /// closes. 16: a scraper needs one, so idle clients cannot take every file descriptor.
    static let maxConnections = 16

    /// The HTTP server, a `Service` for the daemon's `ServiceGroup`; it stops on graceful shutdown.
    /// `GET /metrics` answers 200 with the exposition, or 503 when the database cannot be read;
    /// `HEAD /metrics` the same without the body; other methods on `/metrics` 405 (`Allow: GET, HEAD`).
    /// Connections are closed after ``idleTimeout`` idle and at most ``maxConnections`` are served at once.
    /// - Throws (from `run()`): ``ListenerFailure`` naming `metrics.listen` when the server fails (e.g. cannot bind).
    func service() -> some Service {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: MetricsMethodCheck())
        router.get("/metrics") { _, _ -> Response in
            do {
                let body = try self.scrape()
                return Response(
                    status: .ok,
                    headers: [.contentType: Self.contentType],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
            } catch {
                self.logger.warning("metrics scrape cannot read the database", metadata: ["error": "\(error)"])
                return Response(
                    status: .serviceUnavailable,
                    headers: [.contentType: "text/plain; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "database not readable: \(error)\n")))
            }
        }
        var metricsLogger = logger
        metricsLogger[metadataKey: "metrics.listen"] = "\(address)"
        let application = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: Self.idleTimeout)),
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port), serverName: "mprefd-metrics",
                availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections, logger: metricsLogger)),
            logger: metricsLogger)
        return NamedListenerService(
            inner: application,
            failure: ListenerFailure(
                key: "metrics.listen", what: "the metrics endpoint", feature: "metrics", address: address, reason: ""))
    }

    /// Whether `address` can be listened on: `nil` when it can, else why not (`isInUse` when
    /// another socket listens there). Binds a socket the way the server does (`SO_REUSEADDR`, the
    /// first address the host name resolves to) and closes it.
    static func bindProblem(_ address: ListenAddress) -> (reason: String, isInUse: Bool)? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(address.host, String(address.port), &hints, &found)
        guard resolved == 0, let first = found else {
            return ("the host \(address.host) does not resolve (\(String(cString: gai_strerror(resolved))))", false)
        }
        defer { freeaddrinfo(found) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return ("cannot create a socket: \(String(cString: strerror(errno)))", false) }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let code = errno
            let text = String(cString: strerror(code))
            switch code {
            case EADDRINUSE: return ("\(text): another process listens there", true)
            case EADDRNOTAVAIL: return ("\(text): \(address.host) is not an address of this machine", false)
            case EACCES: return ("\(text): ports below 1024 need privileges", false)
            default: return (text, false)
            }
        }
        return nil
    }

    /// Refreshes the database-backed gauges and renders every metric.
    ///
    /// - Throws: the store's error when `tokens` or `pauses` cannot be read.
    func scrape(now: Date = Date()) throws -> String {
        let snapshot = try database.statusSnapshot(now: now)
        let counts = snapshot.tokenCounts
        for state in TokenState.allCases {
            registry.makeGauge(
                descriptor: Self.descriptor(
                    MprefMetrics.tokens, help: "Tokens by state, read from the database at scrape time."),
                labels: [("state", state.rawValue)]
            ).set(Double(counts[state.rawValue] ?? 0))
        }
        let pauses = snapshot.pauses
        var inForce: [PauseKey: Double] = [:]
        for pause in pauses {
            inForce[PauseKey(scope: pause.scope, subject: pause.subject)] = max(
                0, pause.pausedUntil.timeIntervalSince(now))
        }
        let known = pauseSubjects.withLock { subjects in
            subjects.formUnion(inForce.keys)
            return subjects
        }
        for key in known {
            let value = inForce[key] ?? 0
            if key.scope == .host {
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        MprefMetrics.hostPauseSeconds,
                        help: "Seconds left of the 503 pause of a host (scheme://host:port); 0 when none."),
                    labels: [("host", key.subject)]
                ).set(value)
            } else {
                registry.makeGauge(
                    descriptor: Self.descriptor(
                        MprefMetrics.accountPauseSeconds,
                        help: "Seconds left of the 401/403 pause of an account (client ID); 0 when none."),
                    labels: [("client_id", key.subject)]
                ).set(value)
            }
        }
        let dropped = StderrLogHandler.droppedLines
        let delta = droppedLinesExported.withLock { last -> UInt64 in
            defer { last = max(last, dropped) }
            return dropped > last ? dropped - last : 0
        }
        let droppedCounter = registry.makeCounter(
            descriptor: Self.descriptor(
                MprefMetrics.logLinesDroppedTotal,
                help: "Log lines dropped because stderr could not be written (its reader went away)."))
        if delta > 0 { droppedCounter.increment(by: Int64(clamping: delta)) }
        return registry.emitToString()
    }

    private static func descriptor(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// `/metrics` answers GET and HEAD only: anything else is 405 with `Allow: GET, HEAD`.
struct MetricsMethodCheck<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.uri.path == "/metrics", request.method != .get, request.method != .head {
            return Response(
                status: .methodNotAllowed,
                headers: [.allow: "GET, HEAD", .contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "only GET and HEAD are allowed on /metrics\n")))
        }
        return try await next(request, context)
    }
}
