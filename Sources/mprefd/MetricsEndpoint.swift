import Foundation
import Hummingbird
import Logging
import Metrics
import MprefStore
import MprefWorker
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
    let database: TokenDatabase
    let address: ListenAddress
    let logger: Logger
    /// `StderrLogHandler.droppedLines` as last exported.
    private let droppedLinesExported = Mutex<UInt64>(0)
    /// Pause subjects ever exported, so a pause that ended reads 0 rather than vanishing.
    private let pauseSubjects = Mutex<Set<PauseKey>>([])

    private struct PauseKey: Hashable, Sendable {
        var scope: String
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
        return MetricsEndpoint(registry: registry, database: database, address: address, logger: logger)
    }

    init(registry: PrometheusCollectorRegistry, database: TokenDatabase, address: ListenAddress, logger: Logger) {
        self.registry = registry
        self.database = database
        self.address = address
        self.logger = logger
    }

    /// The HTTP server, a `Service` for the daemon's `ServiceGroup`; it stops on graceful shutdown.
    /// `GET /metrics` answers 200 with the exposition, or 503 when the database cannot be read.
    func service() -> some Service {
        let router = Router()
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
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "mprefd-metrics"),
            logger: metricsLogger)
    }

    /// Refreshes the database-backed gauges and renders every metric.
    ///
    /// - Throws: the store's error when `tokens` or `pauses` cannot be read.
    func scrape(now: Date = Date()) throws -> String {
        let snapshot = try database.statusSnapshot(now: now)
        let counts = snapshot.tokenCounts
        for state in TokenState.allCases {
            registry.makeGauge(
                descriptor: Self.descriptor(MprefMetrics.tokens, help: "Tokens by state, read from the database at scrape time."),
                labels: [("state", state.rawValue)]
            ).set(Double(counts[state.rawValue] ?? 0))
        }
        let pauses = snapshot.pauses
        var inForce: [PauseKey: Double] = [:]
        for pause in pauses {
            inForce[PauseKey(scope: pause.scope, subject: pause.subject)] = max(0, pause.pausedUntil.timeIntervalSince(now))
        }
        let known = pauseSubjects.withLock { subjects in
            subjects.formUnion(inForce.keys)
            return subjects
        }
        for key in known {
            let value = inForce[key] ?? 0
            if key.scope == "host" {
                registry.makeGauge(
                    descriptor: Self.descriptor(MprefMetrics.hostPauseSeconds, help: "Seconds left of the 503 pause of a host (scheme://host:port); 0 when none."),
                    labels: [("host", key.subject)]
                ).set(value)
            } else {
                registry.makeGauge(
                    descriptor: Self.descriptor(MprefMetrics.accountPauseSeconds, help: "Seconds left of the 401/403 pause of an account (client ID); 0 when none."),
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
            descriptor: Self.descriptor(MprefMetrics.logLinesDroppedTotal, help: "Log lines dropped because stderr could not be written (its reader went away)."))
        if delta > 0 { droppedCounter.increment(by: Int64(clamping: delta)) }
        return registry.emitToString()
    }

    private static func descriptor(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
