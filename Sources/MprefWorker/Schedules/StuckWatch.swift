import Foundation
import Logging
import MprefCore
import MprefStore

/// Raises one `stuck` warning per export still processing far beyond its segment's usual duration
/// (``StuckRule``, `polling.stuck_factor`): a log line, `mprefd_stuck_exports_total`,
/// `tokens.stuck_at`, which `mprefd status` shows, and — in the same transaction — the runs of the
/// `stuck` event's hooks (`hooks.on_stuck`, `--on-stuck`). Run with each heartbeat; a failure is
/// logged at debug and tried again at the next.
package struct StuckWatch: Sendable {
    let database: DaemonStore
    let schedules: SegmentSchedules
    let factor: Double
    let hooks: HookSelection
    let logger: Logger
    let onHookRunsQueued: @Sendable () -> Void
    let wallNow: @Sendable () -> Date

    package init(
        database: DaemonStore, schedules: SegmentSchedules, factor: Double,
        hooks: HookSelection = HookSelection(global: [:]),
        logger: Logger, onHookRunsQueued: @escaping @Sendable () -> Void = {},
        wallNow: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.schedules = schedules
        self.factor = factor
        self.hooks = hooks
        self.logger = logger
        self.onHookRunsQueued = onHookRunsQueued
        self.wallNow = wallNow
    }

    package func check() async {
        guard factor > 0 else { return }
        do {
            for token in try await database.watchingSegmentTokens() where token.stuckAt == nil {
                guard let forecast = await schedules.forecast(clientID: token.clientID, segment: token.segment) else {
                    continue
                }
                let now = wallNow()
                let elapsed = now.timeIntervalSince(token.addedAt)
                guard StuckRule.isStuck(elapsed: elapsed, forecast: forecast, factor: factor) else { continue }
                let p95 = forecast.quantile(0.95)
                let marked = try await database.markStuck(
                    tokenID: token.id, at: now, elapsedSeconds: elapsed, p95Seconds: p95, hooks: hooks.planner)
                guard marked.marked else { continue }
                MprefMetrics.exportStuck()
                logger.warning(
                    "export stuck: still processing far beyond its segment's usual duration",
                    metadata: [
                        "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
                        "export.segment": "\(token.segment)",
                        "stuck.elapsed_s": "\(Int(saturating: elapsed))",
                        "stuck.segment_p95_s": "\(Int(saturating: p95))", "stuck.factor": "\(factor)",
                        "hook_runs": "\(marked.hookRuns)",
                    ])
                if marked.hookRuns > 0 { onHookRunsQueued() }
            }
        } catch is CancellationError {
        } catch {
            logger.debug("stuck check failed; trying again at the next heartbeat", metadata: ["error": "\(error)"])
        }
    }
}
