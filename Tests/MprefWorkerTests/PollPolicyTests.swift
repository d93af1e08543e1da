import Foundation
import MprefCore
import MprefStore
import MyPreferences
import MprefTestSupport
import Testing
@testable import MprefWorker

/// A seeded generator (SplitMix64) so that random draws are reproducible.
/// The tests' seeded generator (MprefCore's SplitMix64).
typealias SeededRNG = SplitMix64

@Suite struct PollPolicyTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)
    var configuration: PollingConfiguration {
        var c = PollingConfiguration()
        c.initialDelay = .seconds(10)
        c.maxDelay = .seconds(300)
        c.multiplier = 2
        c.maxRetryAfter = .seconds(600)
        c.pauseJitter = .seconds(1)
        c.notFoundLimit = 3
        c.authPause = .seconds(900)
        return c
    }

    func decide(
        _ outcome: PollOutcome, http: Int? = 200, token: WatchedToken? = nil, at now: Date? = nil, seed: UInt64 = 1
    ) -> PollPolicy.Decision {
        var rng = SeededRNG(state: seed)
        let t = token ?? WatchedToken(id: 7, clientID: "ACME_Co", accessToken: 42)
        let when = now ?? t0
        return PollPolicy(configuration: configuration).decide(
            token: t, result: PollResult(outcome: outcome, httpStatus: http, latency: .milliseconds(12)),
            polledAt: when, now: when, hostKey: "https://pm.example:443", using: &rng)
    }

    static let terminal: [(String, TokenState)] = [
        ("Complete", .complete), ("complete", .complete), (" COMPLETE ", .complete), ("Error", .failed),
        ("Failed", .failed),
        ("Expired", .expired), ("Retrieved", .retrieved), ("retrieved", .retrieved),
    ]

    @Test(arguments: terminal)
    func terminalStatusesStopPolling(status: String, expected: TokenState) {
        let d = decide(.ok(ExportStatus(accessToken: 42, status: status, rowCount: 10, byteCount: 3_000_000_000)))
        #expect(d.write.newState == expected)
        #expect(d.nextDelay == nil)
        #expect(d.write.nextPollAt == nil)
        #expect(d.write.status == status)
        #expect(d.write.rowCount == 10)
        #expect(d.write.byteCount == 3_000_000_000)
        #expect(d.write.outcome == .ok)
        #expect(d.write.attempt == 1)
        #expect(d.pause == nil)
    }

    @Test(arguments: ["Processing", "processing", "Queued", "sample string 2"])
    func processingAndUnknownKeepWatching(status: String) throws {
        let d = decide(.ok(ExportStatus(status: status, rowCount: 0, byteCount: 0)))
        #expect(d.write.newState == .watching)
        let delay = try #require(d.nextDelay)
        #expect(delay == .seconds(10))  // attempt 0: drawn in [10, 10]
        #expect(d.write.nextPollAt == t0.addingTimeInterval(10))
        #expect(d.unknownStatus == (status.lowercased() != "processing"))
        #expect(d.write.consecutiveErrors == 0)
    }

    @Test func processingBackoffGrowsWithAttempt() throws {
        for attempt in [1, 2, 3, 5, 10, 100] {
            let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, attempt: attempt)
            for seed in 1...50 {
                let delay = try #require(
                    decide(.ok(ExportStatus(status: "Processing")), token: token, seed: UInt64(seed)).nextDelay
                ).seconds
                let upper = min(300, 10 * pow(2, Double(attempt)))
                #expect(delay >= 10 && delay <= upper + 1e-9, "attempt \(attempt): \(delay)")
            }
        }
    }

    @Test func unavailableHonoursRetryAfterAndPausesTheHost() throws {
        let d = decide(.unavailable(retryAfter: .seconds(120)), http: 503)
        let pause = try #require(d.pause)
        #expect(pause.scope == .host)
        #expect(pause.subject == "https://pm.example:443")
        let wait = try #require(d.nextDelay).seconds
        #expect(wait > 120 && wait <= 121.001)
        #expect(pause.pausedUntil == t0.addingTimeInterval(wait))
        #expect(d.write.retryAfterS == 120)
        #expect(d.write.outcome == .unavailable)
        #expect(d.write.newState == .watching)
        #expect(d.write.consecutiveErrors == 1)
        #expect(!d.retryAfterCapped)
    }

    @Test func unavailableWithoutRetryAfterBacksOff() throws {
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, consecutiveErrors: 3)
        let d = decide(.unavailable(retryAfter: nil), http: 503, token: token)
        let wait = try #require(d.nextDelay).seconds
        #expect(wait >= 10 && wait <= 160 + 1.001)  // errors 4: [10, 160] + jitter
        #expect(d.pause != nil)
        #expect(d.write.retryAfterS == nil)
    }

    @Test func absurdRetryAfterIsCapped() throws {
        let d = decide(.unavailable(retryAfter: .seconds(86_400 * 365)), http: 503)
        #expect(d.retryAfterCapped)
        let wait = try #require(d.nextDelay).seconds
        #expect(wait > 600 && wait <= 601.001)
    }

    static let errorOutcomes: [(PollOutcome, Int?, String)] = [
        (.serverError, 500, "server_error"), (.serverError, 502, "server_error"),
        (.unexpectedStatus, 302, "unexpected_status"),
        (.transportError(.timeout, detail: "deadline"), nil, "transport_error"),
        (.transportError(.connect, detail: "refused"), nil, "transport_error"),
        (.undecodable(reason: "not JSON", excerpt: "<html>"), 200, "undecodable"),
    ]

    @Test(arguments: errorOutcomes)
    func transientErrorsBackOffOnConsecutiveErrors(outcome: PollOutcome, http: Int?, name: String) throws {
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, attempt: 4, consecutiveErrors: 2)
        let d = decide(outcome, http: http, token: token)
        #expect(d.write.newState == .watching)
        #expect(d.write.outcome.rawValue == name)
        #expect(d.write.consecutiveErrors == 3)
        #expect(d.write.httpStatus == http)
        #expect(d.write.lastError != nil)
        #expect(d.pause == nil)
        let wait = try #require(d.nextDelay).seconds
        #expect(wait >= 10 && wait <= 80)
    }

    @Test func badRequestFailsTheToken() {
        let d = decide(.badRequest(detail: "AccessToken invalid"), http: 400)
        #expect(d.write.newState == .failed)
        #expect(d.write.lastError?.contains("400") == true)
        #expect(d.write.lastError?.contains("AccessToken invalid") == true)
        #expect(d.nextDelay == nil)
    }

    @Test func notFoundFailsAfterTheLimit() throws {
        var token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1)
        for round in 1...3 {
            let d = decide(.notFound, http: 404, token: token)
            #expect(d.write.consecutiveNotFound == round)
            if round < 3 {
                #expect(d.write.newState == .watching)
                #expect(d.nextDelay != nil)
            } else {
                #expect(d.write.newState == .failed)
                #expect(d.write.lastError?.contains("not_found") == true)
            }
            token.consecutiveNotFound = d.write.consecutiveNotFound
            token.consecutiveErrors = d.write.consecutiveErrors
        }
    }

    @Test func aSuccessResetsTheNotFoundCount() {
        let token = WatchedToken(
            id: 1, clientID: "ACME_Co", accessToken: 1, consecutiveErrors: 2, consecutiveNotFound: 2)
        let d = decide(.ok(ExportStatus(status: "Processing")), token: token)
        #expect(d.write.consecutiveNotFound == 0)
        #expect(d.write.consecutiveErrors == 0)
    }

    @Test(arguments: [(PollOutcome.unauthorized, 401), (PollOutcome.forbidden, 403)])
    func authFailuresPauseTheAccount(outcome: PollOutcome, http: Int) throws {
        let d = decide(outcome, http: http)
        let pause = try #require(d.pause)
        #expect(pause.scope == .account)
        #expect(pause.subject == "ACME_Co")
        #expect(d.write.newState == .watching)
        let wait = try #require(d.nextDelay).seconds
        #expect(wait > 900 && wait <= 901.001)
        #expect(d.write.lastError?.contains(String(http)) == true)
    }

    @Test func deadlineGivesOneLastPollThenTimesOut() throws {
        let deadline = t0.addingTimeInterval(5)
        let token = WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 1, deadlineAt: deadline)
        let before = decide(.ok(ExportStatus(status: "Processing")), token: token)
        #expect(before.write.newState == .watching)
        #expect(try #require(before.nextDelay) == .seconds(5))  // brought forward to the deadline
        let at = decide(.ok(ExportStatus(status: "Processing")), token: token, at: deadline)
        #expect(at.write.newState == .timedOut)
        #expect(at.nextDelay == nil)
        let completeAtDeadline = decide(.ok(ExportStatus(status: "Complete")), token: token, at: deadline)
        #expect(completeAtDeadline.write.newState == .complete)
    }

    @Test func historyRowCarriesTheMeasurements() {
        let d = decide(.ok(ExportStatus(status: "Processing", rowCount: nil, byteCount: nil)))
        #expect(d.write.latencyMs == 12)
        #expect(d.write.polledAt == t0)
        #expect(d.write.rowCount == nil)
        #expect(d.write.nextDelayS == 10)
        #expect(d.write.tokenID == 7)
    }
}

@Suite struct BackoffTests {
    @Test func boundsNeverDecreaseAndSaturate() {
        let backoff = Backoff(initial: .seconds(10), max: .seconds(300), multiplier: 2)
        var previous = 0.0
        for n in [0, 1, 2, 3, 4, 5, 6, 10, 64, 1000, 1_000_000, Int.max] {
            let bound = backoff.upperBoundSeconds(attempt: n)
            #expect(bound >= previous)
            #expect(bound >= 10 && bound <= 300)
            previous = bound
        }
        #expect(backoff.upperBoundSeconds(attempt: 1_000_000) == 300)
    }

    @Test func drawsStayWithinBoundsForAttemptsUpToAMillion() {
        let backoff = Backoff(initial: .seconds(10), max: .seconds(300), multiplier: 2)
        var rng = SeededRNG(state: 99)
        var n = 0
        while n <= 1_000_000 {
            let d = backoff.delay(attempt: n, using: &rng).seconds
            #expect(d >= 10 && d <= backoff.upperBoundSeconds(attempt: n))
            n = n < 20 ? n + 1 : n * 3
        }
    }

    @Test func degenerateSettingsNeverGiveZeroOrNegative() {
        var rng = SeededRNG(state: 5)
        for backoff in [
            Backoff(initial: .zero, max: .zero, multiplier: 2),
            Backoff(initial: .seconds(-5), max: .seconds(1), multiplier: .infinity),
            Backoff(initial: .seconds(10), max: .seconds(1), multiplier: 0.5),
            Backoff(initial: .seconds(1), max: .seconds(100), multiplier: .nan),
        ] {
            for n in [0, 1, 50, Int.max] {
                #expect(backoff.delay(attempt: n, using: &rng) > .zero)
            }
        }
    }
}

/// Values from outside the process (a server header, a row edited with sqlite3) never trap the policy.
@Suite struct PollPolicyExtremeValueTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)

    func decide(
        _ outcome: PollOutcome, http: Int?, token: WatchedToken, latency: Duration = .milliseconds(5),
        now: Date? = nil, maxRetryAfter: Duration = .seconds(3600)
    ) -> PollPolicy.Decision {
        var c = PollingConfiguration()
        c.maxRetryAfter = maxRetryAfter
        c.pauseJitter = .seconds(2)
        var rng = SeededRNG(state: 3)
        let when = now ?? t0
        return PollPolicy(configuration: c).decide(
            token: token, result: PollResult(outcome: outcome, httpStatus: http, latency: latency),
            polledAt: when, now: when, hostKey: "https://pm.example:443", using: &rng)
    }

    /// Issue 12, crash 1: a 503 whose Retry-After is near the top of the 64-bit range trapped while
    /// the hint was turned into the poll's error text.
    @Test func aRetryAfterNearInt64MaxIsCappedNotATrap() {
        let hint = RetryAfter.delay(from: ["9223372036854775807"], dateHeader: nil, receivedAt: t0)
        #expect(hint == .longest)
        let d = decide(
            .unavailable(retryAfter: hint), http: 503, token: WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 5))
        #expect(d.retryAfterCapped)
        #expect(d.nextDelay.map { $0 > .seconds(3600) && $0 <= .seconds(3602) } == true)
        #expect(d.write.error?.contains("Retry-After 9000000000 s") == true)
        #expect(d.pause.map { $0.pausedUntil > t0.addingTimeInterval(3600) } == true)
        // The same through an unpinned Duration (a future caller): still no trap.
        let huge = decide(
            .unavailable(retryAfter: .seconds(Int64.max)), http: 503,
            token: WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 5))
        #expect(huge.write.error?.contains("Retry-After 9223372036854775807 s") == true)
        #expect(huge.nextDelay.map { $0 <= .seconds(3602) } == true)
    }

    /// Issue 12, crash 2: an `attempt` of Int64.max (edited with sqlite3) overflowed on + 1.
    @Test(arguments: [
        PollOutcome.ok(ExportStatus(status: "Processing")), .ok(ExportStatus(status: "Complete")),
        .unavailable(retryAfter: nil),
        .serverError, .unexpectedStatus, .badRequest(detail: "x"), .notFound, .unauthorized, .forbidden,
        .transportError(.reset, detail: "x"), .undecodable(reason: "x", excerpt: "x"),
    ])
    func countersAtIntMaxSaturate(outcome: PollOutcome) {
        let token = WatchedToken(
            id: 1, clientID: "ACME_Co", accessToken: 5, attempt: .max, consecutiveErrors: .max,
            consecutiveNotFound: .max, deadlineAt: Date(timeIntervalSince1970: 253_402_300_799))
        let d = decide(outcome, http: 200, token: token)
        #expect(d.write.attempt == .max)
        #expect(d.write.consecutiveErrors >= 0 && d.write.consecutiveNotFound >= 0)
        if let delay = d.nextDelay {
            #expect(delay > .zero && delay <= .seconds(3602))
        }
        if let next = d.write.nextPollAt { #expect(Timestamp.parse(Timestamp.format(next)) != nil) }
    }

    @Test func extremeClockReadingsAndLatenciesStayRepresentable() {
        let token = WatchedToken(
            id: 1, clientID: "ACME_Co", accessToken: 5, deadlineAt: Date(timeIntervalSince1970: -1e300))
        for now in [
            Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e300),
            Date(timeIntervalSince1970: 253_402_300_799.999),
        ] {
            let d = decide(
                .unavailable(retryAfter: .longest), http: 503, token: token, latency: .seconds(Int64.max), now: now)
            #expect(d.write.latencyMs == .max)
            if let until = d.pause?.pausedUntil { #expect(Timestamp.parse(Timestamp.format(until)) != nil) }
        }
    }

    @Test func a429HonoursRetryAfterLikeA503() {
        let d = decide(
            .unavailable(retryAfter: .seconds(30)), http: 429,
            token: WatchedToken(id: 1, clientID: "ACME_Co", accessToken: 5))
        #expect(d.pause?.scope == .host)
        #expect(d.nextDelay.map { $0 >= .seconds(30) } == true)
        #expect(d.write.error?.hasPrefix("429 Too Many Requests (Retry-After 30 s)") == true)
    }
}

/// Issue 17.10: 404s from every token of an account are a configuration error, not missing exports.
@Suite struct AccountWideNotFoundTests {
    let t0 = Date(timeIntervalSince1970: 1_780_000_000)

    func decide(elsewhere: Int, notFoundSoFar: Int = 0) -> PollPolicy.Decision {
        var rng = SeededRNG(state: 5)
        let token = WatchedToken(id: 3, clientID: "ACME_Co", accessToken: 33, consecutiveNotFound: notFoundSoFar)
        return PollPolicy(configuration: PollingConfiguration()).decide(
            token: token, result: PollResult(outcome: .notFound, httpStatus: 404, latency: .milliseconds(3)),
            polledAt: t0, now: t0, hostKey: "https://pm.example:443", accountNotFoundElsewhere: elsewhere, using: &rng)
    }

    @Test func aThirdTokenAnswering404PausesTheAccountInsteadOfFailingTokens() {
        let d = decide(elsewhere: 2, notFoundSoFar: 2)
        #expect(d.write.newState == .watching, "not failed, although this token reached not_found_limit")
        #expect(d.write.consecutiveNotFound == 2)
        #expect(d.pause?.scope == .account && d.pause?.subject == "ACME_Co" && d.pause?.httpStatus == 404)
        #expect(d.nextDelay.map { $0 >= .seconds(900) } == true)
        #expect(d.write.lastError?.contains("check its base_url and status_path") == true)
        #expect(d.write.lastError?.contains("mprefd resume --account ACME_Co") == true)
    }

    @Test func aLone404IsAMissingExportAsBefore() {
        let first = decide(elsewhere: 1)
        #expect(first.pause == nil && first.write.consecutiveNotFound == 1)
        let last = decide(elsewhere: 0, notFoundSoFar: 2)
        #expect(last.write.newState == .failed && last.pause == nil)
    }
}
