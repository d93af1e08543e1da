import Foundation
import MprefCore
import MyPreferences
import Testing
@testable import MprefWorker

/// The pure rules of `mprefd export`: where a window starts, and what each initiate outcome means.
@Suite struct ExportDecisionTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    @Test func theWindowStartsAtTheCursorMinusTheOverlapOrAtSinceOrNowhere() throws {
        let cursor = now.addingTimeInterval(-3600)
        let since = now.addingTimeInterval(-86_400)
        let fromCursor = try ExportWindow.start(
            since: since, incremental: true, overlap: .seconds(300), cursor: cursor, now: now)
        #expect(fromCursor == .init(start: cursor.addingTimeInterval(-300), fromCursor: true))
        // --incremental without a cursor: --since, else a full export.
        #expect(
            try ExportWindow.start(since: since, incremental: true, overlap: .seconds(300), cursor: nil, now: now)
                == .init(start: since, fromCursor: false))
        #expect(
            try ExportWindow.start(since: nil, incremental: true, overlap: .zero, cursor: nil, now: now)
                == .init(start: nil, fromCursor: false))
        // Without --incremental the cursor is not read.
        #expect(
            try ExportWindow.start(since: nil, incremental: false, overlap: .zero, cursor: cursor, now: now)
                == .init(start: nil, fromCursor: false))
        #expect(
            try ExportWindow.start(since: since, incremental: false, overlap: .zero, cursor: cursor, now: now).start
                == since)
        // An absurd overlap saturates instead of trapping.
        let huge = try ExportWindow.start(
            since: nil, incremental: true, overlap: .seconds(Int64.max), cursor: cursor, now: now)
        #expect(try #require(huge.start) < cursor)
        #expect(throws: ExportWindow.Problem.self) {
            try ExportWindow.start(
                since: now.addingTimeInterval(60), incremental: false, overlap: .zero, cursor: nil, now: now)
        }
    }

    func result(_ outcome: InitiateResult.Outcome, _ status: Int?) -> InitiateResult {
        InitiateResult(outcome: outcome, httpStatus: status, latency: .milliseconds(5))
    }

    @Test func onlyAnswersThatProveNothingStartedAreSentAgain() {
        let policy = InitiatePolicy(maxAttempts: 3, initialDelay: .seconds(1), maxDelay: .seconds(60))
        var rng = SystemRandomNumberGenerator()
        #expect(
            policy.decide(result(.ok(InitiatedExport(accessToken: 7)), 200), attempt: 1, using: &rng)
                == .started(accessToken: 7))
        // 503 with Retry-After: that long; without: jittered backoff within the ceiling.
        guard
            case .retry(let after, _) = policy.decide(
                result(.unavailable(retryAfter: .seconds(4)), 503), attempt: 1, using: &rng)
        else {
            Issue.record("503 not retried"); return
        }
        #expect(after == .seconds(4))
        guard
            case .retry(let backoff, _) = policy.decide(
                result(.transportError(.connect, detail: "connection refused"), nil), attempt: 2, using: &rng)
        else {
            Issue.record("a refused connection not retried"); return
        }
        #expect(backoff >= .milliseconds(100) && backoff <= .seconds(2))
        // The last attempt, or a Retry-After beyond the longest wait, gives up: nothing started.
        #expect(kind(policy.decide(result(.unavailable(retryAfter: nil), 503), attempt: 3, using: &rng)) == "refused")
        #expect(
            kind(policy.decide(result(.unavailable(retryAfter: .seconds(3600)), 503), attempt: 1, using: &rng))
                == "refused")
    }

    @Test func refusalsAndUnknownOutcomes() {
        let policy = InitiatePolicy()
        var rng = SystemRandomNumberGenerator()
        let table: [(InitiateResult, String)] = [
            (result(.badRequest(detail: "Segment 'X' was not found"), 400), "refused badRequest"),
            (result(.notFound, 404), "refused notFound"),
            (result(.unauthorized, 401), "refused credentials"),
            (result(.forbidden, 403), "refused credentials"),
            (result(.unexpectedStatus, 302), "refused badRequest"),
            (result(.unexpectedStatus, 409), "refused badRequest"),
            (result(.transportError(.tls, detail: "bad certificate"), nil), "refused unavailable"),
            (result(.serverError, 500), "unknown"),
            (result(.transportError(.timeout, detail: "deadline"), nil), "unknown"),
            (result(.transportError(.reset, detail: "reset"), nil), "unknown"),
            (result(.transportError(.other, detail: "?"), nil), "unknown"),
            (result(.undecodable(reason: "no AccessToken", excerpt: "{}"), 200), "unknown"),
            (result(.unexpectedStatus, 101), "unknown"),
        ]
        for (input, expected) in table {
            #expect(describe(policy.decide(input, attempt: 1, using: &rng)) == expected, "\(input.outcome)")
        }
    }

    func kind(_ decision: InitiatePolicy.Decision) -> String {
        switch decision {
        case .started: "started"
        case .retry: "retry"
        case .refused: "refused"
        case .unknown: "unknown"
        }
    }

    func describe(_ decision: InitiatePolicy.Decision) -> String {
        if case .refused(let refusal, _) = decision { return "refused \(refusal)" }
        return kind(decision)
    }
}

extension InitiateResult {
    typealias Outcome = RequestOutcome<InitiatedExport>
}
