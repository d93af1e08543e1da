import Metrics
import MprefCore
import MprefStore

/// The Prometheus metrics mprefd exports (`metrics.listen`), their names, and the emit calls the
/// worker makes. Emission goes through swift-metrics: until `mprefd run` bootstraps
/// `MetricsSystem` (only when `metrics.listen` is set) every call here is a no-op.
///
/// Polls and hook runs are counted here as they happen; the token and pause gauges are read from
/// the database at scrape time by the endpoint (`mprefd` target), so they stay right even when the
/// admin CLI changes the database.
package enum MprefMetrics {
    /// Counter, label `outcome` (the `polls.outcome` column: `ok`, `unavailable`, `server_error`,
    /// `not_found`, `transport_error`, …): polls recorded in the history.
    package static let pollsTotal = "mprefd_polls_total"
    /// Histogram, seconds: request sent → whole body read, for polls that got a response.
    package static let pollLatencySeconds = "mprefd_poll_latency_seconds"
    /// Gauge, label `state` (every `tokens.state`, 0 when none): tokens by state, read at scrape time.
    package static let tokens = "mprefd_tokens"
    /// Gauge, label `host` (`scheme://host:port`): seconds left of a 503 host pause, 0 when none.
    package static let hostPauseSeconds = "mprefd_host_pause_seconds"
    /// Gauge, label `client_id`: seconds left of a 401/403 account pause, 0 when none.
    package static let accountPauseSeconds = "mprefd_account_pause_seconds"
    /// Counter, label `result`: `succeeded`, `failed` (will retry), `dead` (gave up), `interrupted`
    /// (the daemon stopped during the run; it runs again).
    package static let hookRunsTotal = "mprefd_hook_runs_total"
    /// Histogram, seconds: how long each hook run took (start → exit or kill).
    package static let hookDurationSeconds = "mprefd_hook_duration_seconds"

    /// Counter: stuck warnings raised (an export still processing beyond `polling.stuck_factor` × its
    /// segment's 95th-percentile duration; one per export run).
    package static let stuckExportsTotal = "mprefd_stuck_exports_total"

    /// Counts one stuck warning.
    package static func exportStuck() {
        Counter(label: stuckExportsTotal).increment()
    }

    /// Counter: exports awaiting a callback that a safety poll found complete before any callback
    /// for them arrived (`callbacks.safety_interval_s`): lost callbacks, or a broken `public_url`/proxy.
    package static let callbacksMissedTotal = "mprefd_callbacks_missed_total"

    /// Counts one export found complete without its callback.
    package static func callbackMissed() {
        Counter(label: callbacksMissedTotal).increment()
    }

    /// Counter, label `result`: callback POSTs the callback listener (`callbacks.listen`) answered —
    /// `accepted` (202: a known id), `unknown` (404: a malformed or unknown id), `rate_limited`
    /// (429), `bad_request` (405 another method, 413 a body over the cap).
    package static let callbacksTotal = "mprefd_callbacks_total"

    /// What became of one callback request (the `result` label of ``callbacksTotal``).
    package enum CallbackResult: String, Sendable, CaseIterable {
        case accepted, unknown, rateLimited = "rate_limited", badRequest = "bad_request"
    }

    /// Counts one callback request by result.
    package static func callbackAnswered(_ result: CallbackResult) {
        Counter(label: callbacksTotal, dimensions: [("result", result.rawValue)]).increment()
    }

    /// Counter: log lines dropped because stderr could not be written (its reader went away).
    /// Counted by the log handler and read at scrape time (the log handler must not touch
    /// swift-metrics: it logs before `MetricsSystem` is bootstrapped, which may happen only once).
    package static let logLinesDroppedTotal = "mprefd_log_lines_dropped_total"

    /// Histogram buckets for ``pollLatencySeconds``: 5 ms … 30 s (the default request timeout).
    package static let pollLatencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]
    /// Histogram buckets for ``hookDurationSeconds``: 100 ms … 30 min (hooks.timeout_s defaults to 600 s).
    package static let hookDurationBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30),
        .seconds(60), .seconds(300), .seconds(600), .seconds(1800),
    ]

    /// Counts one recorded poll by outcome and records its latency (when a response arrived).
    package static func pollRecorded(_ write: PollWrite) {
        Counter(label: pollsTotal, dimensions: [("outcome", write.outcome.rawValue)]).increment()
        if let latencyMs = write.latencyMs {
            Metrics.Timer(label: pollLatencySeconds).recordMilliseconds(latencyMs)
        }
    }

    /// Counter, label `request` (`page`, `commit`) and `outcome` (the poll outcomes): download
    /// requests recorded in `download_requests`.
    package static let downloadRequestsTotal = "mprefd_download_requests_total"
    /// Counter: records stored in download files.
    package static let downloadRecordsTotal = "mprefd_download_records_total"
    /// Counter: bytes stored in download files.
    package static let downloadBytesTotal = "mprefd_download_bytes_total"

    /// Counts one recorded download request and what it stored.
    package static func downloadRequestRecorded(_ request: DownloadRequestRecord?, records: Int64?, bytes: Int64?) {
        guard let request else { return }
        Counter(
            label: downloadRequestsTotal,
            dimensions: [("request", request.kind.rawValue), ("outcome", request.outcome.rawValue)]
        ).increment()
        if let records, records > 0 { Counter(label: downloadRecordsTotal).increment(by: records) }
        if let bytes, bytes > 0 { Counter(label: downloadBytesTotal).increment(by: bytes) }
    }

    /// Counts one finished hook run by result and records its duration.
    ///
    /// - Parameter state: the `hook_runs.state` the run was stored with: `succeeded`, `failed`,
    ///   `dead`, or `pending` (interrupted by shutdown, counted as `interrupted`).
    /// Creates the counters of rare events at zero, so that they are exported from the start and
    /// Prometheus' `increase()` sees their first event (a counter that appears at 1 looks unchanged).
    /// Call once, after `MetricsSystem.bootstrap`.
    package static func registerRareCounters() {
        Counter(label: stuckExportsTotal).increment(by: 0)
        Counter(label: callbacksMissedTotal).increment(by: 0)
        for result in CallbackResult.allCases {
            Counter(label: callbacksTotal, dimensions: [("result", result.rawValue)]).increment(by: 0)
        }
        for result in ["succeeded", "failed", "dead", "interrupted"] {
            Counter(label: hookRunsTotal, dimensions: [("result", result)]).increment(by: 0)
        }
    }

    package static func hookRunEnded(state: HookRunState, duration: Duration) {
        let result = state == .pending ? "interrupted" : state.rawValue
        Counter(label: hookRunsTotal, dimensions: [("result", result)]).increment()
        Metrics.Timer(label: hookDurationSeconds).recordNanoseconds(duration.nanoseconds)
    }
}
