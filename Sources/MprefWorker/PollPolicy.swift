import Foundation
import MprefCore
import MprefStore
import MyPreferences

/// The polling policy: a pure function from (token, poll result, time) to what happens next.
///
/// No I/O, no clock, no global randomness: `now` and the RNG are passed in, so every rule is tested
/// exhaustively without sockets or disk. The rules (MyPreferences error-code guidance in
/// `mypreferences-api.md`):
/// - `Processing` or an unknown `Status`: keep watching; next delay = `Backoff` draw for `attempt`, or,
///   for a token whose segment has a `LearnedSchedule`, the schedule's next gap while the export is
///   within its forecast; for an export that awaits its callback, the `CallbackSafetyNet`'s gap.
/// - `Complete` → `complete`, or `downloading` when the export is to be delivered; `Error`/`Failed` → `failed`; `Expired` → `expired`; `Retrieved` → `retrieved`.
/// - 503 or 429: pause the whole host for max(own backoff, `Retry-After`) capped at `maxRetryAfter`, plus
///   jitter in (0, `pauseJitter`]; the token resumes when the pause ends.
/// - Other 5xx, transport errors, undecodable bodies, unexpected codes: backoff on `consecutive_errors`.
/// - 400 → `failed`. 404 → `failed` after `notFoundLimit` in a row. 401/403 → pause the account for `authPause`.
/// - 404 account-wide — this token's and `accountWideNotFound − 1` other tokens' of the account with
///   no `2xx` from it in between (a `base_url` or `status_path` typo, not a missing export) → pause
///   the account for `authPause` like 401/403; the token's own 404 count is left alone.
/// - A token polled at or after its deadline without reaching a terminal status → `timed_out`.
package struct PollPolicy: Sendable {
    package var configuration: PollingConfiguration

    package init(configuration: PollingConfiguration) {
        self.configuration = configuration
    }

    var backoff: Backoff {
        Backoff(initial: configuration.initialDelay, max: configuration.maxDelay, multiplier: configuration.multiplier)
    }

    /// What one poll leads to.
    package struct Decision: Sendable, Hashable {
        /// The history row and the token's new values, to commit in one transaction.
        package var write: PollWrite
        /// The host pause (503) or account pause (401/403) this poll starts, if any.
        package var pause: PauseRecord?
        /// The delay until the next poll; `nil` when polling stopped.
        package var nextDelay: Duration?
        /// The server's `Retry-After` exceeded `maxRetryAfter` and was capped.
        package var retryAfterCapped: Bool
        /// `Status` was a value this version does not know (treated as still processing).
        package var unknownStatus: Bool
        /// The next delay came from the learned schedule or the callback safety net passed to `decide`
        /// (not from the backoff).
        package var scheduled: Bool = false
    }

    /// Decides the consequences of `result` for `token`.
    ///
    /// - Parameters:
    ///   - polledAt: when the request was sent (the history's `polled_at`).
    ///   - now: when the result arrived; delays are measured from here.
    ///   - hostKey: `scheme://host:port` of the account's base URL (the subject of a host pause).
    ///   - accountNotFoundElsewhere: other tokens of this account that answered `404` since its last
    ///     `2xx` (the scheduler counts them); decides whether a `404` is account-wide.
    ///   - deliver: the export is downloaded (the account's or the token's `download`): `Complete`
    ///     then leads to `downloading`, its first page due at once, instead of `complete`.
    package func decide(
        token: WatchedToken, result: PollResult, polledAt: Date, now: Date, hostKey: String,
        accountNotFoundElsewhere: Int = 0, deliver: Bool = false, using rng: inout some RandomNumberGenerator
    ) -> Decision {
        decide(
            token: token, result: result, polledAt: polledAt, now: now, hostKey: hostKey,
            accountNotFoundElsewhere: accountNotFoundElsewhere, deliver: deliver, schedule: nil, sinceAdded: .zero,
            using: &rng)
    }

    /// Decides the consequences of `result` for `token`, placing the next poll of a still-processing
    /// export by its segment's learned schedule.
    ///
    /// - Parameters:
    ///   - schedule: the token's segment's learned schedule, if it has one: a `Processing` (or
    ///     unknown-status) answer then takes its next delay from `schedule.nextDelay(elapsed:
    ///     sinceAdded)`, and from the backoff once that is `nil` (the export outlived its forecast).
    ///     Every other answer — errors, 404, 503/429 pauses with `Retry-After`, 401/403 — and the
    ///     deadline keep their rules. `nil`: today's backoff for every answer (the other `decide`).
    ///   - sinceAdded: how long ago the token was added (or its export initiated), measured to `now`.
    ///     Only read with a `schedule` or a `safetyNet`.
    ///   - safetyNet: the export awaits its callback (`callbacks.safety_interval_s`): a `Processing`
    ///     (or unknown-status) answer takes its next delay from `safetyNet.nextDelay(elapsed:
    ///     sinceAdded)` instead of the schedule or the backoff; every other answer keeps its rule.
    ///   - the others: as for `decide(token:result:polledAt:now:hostKey:accountNotFoundElsewhere:deliver:using:)`.
    package func decide(
        token: WatchedToken, result: PollResult, polledAt: Date, now: Date, hostKey: String,
        accountNotFoundElsewhere: Int = 0, deliver: Bool = false,
        schedule: LearnedSchedule?, sinceAdded: Duration, safetyNet: CallbackSafetyNet? = nil,
        using rng: inout some RandomNumberGenerator
    ) -> Decision {
        // Counters come from the database (operators have sqlite3): every step saturates.
        let attempt = token.attempt.incrementedSaturating
        var errors = token.consecutiveErrors
        var notFound = token.consecutiveNotFound
        var state = TokenState.watching
        var delay: Duration? = nil
        var pause: PauseRecord? = nil
        var capped = false
        var unknown = false
        var scheduled = false
        var lastError: String? = nil
        var status: ExportStatus? = nil
        var retryAfterS: Double? = nil
        var detail: String? = nil

        func errorBackoff() -> Duration {
            errors = errors.incrementedSaturating
            return backoff.delay(attempt: errors, using: &rng)
        }

        switch result.outcome {
        case .ok(let exportStatus):
            status = exportStatus
            errors = 0
            notFound = 0
            switch exportStatus.knownStatus {
            case .complete: state = deliver ? .downloading : .complete
            case .error, .failed:
                state = .failed
                lastError = "export status \(exportStatus.status)"
            case .expired: state = .expired
            case .retrieved: state = .retrieved
            case .processing, nil:
                unknown = exportStatus.knownStatus == nil
                if let safetyNet {
                    delay = safetyNet.nextDelay(elapsed: sinceAdded)
                    scheduled = true
                } else if let planned = schedule?.nextDelay(elapsed: sinceAdded) {
                    delay = planned
                    scheduled = true
                } else {
                    delay = backoff.delay(attempt: token.attempt, using: &rng)
                }
            }
        case .unavailable, .serverError, .unexpectedStatus, .transportError, .undecodable, .unauthorized, .forbidden:
            if let failure = transientFailure(
                result.outcome, httpStatus: result.httpStatus, body: "status", errors: &errors,
                clientID: token.clientID, hostKey: hostKey, now: now, using: &rng)
            {
                delay = failure.delay
                pause = failure.pause
                lastError = failure.lastError
                detail = failure.detail
                retryAfterS = failure.retryAfterS
                capped = failure.retryAfterCapped
            }
        case .badRequest(let text):
            errors = errors.incrementedSaturating
            state = .failed
            lastError = "400 Bad Request (invalid): \(text)"
        case .notFound where accountNotFoundElsewhere.incrementedSaturating >= max(configuration.accountWideNotFound, 2):
            errors = errors.incrementedSaturating
            let wait =
                configuration.authPause
                + .clampedSeconds(Double.random(in: 0.001...max(configuration.pauseJitter.seconds, 0.001), using: &rng))
            delay = wait
            let tokens = accountNotFoundElsewhere.incrementedSaturating
            lastError =
                "404 Not Found for \(tokens) tokens of this account in a row: check its base_url and status_path, then `mprefd resume --account \(token.clientID)`"
            pause = PauseRecord(
                scope: .account, subject: token.clientID.value, pausedUntil: WallClock.adding(wait, to: now),
                startedAt: now,
                reason: lastError ?? "404", httpStatus: result.httpStatus, retryAfterS: nil)
        case .notFound:
            notFound = notFound.incrementedSaturating
            if notFound >= configuration.notFoundLimit {
                errors = errors.incrementedSaturating
                state = .failed
                lastError = "404 Not Found \(notFound) times in a row (not_found)"
            } else {
                delay = errorBackoff()
                lastError = "404 Not Found (\(notFound) of \(configuration.notFoundLimit))"
            }
        }

        // The deadline: a token still not terminal when polled at or after it is timed out; otherwise
        // its next poll is brought forward to the deadline so that it gets one last poll there.
        if state == .watching, let deadline = token.deadlineAt {
            if polledAt >= deadline {
                state = .timedOut
                delay = nil
                pause = pause?.scope == .host ? pause : nil
                lastError = "deadline \(Timestamp.format(deadline)) reached while \(status?.status ?? "not finished")"
            } else if let d = delay, WallClock.adding(d, to: now) > deadline {
                delay = .clampedSeconds(deadline.timeIntervalSince(now))
            }
        }
        if state == .downloading { delay = .zero }  // the first page is asked for at once
        if state != .watching && state != .downloading { delay = nil }

        let write = PollWrite(
            tokenID: token.id,
            polledAt: polledAt,
            httpStatus: result.httpStatus,
            status: status?.status,
            rowCount: status?.rowCount,
            byteCount: status?.byteCount,
            latencyMs: result.latency.milliseconds,
            retryAfterS: retryAfterS,
            nextDelayS: delay.map { ($0.seconds * 1000).rounded() / 1000 },
            outcome: result.outcome.kind,
            error: [lastError, detail].compactMap { $0 }.joined(separator: ": ").nilIfEmpty,
            newState: state,
            nextPollAt: delay.map { WallClock.adding($0, to: now) },
            attempt: attempt,
            consecutiveErrors: errors,
            consecutiveNotFound: notFound,
            lastError: [.complete, .downloading, .expired, .retrieved].contains(state) ? nil : lastError,
            expires: status?.expires)
        return Decision(
            write: write, pause: pause, nextDelay: delay, retryAfterCapped: capped, unknownStatus: unknown,
            scheduled: scheduled && state == .watching && delay != nil)
    }
}

extension PollPolicy {
    /// What a request that got no usable answer leads to, the same for every request kind (status
    /// poll, page, commit) so a 503 or a 401 means one thing whatever asked.
    struct TransientFailure {
        var delay: Duration
        var pause: PauseRecord?
        var lastError: String
        var detail: String?
        /// Seconds; the server's `Retry-After`.
        var retryAfterS: Double?
        var retryAfterCapped = false
    }

    /// The rules for 503/429 (pause the host for max(backoff, `Retry-After`) capped at
    /// `maxRetryAfter`, plus jitter), 401/403 (pause the account for `authPause` plus jitter) and
    /// other failures (backoff on `errors`, which this increments). `nil` for `.ok`, `.badRequest`
    /// and `.notFound`, whose meaning depends on the request kind. `body` names what was asked for
    /// in error texts (`status`, `page`, `commit`).
    func transientFailure<Answer>(
        _ outcome: RequestOutcome<Answer>, httpStatus: Int?, body: String, errors: inout Int, clientID: ClientID,
        hostKey: String,
        now: Date, using rng: inout some RandomNumberGenerator
    ) -> TransientFailure? {
        func errorBackoff() -> Duration {
            errors = errors.incrementedSaturating
            return backoff.delay(attempt: errors, using: &rng)
        }
        func jitter() -> Duration {
            .clampedSeconds(Double.random(in: 0.001...max(configuration.pauseJitter.seconds, 0.001), using: &rng))
        }
        switch outcome {
        case .ok, .badRequest, .notFound:
            return nil
        case .unavailable(let retryAfter):
            let own = errorBackoff()
            var wait = max(own, retryAfter ?? .zero)
            var capped = false
            if wait > configuration.maxRetryAfter {
                wait = configuration.maxRetryAfter
                capped = (retryAfter ?? .zero) > configuration.maxRetryAfter
            }
            wait += jitter()
            let code = httpStatus ?? 503
            let text =
                "\(code) \(code == 429 ? "Too Many Requests" : "Service Unavailable")"
                + (retryAfter.map { " (Retry-After \(formatSeconds($0)) s)" } ?? "")
            let pause = PauseRecord(
                scope: .host, subject: hostKey, pausedUntil: WallClock.adding(wait, to: now), startedAt: now,
                reason: text, httpStatus: httpStatus, retryAfterS: retryAfter?.seconds)
            return TransientFailure(
                delay: wait, pause: pause, lastError: text, retryAfterS: retryAfter?.seconds, retryAfterCapped: capped)
        case .serverError:
            return TransientFailure(
                delay: errorBackoff(), lastError: "HTTP \(httpStatus.map(String.init) ?? "5xx") server error")
        case .unexpectedStatus:
            return TransientFailure(
                delay: errorBackoff(), lastError: "unexpected HTTP status \(httpStatus.map(String.init) ?? "?")")
        case .transportError(let failure, let text):
            return TransientFailure(delay: errorBackoff(), lastError: "transport error (\(failure.rawValue)): \(text)")
        case .undecodable(let reason, let excerpt):
            return TransientFailure(
                delay: errorBackoff(), lastError: "undecodable \(body) body: \(reason)", detail: excerpt)
        case .unauthorized, .forbidden:
            errors = errors.incrementedSaturating
            let wait = configuration.authPause + jitter()
            let text: String
            if case .forbidden = outcome {
                text = "403 Forbidden: the user lacks permission; an operator must fix it"
            } else {
                text = "401 Unauthorized: check the account's credentials (client ID, user ID, secret)"
            }
            let pause = PauseRecord(
                scope: .account, subject: clientID.value, pausedUntil: WallClock.adding(wait, to: now), startedAt: now,
                reason: text, httpStatus: httpStatus, retryAfterS: nil)
            return TransientFailure(delay: wait, pause: pause, lastError: text)
        }
    }
}

/// `Retry-After` seconds for the error text: whole seconds as an integer, else three decimals.
/// `d` comes from a server header; the conversion saturates (a hint near `Int64.max` once trapped here).
func formatSeconds(_ d: Duration) -> String {
    let s = d.seconds
    return s == s.rounded() ? String(Int64(saturating: s)) : String(format: "%.3f", s)
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
