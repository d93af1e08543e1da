import Foundation
import Logging
import MprefCore
import MprefStore
import Synchronization

/// The learned poll schedule of each segment, built from its history and kept for the daemon's polls.
///
/// A token with a segment (`tokens.segment`) is polled by its segment's ``LearnedSchedule`` while its
/// export is within the forecast; tokens without one, segments with fewer than
/// ``CompletionForecast/minimumSamples`` past completions, and `polling.schedule_effort: 0` keep
/// today's backoff. A schedule is rebuilt from the database (``SchedulingReads/segmentDurations(clientID:segment:excluding:limit:)``)
/// when a token of its segment completes, and at least every ``refreshInterval``.
package final class SegmentSchedules: Sendable {
    private struct Key: Hashable, Sendable {
        var clientID: ClientID
        var segment: SegmentName
    }

    private struct Entry: Sendable {
        var forecast: CompletionForecast?
        var schedule: LearnedSchedule?
        var builtAt: ContinuousClock.Instant
    }

    private let database: DaemonStore
    private let effort: Double
    private let maxDelay: Duration
    private let fallback: Backoff
    private let logger: Logger
    private let entries = Mutex<[Key: Entry]>([:])
    /// How long a built schedule is used before the history is read again. 10 minutes.
    package let refreshInterval: Duration
    /// The monotonic clock the refresh interval is measured on (a test injects its own).
    private let monotonicNow: @Sendable () -> ContinuousClock.Instant

    /// - Parameters:
    ///   - effort: `polling.schedule_effort` (see ``LearnedSchedule``); 0 = no schedules (the forecasts
    ///     are still made, for the stuck check).
    ///   - maxDelay: `polling.max_delay_s`.
    ///   - fallback: today's backoff (the knob's reference).
    package init(
        database: DaemonStore, effort: Double, maxDelay: Duration, fallback: Backoff, logger: Logger,
        refreshInterval: Duration = .seconds(600),
        monotonicNow: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.monotonicNow = monotonicNow
        self.database = database
        self.effort = effort
        self.maxDelay = maxDelay
        self.fallback = fallback
        self.logger = logger
        self.refreshInterval = refreshInterval
    }

    /// The schedules `configuration` asks for (`schedule_effort`, `max_delay_s`, its backoff).
    package convenience init(configuration: PollingConfiguration, database: DaemonStore, logger: Logger) {
        self.init(
            database: database, effort: configuration.scheduleEffort, maxDelay: configuration.maxDelay,
            fallback: PollPolicy(configuration: configuration).backoff, logger: logger)
    }

    /// The schedule for `token`'s next poll, or `nil` (today's backoff). Reads the segment's history
    /// when no fresh schedule is kept; a failed read means `nil` this time.
    package func schedule(for token: WatchedToken) async -> LearnedSchedule? {
        guard effort > 0, let segment = token.segment else { return nil }
        return await entry(clientID: token.clientID, segment: segment)?.schedule
    }

    /// The forecast of a segment's completion times (from its history), or `nil` without enough history.
    package func forecast(clientID: ClientID, segment: SegmentName) async -> CompletionForecast? {
        await entry(clientID: clientID, segment: segment)?.forecast
    }

    private func entry(clientID: ClientID, segment: SegmentName) async -> Entry? {
        let key = Key(clientID: clientID, segment: segment)
        let now = monotonicNow()
        if let entry = entries.withLock({ $0[key] }), now - entry.builtAt < refreshInterval {
            return entry
        }
        let durations: [Double]
        do {
            durations = try await database.segmentDurations(
                clientID: clientID, segment: segment, limit: CompletionForecast.defaultMaximumSamples)
        } catch {
            logger.debug(
                "segment history unavailable; polling with the backoff",
                metadata: ["export.segment": "\(segment)", "error": "\(error)"])
            return nil
        }
        // Newest first from the store; the forecast takes them oldest first.
        let forecast = CompletionForecast(durations: Array(durations.reversed()))
        let schedule =
            effort > 0
            ? forecast.map { LearnedSchedule(forecast: $0, effort: effort, maxDelay: maxDelay, fallback: fallback) }
            : nil
        let entry = Entry(forecast: forecast, schedule: schedule, builtAt: now)
        entries.withLock { $0[key] = entry }
        if let schedule {
            logger.debug(
                "segment schedule built",
                metadata: [
                    "export.client_id": "\(clientID)", "export.segment": "\(segment)",
                    "schedule.samples": "\(durations.count)",
                    "schedule.median_s": "\(Int(schedule.forecast.median.rounded()))",
                    "schedule.expected_polls": "\(schedule.expectedPolls)",
                ])
        }
        return entry
    }

    /// Forgets `token`'s segment's schedule (one of its exports just completed: the history grew).
    package func invalidate(_ token: WatchedToken) {
        guard let segment = token.segment else { return }
        _ = entries.withLock { $0.removeValue(forKey: Key(clientID: token.clientID, segment: segment)) }
    }
}
