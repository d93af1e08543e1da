import Foundation
import Logging
import MprefCore
import MprefStore

/// The scheduler's bookkeeping, owned by its one loop: who is watched, when each is due, what is
/// in flight, which hosts and accounts are paused, and each host's request pace. No I/O.
/// What a committed poll did to the pause of its host or account.
package enum PauseChange: Sendable {
    /// No pause, or one within the jitter of the pause already in force.
    case none
    /// No pause of that subject was in force: this poll started one.
    case started
    /// This poll's pause ends later than the one in force: the pause in force is now this one.
    case extended
}

struct SchedulerState {
    struct Slot {
        var token: WatchedToken
        var generation: UInt64
        var inFlight = false
        /// A callback asked for a poll of it (``pollNow(tokenID:now:)``).
        var callbackArrived = false
    }

    struct Launch: Sendable {
        var token: WatchedToken
        var target: PollTarget
        /// Other tokens of the account that answered `404` since its last `2xx` (``PollPolicy``'s
        /// account-wide 404 rule).
        var accountNotFoundElsewhere: Int = 0
        /// The token's callback has arrived (this poll, or an earlier one, was asked for by it).
        var callbackArrived = false
    }

    let configuration: PollingConfiguration
    let targets: [ClientID: PollTarget]
    /// Polls launched and not yet settled (answered and committed, failed to commit, or abandoned).
    private(set) var inFlight = 0
    /// Polls whose HTTP exchange is still open: what `maxInFlight` limits. A poll that has its answer
    /// and waits for its commit no longer holds a request slot, so the commit wait does not throttle
    /// the requests (measured in docs/BENCHMARKS.md); `settlingLimit` still bounds the total.
    private var openRequests: Set<TokenID> = []
    private var slots: [TokenID: Slot] = [:]
    private var queue = PollQueue()
    private var nextGeneration: UInt64 = 1
    /// A pause in force: when it ends, and when (wall clock) the latest 503 or 401/403 behind it came.
    private struct PauseSpan {
        var end: ContinuousClock.Instant
        var startedAt: Date
    }
    private var hostPauses: [String: PauseSpan] = [:]
    private var accountPauses: [String: PauseSpan] = [:]
    private var pacers: [String: RequestPacer] = [:]
    private var unconfiguredClientIDs: Set<ClientID> = []
    /// Per client ID: the tokens that answered `404` since the account's last `2xx`.
    private var notFoundStreaks: [ClientID: Set<TokenID>] = [:]
    /// Spreads tokens resuming after a pause (``spread()``); injected so tests replay it from a seed.
    private var rng: any RandomNumberGenerator

    init(
        configuration: PollingConfiguration, targets: [ClientID: PollTarget],
        random: any RandomNumberGenerator = SystemRandomNumberGenerator()
    ) {
        self.configuration = configuration
        self.targets = targets
        self.rng = random
    }

    /// Tokens being watched (in the queue or in flight).
    var watchedCount: Int { slots.count }

    /// Most polls launched and not settled at once: 4 × `maxInFlight`, so a slow database holds back
    /// new polls instead of piling up answers in memory.
    var settlingLimit: Int {
        configuration.maxInFlight.multipliedReportingOverflow(by: 4).overflow ? .max : configuration.maxInFlight * 4
    }

    /// A request slot and a settling slot are free.
    private var canLaunch: Bool { openRequests.count < configuration.maxInFlight && inFlight < settlingLimit }

    /// When the loop should wake next: the earliest due entry, unless every poll slot is taken.
    var nextWake: ContinuousClock.Instant? {
        canLaunch ? queue.first?.due : nil
    }

    /// Polls are due and waiting for a free request or settling slot (`dueLaunches` left them queued).
    func isBacklogged(now: ContinuousClock.Instant) -> Bool {
        guard let top = queue.first else { return false }
        return top.due <= now
    }

    /// Loads the tokens and pauses found at start.
    mutating func load(
        tokens: [WatchedToken], pauses: [PauseRecord], wallNow: Date, now: ContinuousClock.Instant, logger: Logger
    ) {
        queue.reserveCapacity(tokens.count)
        slots.reserveCapacity(tokens.count)
        for pause in pauses { applyPause(pause, wallNow: wallNow, now: now) }
        for token in tokens { watch(token, wallNow: wallNow, now: now, logger: logger) }
    }

    /// Pops every entry due at `now` that may be sent, up to the in-flight limit.
    mutating func dueLaunches(now: ContinuousClock.Instant) -> [Launch] {
        var launches: [Launch] = []
        while canLaunch, let top = queue.first, top.due <= now {
            _ = queue.popFirst()
            guard var slot = slots[top.tokenID], slot.generation == top.generation, !slot.inFlight,
                let target = targets[slot.token.clientID]
            else { continue }
            let held = PauseRule.effectiveDue(
                planned: now, host: hostPauses[target.hostKey]?.end,
                account: accountPauses[slot.token.clientID.value]?.end)
            if held.heldBy != nil {
                schedule(top.tokenID, at: held.due + spread(), booked: false)
                continue
            }
            if !top.slotBooked {
                var pacer = pacers[target.hostKey] ?? RequestPacer(rate: configuration.maxRequestsPerSecondPerHost)
                let sendAt = pacer.book(now: now)
                pacers[target.hostKey] = pacer
                if sendAt > now {
                    schedule(top.tokenID, at: sendAt, booked: true)
                    continue
                }
            }
            slot.inFlight = true
            slots[top.tokenID] = slot
            inFlight += 1
            openRequests.insert(top.tokenID)
            let elsewhere =
                notFoundStreaks[slot.token.clientID].map { $0.count - ($0.contains(top.tokenID) ? 1 : 0) } ?? 0
            launches.append(
                Launch(
                    token: slot.token, target: target, accountNotFoundElsewhere: elsewhere,
                    callbackArrived: slot.callbackArrived))
        }
        return launches
    }

    /// Applies a committed poll. Returns what it did to the host or account pause in force.
    mutating func finish(
        tokenID: TokenID, decision: PollPolicy.Decision, tokenUpdated: Bool, wallNow: Date, now: ContinuousClock.Instant
    ) -> PauseChange {
        endFlight(tokenID)
        let pauseChange = decision.pause.map { applyPause($0, wallNow: wallNow, now: now) } ?? .none
        if let clientID = slots[tokenID]?.token.clientID {
            switch decision.write.outcome {
            case .notFound: notFoundStreaks[clientID, default: []].insert(tokenID)
            case .ok: notFoundStreaks[clientID] = nil
            default: break
            }
        }
        let w = decision.write
        continueOrDrop(tokenID, updated: tokenUpdated, state: w.newState, after: decision.nextDelay, now: now) {
            token in
            if let rowCount = w.rowCount { token.rowCount = rowCount }
            if let byteCount = w.byteCount { token.byteCount = byteCount }
            token.attempt = w.attempt
            token.consecutiveErrors = w.consecutiveErrors
            token.consecutiveNotFound = w.consecutiveNotFound
            token.nextPollAt = w.nextPollAt
        }
        return pauseChange
    }

    /// After a recorded request: a token still active (`watching`, `downloading`) with a next delay
    /// gets `update` and is scheduled; one whose row changed to anything else is dropped; one whose
    /// row an admin command changed meanwhile (`updated` false) is left to the admin change.
    private mutating func continueOrDrop(
        _ tokenID: TokenID, updated: Bool, state: TokenState, after delay: Duration?, now: ContinuousClock.Instant,
        update: (inout WatchedToken) -> Void
    ) {
        guard var slot = slots[tokenID] else { return }
        guard updated, state.isActive, let delay else {
            if updated { slots[tokenID] = nil }
            return
        }
        slot.token.state = state
        update(&slot.token)
        slots[tokenID] = slot
        schedule(tokenID, at: now + delay, booked: false)
    }

    /// Applies a recorded download step (see ``DownloadStep``): its pause, and the token's next step
    /// when it is still downloading. Returns what it did to the pause in force.
    mutating func finishDownload(
        tokenID: TokenID, report: DownloadStep.Report, wallNow: Date, now: ContinuousClock.Instant
    ) -> PauseChange {
        endFlight(tokenID)
        let pauseChange = report.pause.map { applyPause($0, wallNow: wallNow, now: now) } ?? .none
        guard report.recorded else {
            if slots[tokenID] != nil { schedule(tokenID, at: now + configuration.initialDelay, booked: false) }
            return pauseChange
        }
        continueOrDrop(tokenID, updated: report.tokenUpdated, state: report.newState, after: report.nextDelay, now: now)
        { token in
            token.consecutiveErrors = report.consecutiveErrors
            token.consecutiveNotFound = report.consecutiveNotFound
        }
        return pauseChange
    }

    /// A poll's HTTP exchange ended (its commit may still be pending): its request slot is free.
    mutating func answered(tokenID: TokenID) {
        openRequests.remove(tokenID)
    }

    /// A poll whose commit failed (e.g. disk full): poll it again after the initial delay; nothing was recorded.
    mutating func retryLater(tokenID: TokenID, now: ContinuousClock.Instant) {
        endFlight(tokenID)
        guard slots[tokenID] != nil else { return }
        schedule(tokenID, at: now + configuration.initialDelay, booked: false)
    }

    /// A poll abandoned at shutdown: nothing recorded.
    mutating func abandon(tokenID: TokenID) {
        endFlight(tokenID)
    }

    /// Applies admin changes: newly watched tokens are scheduled; paused, removed or finished ones dropped.
    mutating func apply(_ changes: [TokenChange], wallNow: Date, now: ContinuousClock.Instant, logger: Logger) {
        for change in changes {
            if let token = change.watched {
                if slots[token.id]?.inFlight == true { continue }  // its poll's outcome decides
                watch(token, wallNow: wallNow, now: now, logger: logger)
                logger.info(
                    "watching token",
                    metadata: ["export.client_id": "\(token.clientID)", "export.access_token": "\(token.accessToken)"])
            } else if let defect = change.defect {
                slots[change.tokenID] = nil
                Self.logUnusableRow(defect, logger: logger)
            } else if slots.removeValue(forKey: change.tokenID) != nil {
                logger.info(
                    "stopped watching token",
                    metadata: ["token.id": "\(change.tokenID)", "token.state": "\(change.state.rawValue)"])
            }
        }
    }

    /// The one log line for a `tokens` row the daemon cannot use: which token, which column, the
    /// value and how to repair it. The row is kept and not polled; the other tokens go on.
    static func logUnusableRow(_ defect: TokenRowDefect, logger: Logger) {
        var metadata: Logger.Metadata = [
            "token.id": "\(defect.tokenID)", "db.column": "\(defect.column)", "db.value": "\(defect.value)",
            "expected": "\(defect.expected)", "repair": "\(defect.repair)",
        ]
        if let clientID = defect.clientID { metadata["export.client_id"] = "\(clientID)" }
        if let accessToken = defect.accessToken { metadata["export.access_token"] = "\(accessToken)" }
        logger.error("token row cannot be used; it is kept and not polled until repaired", metadata: metadata)
    }

    private mutating func watch(_ token: WatchedToken, wallNow: Date, now: ContinuousClock.Instant, logger: Logger) {
        guard targets[token.clientID] != nil else {
            if unconfiguredClientIDs.insert(token.clientID).inserted {
                logger.error(
                    "no account configured for this client ID; its tokens are not polled",
                    metadata: ["export.client_id": "\(token.clientID)"])
            }
            return
        }
        let wait = token.nextPollAt.map { $0.timeIntervalSince(wallNow) } ?? 0
        // A planned poll further away than any gap the daemon plans is a hand-edited row: pinned.
        let longestGap =
            token.awaitsCallback
            ? max(configuration.maxDelay, configuration.callbackSafetyInterval ?? .zero) : configuration.maxDelay
        let clamped = min(max(wait, 0), longestGap.seconds)
        let generation = nextGeneration
        nextGeneration += 1
        slots[token.id] = Slot(token: token, generation: generation)
        queue.push(
            .init(due: now + .clampedSeconds(clamped), tokenID: token.id, generation: generation, slotBooked: false))
    }

    private mutating func schedule(_ tokenID: TokenID, at due: ContinuousClock.Instant, booked: Bool) {
        guard var slot = slots[tokenID] else { return }
        slot.generation = nextGeneration
        nextGeneration += 1
        slots[tokenID] = slot
        queue.push(.init(due: due, tokenID: tokenID, generation: slot.generation, slotBooked: booked))
    }

    private mutating func endFlight(_ tokenID: TokenID) {
        inFlight = max(0, inFlight - 1)
        openRequests.remove(tokenID)
        slots[tokenID]?.inFlight = false
    }

    /// Records a pause: the longer of it and the one in force (one pause per host and per account,
    /// as the store keeps it). Returns `.started` when none of that subject was in force,
    /// `.extended` when it moves the end of the one in force later by more than `pauseJitter`
    /// (a later 503 asked for longer), `.none` otherwise.
    @discardableResult
    private mutating func applyPause(_ pause: PauseRecord, wallNow: Date, now: ContinuousClock.Instant) -> PauseChange {
        let isHost = pause.scope == .host
        let limit =
            isHost
            ? configuration.maxRetryAfter + configuration.pauseJitter
            : configuration.authPause + configuration.pauseJitter
        let remaining = min(max(pause.pausedUntil.timeIntervalSince(wallNow), 0), limit.seconds)
        let span = PauseSpan(end: now + .clampedSeconds(remaining), startedAt: pause.startedAt)
        let existing = isHost ? hostPauses[pause.subject] : accountPauses[pause.subject]
        let merged =
            existing.map { PauseSpan(end: max($0.end, span.end), startedAt: max($0.startedAt, span.startedAt)) } ?? span
        if isHost { hostPauses[pause.subject] = merged } else { accountPauses[pause.subject] = merged }
        guard let existing, existing.end > now else { return .started }
        return span.end - existing.end > max(configuration.pauseJitter, .milliseconds(1)) ? .extended : .none
    }

    /// Ends the pauses an operator lifted (`mprefd resume --host` / `--account`) and makes the tokens
    /// that waited on them due at once: not spread over `pauseJitter` (the operator asked for now),
    /// the per-host pace still spreads the requests. A pause that started after the lift (a new 503
    /// or 401/403 meanwhile) stays. Returns the lifts that ended a pause in force.
    mutating func lift(_ lifts: [PauseLift], now: ContinuousClock.Instant) -> [PauseLift] {
        var ended: [PauseLift] = []
        for lift in lifts {
            let isHost = lift.scope == .host
            guard let span = isHost ? hostPauses[lift.subject] : accountPauses[lift.subject],
                span.end > now, span.startedAt <= lift.liftedAt
            else { continue }
            if isHost { hostPauses[lift.subject] = nil } else { accountPauses[lift.subject] = nil }
            ended.append(lift)
        }
        guard !ended.isEmpty else { return [] }
        let hosts = Set(ended.filter { $0.scope == .host }.map(\.subject))
        let accounts = Set(ended.filter { $0.scope != .host }.map(\.subject))
        let waiting = slots.filter { _, slot in
            !slot.inFlight
                && (accounts.contains(slot.token.clientID.value)
                    || targets[slot.token.clientID].map { hosts.contains($0.hostKey) } == true)
        }
        for id in waiting.keys { schedule(id, at: now, booked: false) }
        return ended
    }

    // MARK: Poll at once (a callback)

    /// What ``pollNow(tokenID:now:)`` did.
    enum PollNowResult: Sendable, Equatable {
        /// Queued as due at `now`: sent as soon as no host or account pause holds it, the host's pace
        /// allows and a request slot is free (``dueLaunches(now:)`` applies all three, as for any poll).
        case queued
        /// A request for it is in flight already (it may have been sent before the export completed):
        /// nothing changed; the caller asks again once that poll is settled.
        case inFlight
        /// Not watched by the scheduler (unknown, finished, removed, no account configured) or not
        /// `watching` (a download step is not brought forward): nothing changed.
        case notWatched
    }

    /// Makes a watched token due at once (a callback said its export may be complete). Its planned
    /// poll is replaced, not added to: it is polled once now, and its next delay after that comes
    /// from the poll's outcome as usual. A pause still wins (the token then waits for its end, like
    /// every token of that host or account).
    mutating func pollNow(tokenID: TokenID, now: ContinuousClock.Instant) -> PollNowResult {
        guard var slot = slots[tokenID], slot.token.state == .watching else { return .notWatched }
        if slot.inFlight { return .inFlight }
        slot.callbackArrived = true
        slots[tokenID] = slot
        schedule(tokenID, at: now, booked: false)
        return .queued
    }

    /// A random offset in [0, pauseJitter] so tokens waiting on a pause resume spread out.
    private mutating func spread() -> Duration {
        let ceiling = max(configuration.pauseJitter.seconds, 0)
        return ceiling > 0 ? .clampedSeconds(Double.random(in: 0...ceiling, using: &rng)) : .zero
    }
}
