import MprefCore
import Logging
import MprefStore

/// The log lines one committed poll produces: a debug line per poll, an info line when its export
/// finished, warnings for an unknown status or a capped `Retry-After`, and one line when it starts
/// a host or account pause. Pure (no logger, no clock), so the whole poll path — decide, render,
/// store — is fuzzed in process.
package enum PollLog {
    package struct Entry: Sendable {
        package var level: Logger.Level
        package var message: Logger.Message
        package var metadata: Logger.Metadata
    }

    /// The entries for `decision`; `pauseChange` says whether its pause started or extended the
    /// pause in force (then it is the pause in force, and is logged with its end) or neither.
    /// With `debugEnabled` false, a poll that changes nothing worth more than a debug line costs
    /// nothing (building the metadata costs more than the rest of the scheduler's work per poll).
    package static func entries(for decision: PollPolicy.Decision, pauseChange: PauseChange, debugEnabled: Bool)
        -> [Entry]
    {
        let w = decision.write
        if w.newState == .watching, !decision.unknownStatus, !decision.retryAfterCapped,
            decision.pause == nil || pauseChange == .none,
            !debugEnabled
        {
            return []
        }
        var metadata: Logger.Metadata = [
            "token.id": "\(w.tokenID)", "poll.outcome": "\(w.outcome.rawValue)",
            "poll.latency_ms": "\(w.latencyMs ?? 0)", "token.state": "\(w.newState.rawValue)",
        ]
        if let s = w.httpStatus { metadata["http.status"] = "\(s)" }
        if let s = w.status { metadata["export.status"] = "\(s)" }
        if let d = w.nextDelayS { metadata["backoff.delay_s"] = "\(d)" }
        if let r = w.retryAfterS { metadata["http.retry_after_s"] = "\(r)" }
        if let e = w.lastError { metadata["error"] = "\(e)" }
        var entries: [Entry] = []
        if w.newState != .watching {
            if let rows = w.rowCount { metadata["export.row_count"] = "\(rows)" }
            if let bytes = w.byteCount { metadata["export.byte_count"] = "\(bytes)" }
            entries.append(Entry(level: .info, message: "export finished", metadata: metadata))
        } else if debugEnabled {
            entries.append(Entry(level: .debug, message: "polled", metadata: metadata))
        }
        if decision.unknownStatus {
            entries.append(
                Entry(
                    level: .warning, message: "unknown export status; treating it as still processing",
                    metadata: metadata))
        }
        if decision.retryAfterCapped {
            entries.append(
                Entry(
                    level: .warning, message: "Retry-After longer than polling.max_retry_after_s; capped",
                    metadata: metadata))
        }
        if let pause = decision.pause, pauseChange != .none {
            var m = metadata
            m["pause.subject"] = "\(pause.subject)"
            m["pause.until"] = "\(Timestamp.format(pause.pausedUntil))"
            switch (pause.scope == .account, pauseChange) {
            case (true, .started) where w.httpStatus == 404:
                entries.append(
                    Entry(
                        level: .error,
                        message: "account paused: every token answers 404, so its base_url or status_path is wrong",
                        metadata: m))
            case (true, .started):
                entries.append(
                    Entry(
                        level: .error, message: "account paused: credentials or permissions need an operator",
                        metadata: m))
            case (false, .started):
                entries.append(Entry(level: .notice, message: "host paused after \(w.httpStatus ?? 503)", metadata: m))
            default:
                entries.append(
                    Entry(
                        level: .notice, message: "\(pause.scope) pause extended: a later answer asked for longer",
                        metadata: m))
            }
        }
        return entries
    }
}
