import Foundation
import Logging
import MprefCore
import MprefStore
import MyPreferences
import ServiceLifecycle

/// The scheduler: keeps every watched token in an in-memory priority queue, sleeps until the
/// earliest due poll (no busy loop, no table scans), polls with bounded concurrency and a per-host
/// pace, honours host and account pauses, commits each poll through the `PollRecorder`, and
/// notices admin changes (add, pause, resume, remove, a host or account pause lifted) within a second.
///
/// Time: the schedule runs on the monotonic `clock` (`ContinuousClock` in the daemon; a test's manual
/// clock with the same instants), so a wall-clock jump neither stalls
/// nor bursts it; stored times are wall-clock UTC. `next_poll_at` values loaded at start are clamped
/// to [now, now + max delay].
package final class PollingService<C: Clock>: Service where C.Instant == ContinuousClock.Instant {
    private enum Event: Sendable {
        /// The HTTP exchange of a poll ended; its commit is pending.
        case answered(tokenID: TokenID)
        case polled(tokenID: TokenID, decision: PollPolicy.Decision, tokenUpdated: Bool)
        /// A download step (one page or the commit) was run and, when `report.recorded`, stored.
        case downloaded(tokenID: TokenID, report: DownloadStep.Report)
        case recordFailed(tokenID: TokenID)
        case abandoned(tokenID: TokenID)
        case adminChanges(AdminChanges)
        /// A callback for the token arrived: poll it at once (``pollNow(tokenID:)``).
        case pollNow(tokenID: TokenID)
        case shutdown
    }

    private let database: DaemonStore
    private let targets: [ClientID: PollTarget]
    private let policy: PollPolicy
    private let recorder: PollRecorder
    private let logger: Logger
    private let failureLog: FailureLog
    private let downloadStep: DownloadStep
    /// Segments' learned schedules; `nil` with `polling.schedule_effort: 0`.
    private let schedules: SegmentSchedules?
    private let mailbox = Mailbox<Event>()
    /// The scheduler's monotonic clock: due times, the pace, pauses' ends, the shutdown grace.
    private let clock: C
    private let wallNow: @Sendable () -> Date
    /// A random number generator for each poll's backoff draw and for the scheduler's pause spread;
    /// `SystemRandomNumberGenerator` unless a test injects a seeded one.
    private let makeRandom: @Sendable () -> any RandomNumberGenerator
    private let onHookRunsQueued: @Sendable () -> Void
    private let beforeAccountLift: @Sendable (ClientID) async -> Void
    /// How often admin changes are looked for.
    package let adminCheckInterval: Duration
    /// The scheduler's loop runs at most once per this interval (default 2 ms); answers, commits and
    /// due polls that come meanwhile are handled together in the next pass. A poll may so start up to
    /// this much after its planned time, and the daemon wakes up to ~500 times a second instead of
    /// two or three times per poll: at 1,500 polls/s about 0.8 instead of 1.1 cores (measured in
    /// docs/BENCHMARKS.md, "Scale"). Not applied while polls wait for a free request slot (every
    /// answer should start the next at once) or while shutting down.
    package let minimumCycle: Duration

    package init(
        database: DaemonStore, targets: [ClientID: PollTarget], configuration: PollingConfiguration,
        recorder: PollRecorder,
        logger: Logger, adminCheckInterval: Duration = .milliseconds(500), minimumCycle: Duration = .milliseconds(2),
        wallNow: @escaping @Sendable () -> Date = { Date() }, onHookRunsQueued: @escaping @Sendable () -> Void = {},
        beforeAccountLift: @escaping @Sendable (ClientID) async -> Void = { _ in }, schedules: SegmentSchedules? = nil,
        makeRandom: @escaping @Sendable () -> any RandomNumberGenerator = { SystemRandomNumberGenerator() },
        clock: C
    ) {
        self.clock = clock
        self.makeRandom = makeRandom
        self.beforeAccountLift = beforeAccountLift
        self.database = database
        self.targets = targets
        self.policy = PollPolicy(configuration: configuration)
        self.recorder = recorder
        self.logger = logger
        self.failureLog = FailureLog(logger: logger)
        self.downloadStep = DownloadStep(
            database: database, policy: PollPolicy(configuration: configuration), hooks: recorder.hooks,
            files: OpenDownloads(), logger: logger, wallNow: wallNow)
        self.schedules =
            configuration.scheduleEffort > 0
            ? schedules ?? SegmentSchedules(configuration: configuration, database: database, logger: logger)
            : nil
        self.adminCheckInterval = adminCheckInterval
        self.minimumCycle = minimumCycle
        self.wallNow = wallNow
        self.onHookRunsQueued = onHookRunsQueued
    }

    /// Asks the loop to stop starting polls; in-flight ones get `shutdownGrace`, then are abandoned unrecorded.
    private func requestShutdown() { mailbox.post(.shutdown) }

    /// Asks the loop to poll token row `tokenID` at once (a callback said its export may be complete).
    /// Returns at once; the loop then makes the token due now if it watches it and no request for it
    /// is in flight — host and account pauses, the per-host pace and `max_in_flight` still apply, and
    /// a pause wins. A token the scheduler does not watch (yet) is left alone: one added since the
    /// last admin check is due at once anyway.
    package func pollNow(tokenID: TokenID) { mailbox.post(.pollNow(tokenID: tokenID)) }

    /// Runs until a graceful shutdown of its group and the settling of the polls in flight (each
    /// handed to the `PollRecorder`, which must keep running until this returns), or until cancelled.
    /// - Throws: `StoreError` when the initial load fails.
    package func run() async throws {
        try await withGracefulShutdownHandler {
            try await schedule()
        } onGracefulShutdown: {
            self.requestShutdown()
        }
    }

    private func schedule() async throws {
        var state = SchedulerState(configuration: policy.configuration, targets: targets, random: makeRandom())
        // The admin change counter before the tokens: a token added between the two reads is then both
        // loaded and reported by the first admin check (watching it again is harmless); read the other
        // way round, it would be in neither and wait for the next restart.
        let startSeq = try await database.currentAdminSeq()
        let watching = try await database.loadWatchingTokens()
        let pauses = try await database.pausesInForce(now: wallNow())
        state.load(tokens: watching.tokens, pauses: pauses, wallNow: wallNow(), now: clock.now, logger: logger)
        for defect in watching.defects { SchedulerState.logUnusableRow(defect, logger: logger) }
        logger.info(
            "scheduler started",
            metadata: [
                "tokens.watching": "\(watching.tokens.count)", "tokens.unusable": "\(watching.defects.count)",
                "pauses.active": "\(pauses.count)",
            ])

        try await withThrowingTaskGroup(of: Void.self) { background in
            background.addTask { [database, mailbox, adminCheckInterval, logger, clock] in
                var adminSeq = startSeq
                while !Task.isCancelled {
                    try? await clock.sleep(for: adminCheckInterval)
                    if Task.isCancelled { break }
                    do {
                        let changes = try await database.adminChanges(since: adminSeq)
                        adminSeq = changes.seq
                        if !changes.isEmpty { mailbox.post(.adminChanges(changes)) }
                    } catch {
                        logger.warning("cannot read admin changes; retrying", metadata: ["error": "\(error)"])
                    }
                }
            }
            await withDiscardingTaskGroup { polls in
                await self.loop(state: &state, polls: &polls)
            }
            background.cancelAll()
            try await background.waitForAll()
        }
        logger.info("scheduler stopped")
    }

    private func loop(state: inout SchedulerState, polls: inout DiscardingTaskGroup) async {
        var stopping = false
        var graceDeadline: ContinuousClock.Instant? = nil
        var abandonedAll = false
        var cycleStarted = clock.now
        // Tokens a callback named while a poll of theirs was in flight: that poll may have been sent
        // before the export completed, so they are polled once more as soon as it is settled.
        var pollAgainAfterFlight: Set<TokenID> = []
        while true {
            // Cancelled (a sibling service failed, or the daemon is torn down without a grace): stop
            // at once. `take` below would return immediately from now on, so waiting is impossible;
            // the cancelled in-flight polls end as abandoned, unrecorded.
            if Task.isCancelled {
                if state.inFlight > 0 {
                    logger.warning(
                        "cancelled; abandoning in-flight polls unrecorded",
                        metadata: ["polls.in_flight": "\(state.inFlight)"])
                }
                polls.cancelAll()
                return
            }
            if !stopping {
                for launch in state.dueLaunches(now: clock.now) {
                    start(launch, in: &polls)
                }
            }
            if stopping && state.inFlight == 0 { return }
            if let deadline = graceDeadline, !abandonedAll, clock.now >= deadline {
                logger.warning(
                    "shutdown grace over; abandoning in-flight polls unrecorded",
                    metadata: ["polls.in_flight": "\(state.inFlight)"])
                polls.cancelAll()
                abandonedAll = true
            }
            let wake = stopping ? (abandonedAll ? nil : graceDeadline) : state.nextWake
            if !stopping, !state.isBacklogged(now: clock.now) {
                let early = minimumCycle - (clock.now - cycleStarted)
                if early > .zero { try? await clock.sleep(for: early) }
                cycleStarted = clock.now
            }
            for event in await mailbox.take(until: wake, on: clock) {
                switch event {
                case .answered(let id):
                    state.answered(tokenID: id)
                case .polled(let id, let decision, let updated):
                    let pauseChange = state.finish(
                        tokenID: id, decision: decision, tokenUpdated: updated, wallNow: wallNow(), now: clock.now)
                    log(decision, pauseChange: pauseChange)
                    if pollAgainAfterFlight.remove(id) != nil { _ = state.pollNow(tokenID: id, now: clock.now) }
                case .downloaded(let id, let report):
                    let pauseChange = state.finishDownload(
                        tokenID: id, report: report, wallNow: wallNow(), now: clock.now)
                    if pauseChange != .none, let pause = report.pause {
                        logger.warning(
                            "\(pause.scope) paused by a download request",
                            metadata: [
                                "pause.subject": "\(pause.subject)",
                                "pause.until": "\(Timestamp.format(pause.pausedUntil))", "error": "\(pause.reason)",
                            ])
                    }
                case .recordFailed(let id):
                    state.retryLater(tokenID: id, now: clock.now)
                    pollAgainAfterFlight.remove(id)
                case .abandoned(let id):
                    state.abandon(tokenID: id)
                    pollAgainAfterFlight.remove(id)
                case .adminChanges(let changes):
                    // A download an operator removed or paused: its open file and early page request go.
                    for change in changes.tokens where change.watched == nil {
                        downloadStep.files.forget(change.tokenID)
                    }
                    state.apply(changes.tokens, wallNow: wallNow(), now: clock.now, logger: logger)
                    // An account pause is lifted once its credentials are fixed: re-read them before
                    // its tokens are polled again (the old ones would get 401 and a new pause). The
                    // pause's subject is stored text; one that is no client ID has no account to re-read.
                    for clientID in Set(
                        changes.pauseLifts.filter { $0.scope == .account }.compactMap { ClientID($0.subject) })
                    {
                        await beforeAccountLift(clientID)
                    }
                    for lift in state.lift(changes.pauseLifts, now: clock.now) {
                        logger.notice(
                            "\(lift.scope) pause lifted by an operator; polling again",
                            metadata: ["pause.subject": "\(lift.subject)"])
                    }
                case .pollNow(let id):
                    let result = state.pollNow(tokenID: id, now: clock.now)
                    if result == .inFlight { pollAgainAfterFlight.insert(id) }
                    logger.debug("poll at once asked for", metadata: ["token.id": "\(id)", "result": "\(result)"])
                case .shutdown:
                    if !stopping {
                        stopping = true
                        graceDeadline = clock.now + policy.configuration.shutdownGrace
                        logger.info("shutting down: no new polls", metadata: ["polls.in_flight": "\(state.inFlight)"])
                    }
                }
            }
        }
    }

    private func start(_ launch: SchedulerState.Launch, in polls: inout DiscardingTaskGroup) {
        let token = launch.token
        if token.state == .downloading {
            startDownloadStep(launch, in: &polls)
            return
        }
        polls.addTask {
            [policy, recorder, mailbox, wallNow, logger, onHookRunsQueued, failureLog, makeRandom, schedules] in
            let polledAt = wallNow()
            let result = await launch.target.source.status(of: token.accessToken)
            if Task.isCancelled {
                mailbox.post(.abandoned(tokenID: token.id))
                return
            }
            mailbox.post(.answered(tokenID: token.id))
            var rng = makeRandom()
            // An export awaiting its callback: a sparse safety net. Else a token of a segment with
            // history: its polls follow the segment's learned schedule.
            var safetyNet: CallbackSafetyNet? = nil
            var schedule: LearnedSchedule? = nil
            if token.awaitsCallback, let interval = policy.configuration.callbackSafetyInterval {
                let forecast =
                    if let segment = token.segment {
                        await schedules?.forecast(clientID: token.clientID, segment: segment)
                    } else { CompletionForecast?.none }
                safetyNet = CallbackSafetyNet(interval: interval, forecast: forecast)
            } else if token.segment != nil {
                schedule = await schedules?.schedule(for: token)
            }
            let now = wallNow()
            let sinceAdded =
                token.addedAt.map { Duration.clampedSeconds(Swift.max(0, now.timeIntervalSince($0))) } ?? .zero
            let decision = policy.decide(
                token: token, result: result, polledAt: polledAt, now: now, hostKey: launch.target.hostKey,
                accountNotFoundElsewhere: launch.accountNotFoundElsewhere, deliver: launch.target.delivers(token),
                schedule: schedule, sinceAdded: sinceAdded, safetyNet: safetyNet, using: &rng)
            if safetyNet != nil, !launch.callbackArrived, token.attempt > 0,
                decision.write.newState == .complete || decision.write.newState == .downloading
            {
                MprefMetrics.callbackMissed()
                logger.notice(
                    "export found complete by a safety poll: its callback did not arrive (check callbacks.public_url and the reverse proxy)",
                    metadata: [
                        "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
                    ])
            }

            do {
                // Held (not re-polled) while the database refuses writes: the answer is not lost.
                let receipt = try await recorder.recordHolding(decision)
                if decision.write.newState == .complete || decision.write.newState == .downloading {
                    schedules?.invalidate(token)  // the segment's history just grew (and is stored)
                }
                MprefMetrics.pollRecorded(decision.write)
                failureLog.note(token: token, write: decision.write)
                mailbox.post(.polled(tokenID: token.id, decision: decision, tokenUpdated: receipt.tokenUpdated))
                if receipt.hookRunsCreated { onHookRunsQueued() }
            } catch is CancellationError {
                mailbox.post(.abandoned(tokenID: token.id))
            } catch {
                logger.error(
                    "poll not recorded; will poll again",
                    metadata: [
                        "export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)",
                        "error": "\(error)",
                    ])
                mailbox.post(.recordFailed(tokenID: token.id))
            }
        }
    }

    /// One download step of a `downloading` token (a page or the commit), in place of a poll.
    private func startDownloadStep(_ launch: SchedulerState.Launch, in polls: inout DiscardingTaskGroup) {
        let token = launch.token
        polls.addTask { [downloadStep, mailbox, onHookRunsQueued, makeRandom] in
            guard let source = launch.target.downloads else {
                mailbox.post(.abandoned(tokenID: token.id))
                return
            }
            var rng = makeRandom()
            let report = await downloadStep.run(
                token: token, source: source, settings: launch.target.download, hostKey: launch.target.hostKey,
                using: &rng)
            if Task.isCancelled, !report.recorded {
                mailbox.post(.abandoned(tokenID: token.id))
                return
            }
            mailbox.post(.answered(tokenID: token.id))
            mailbox.post(.downloaded(tokenID: token.id, report: report))
            if report.hookRunsCreated { onHookRunsQueued() }
        }
    }

    private func log(_ decision: PollPolicy.Decision, pauseChange: PauseChange) {
        for entry in PollLog.entries(for: decision, pauseChange: pauseChange, debugEnabled: logger.logLevel <= .debug) {
            logger.log(level: entry.level, entry.message, metadata: entry.metadata)
        }
    }
}
