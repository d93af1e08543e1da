import Foundation
import GRDB
import MprefCore
import MprefTestSupport
import Testing
@testable import MprefStore

/// `exports` and `cursors` (migration 0009): the durable initiate record, the token linked in the
/// answer's transaction, and the cursor the trigger moves only when an export's data is delivered.
@Suite struct ExportStoreTests {
    let start = Date(timeIntervalSince1970: 1_780_000_000)

    func newExport(
        _ segment: String = "Newsletter", clientID: ClientID = "ACME_Co", windowStart: Date? = nil,
        hooks: [TokenHook] = []
    ) throws -> NewExport {
        NewExport(
            clientID: clientID, segment: try #require(SegmentName(segment)), label: "nightly",
            incremental: windowStart != nil,
            windowStart: windowStart, lastDateTime: windowStart.map(Timestamp.format), requestBody: "{}",
            deadlineSeconds: nil,
            download: nil, globalHooks: true, hooks: hooks)
    }

    /// Starts an export of `segment` at `at` and returns (export id, token row id).
    func started(
        _ db: TokenDatabase, _ segment: String = "Newsletter", clientID: ClientID = "ACME_Co", token: Int64, at: Date,
        windowStart: Date? = nil
    ) throws -> (Int64, TokenID) {
        guard
            case .recorded(let export) = try AdminStore(db).beginExport(
                try newExport(segment, clientID: clientID, windowStart: windowStart), at: at)
        else {
            throw StoreError(.notFound, "not recorded")
        }
        let result = try AdminStore(db).exportStarted(
            id: export.id, token: NewToken(clientID: clientID, accessToken: AccessToken(token)), httpStatus: 200, at: at
        )
        return (export.id, result.token.id)
    }

    func finish(_ db: TokenDatabase, tokenID: TokenID, as state: TokenState, at: Date) async throws {
        _ = try await DaemonStore(db).recordPolls(
            [
                PollWrite(
                    tokenID: tokenID, polledAt: at, httpStatus: 200, status: state == .complete ? "Complete" : "Error",
                    rowCount: 5, byteCount: 500,
                    latencyMs: 3, retryAfterS: nil, nextDelayS: nil, outcome: .ok, error: nil, newState: state,
                    nextPollAt: nil, attempt: 1,
                    consecutiveErrors: 0, consecutiveNotFound: 0, lastError: nil)
            ], hooks: planner([:]))
    }

    @Test func anExportIsRecordedBeforeItsRequestAndLinkedToItsTokenInTheAnswersTransaction() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let hooks = [TokenHook(onEvent: "complete", command: "load \"$MPREFD_FILE\"")]
        guard case .recorded(let export) = try AdminStore(db).beginExport(try newExport(hooks: hooks), at: start) else {
            Issue.record("not recorded"); return
        }
        #expect(export.state == .sending)
        #expect(export.attempts == 1)
        #expect(export.windowEnd == Timestamp.format(start))
        #expect(try AdminStore(db).unsettledExports().map(\.id) == [export.id])
        // A second export of the same segment is refused while the first may have started…
        guard case .unsettled(let other) = try AdminStore(db).beginExport(try newExport(), at: start) else {
            Issue.record("a second unsettled export was recorded"); return
        }
        #expect(other.id == export.id)
        // …but another segment, or the same segment of another client ID, is not held back.
        guard case .recorded = try AdminStore(db).beginExport(try newExport("Contacts"), at: start),
            case .recorded = try AdminStore(db).beginExport(try newExport(clientID: "Other_Co"), at: start)
        else {
            Issue.record("an unrelated export was held back"); return
        }
        // A retry after a 503 moves the window's end and counts the attempt.
        try AdminStore(db).recordExportAttempt(id: export.id, at: start.addingTimeInterval(2))
        let result = try AdminStore(db).exportStarted(
            id: export.id, token: NewToken(clientID: "ACME_Co", accessToken: 4711, label: "nightly", hooks: hooks),
            httpStatus: 200, at: start.addingTimeInterval(3))
        guard case .added(let token) = result else { Issue.record("token not added: \(result)"); return }
        let stored = try AdminStore(db).export(id: export.id)
        #expect(stored.state == .started)
        #expect(stored.attempts == 2)
        #expect(stored.windowEnd == Timestamp.format(start.addingTimeInterval(2)))
        #expect(stored.tokenID == token.id && stored.accessToken == 4711)
        #expect(stored.hooks == hooks)
        #expect(try AdminStore(db).tokenHooks(tokenID: token.id) == hooks)
        #expect(try AdminStore(db).export(tokenID: token.id)?.id == export.id)
        // Settled: the segment can be exported again, and this one cannot be settled twice.
        guard case .recorded = try AdminStore(db).beginExport(try newExport(), at: start) else {
            Issue.record("still held back"); return
        }
        #expect(throws: StoreError.self) { _ = try AdminStore(db).abandonExport(id: export.id, at: start) }
    }

    @Test func unknownAndRefusedOutcomesAreKeptWithTheirReason() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        guard case .recorded(let lost) = try AdminStore(db).beginExport(try newExport(), at: start),
            case .recorded(let refused) = try AdminStore(db).beginExport(try newExport("Contacts"), at: start)
        else {
            Issue.record("not recorded"); return
        }
        try AdminStore(db).settleExport(
            id: lost.id, refused: false, httpStatus: nil, error: "the answer was lost (timeout)", at: start)
        try AdminStore(db).settleExport(
            id: refused.id, refused: true, httpStatus: 400, error: "400 Bad Request: no such segment", at: start)
        #expect(try AdminStore(db).export(id: lost.id).state == .unknown)
        #expect(try AdminStore(db).export(id: lost.id).error == "the answer was lost (timeout)")
        #expect(try AdminStore(db).export(id: refused.id).state == .refused)
        #expect(try AdminStore(db).export(id: refused.id).httpStatus == 400)
        // Only the unknown one holds its segment back, until resolved or abandoned.
        #expect(try AdminStore(db).unsettledExports().map(\.id) == [lost.id])
        let abandoned = try AdminStore(db).abandonExport(id: lost.id, at: start.addingTimeInterval(60))
        #expect(abandoned.state == .abandoned)
        #expect(abandoned.settledAt == Timestamp.format(start.addingTimeInterval(60)))
        #expect(try AdminStore(db).unsettledExports().isEmpty)
    }

    @Test func resolvingLinksTheTokenTheOperatorFoundAndRefusesOneOwnedByAnotherExport() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let (_, _) = try started(db, "Contacts", token: 10, at: start)
        guard case .recorded(let lost) = try AdminStore(db).beginExport(try newExport(), at: start) else {
            Issue.record("not recorded"); return
        }
        try AdminStore(db).settleExport(id: lost.id, refused: false, httpStatus: 500, error: "500", at: start)
        // Token 10 is export 1's: resolving export 2 to it would merge two windows.
        #expect(throws: StoreError.self) {
            _ = try AdminStore(db).exportStarted(
                id: lost.id, token: NewToken(clientID: "ACME_Co", accessToken: 10), httpStatus: nil, at: start,
                settled: true)
        }
        #expect(try AdminStore(db).export(id: lost.id).state == .unknown)
        let result = try AdminStore(db).exportStarted(
            id: lost.id, token: NewToken(clientID: "ACME_Co", accessToken: 11), httpStatus: nil, at: start,
            settled: true)
        #expect(result.token.accessToken == 11)
        #expect(try AdminStore(db).export(id: lost.id).state == .started)
        #expect(try AdminStore(db).export(id: lost.id).settledAt != nil)
    }

    @Test func theCursorMovesOnlyWhenDataIsDeliveredAndOnlyForward() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let segment = try #require(SegmentName("Newsletter"))
        let (first, firstToken) = try started(db, token: 1, at: start)
        let (_, secondToken) = try started(db, token: 2, at: start.addingTimeInterval(3600), windowStart: start)
        let (_, failedToken) = try started(db, token: 3, at: start.addingTimeInterval(7200), windowStart: start)
        #expect(try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment) == nil)

        // A failed export leaves no cursor (the next run covers its window again).
        try await finish(db, tokenID: failedToken, as: .failed, at: start.addingTimeInterval(7300))
        #expect(try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment) == nil)
        // The second (newer) delivers first: the cursor is its window's end…
        try await finish(db, tokenID: secondToken, as: .complete, at: start.addingTimeInterval(7400))
        let cursor = try #require(try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment))
        #expect(cursor.position == Timestamp.format(start.addingTimeInterval(3600)))
        #expect(cursor.setBy == .delivery)
        // …and the older one delivering later does not move it back.
        try await finish(db, tokenID: firstToken, as: .complete, at: start.addingTimeInterval(7500))
        #expect(
            try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment)?.position
                == Timestamp.format(start.addingTimeInterval(3600)))
        #expect(first > 0)
        // Tokens added by hand (add-token) belong to no export and move nothing.
        let manual = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 99)], reset: false, now: start)[0]
            .token
        try await finish(db, tokenID: manual.id, as: .complete, at: start.addingTimeInterval(9000))
        #expect(try AdminStore(db).cursors().count == 1)
    }

    @Test func segmentsAndClientIDsKeepTheirOwnCursors() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let (_, a) = try started(db, "Newsletter", clientID: "ACME_Co", token: 1, at: start)
        let (_, b) = try started(db, "Contacts", clientID: "ACME_Co", token: 2, at: start.addingTimeInterval(10))
        let (_, c) = try started(db, "Newsletter", clientID: "Other_Co", token: 1, at: start.addingTimeInterval(20))
        for token in [a, b, c] {
            try await finish(db, tokenID: token, as: .complete, at: start.addingTimeInterval(100))
        }
        let cursors = try AdminStore(db).cursors()
        #expect(
            cursors.map { "\($0.clientID)/\($0.segment)@\($0.position)" } == [
                "ACME_Co/Contacts@\(Timestamp.format(start.addingTimeInterval(10)))",
                "ACME_Co/Newsletter@\(Timestamp.format(start))",
                "Other_Co/Newsletter@\(Timestamp.format(start.addingTimeInterval(20)))",
            ])
        #expect(try AdminStore(db).cursors(clientID: "Other_Co").count == 1)
    }

    @Test func aResetHoldsUntilAnExportSentAfterItDelivers() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let segment = try #require(SegmentName("Newsletter"))
        let (_, delivered) = try started(db, token: 1, at: start)
        try await finish(db, tokenID: delivered, as: .complete, at: start.addingTimeInterval(60))
        // An export in flight when the operator resets…
        let (_, inFlight) = try started(db, token: 2, at: start.addingTimeInterval(120), windowStart: start)
        let resetAt = start.addingTimeInterval(180)
        #expect(
            try AdminStore(db).resetCursor(
                clientID: "ACME_Co", segment: segment, to: start.addingTimeInterval(-86_400), at: resetAt))
        // …does not undo the reset when it delivers.
        try await finish(db, tokenID: inFlight, as: .complete, at: start.addingTimeInterval(240))
        let held = try #require(try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment))
        #expect(held.position == Timestamp.format(start.addingTimeInterval(-86_400)))
        #expect(held.setBy == .reset)
        // One sent after the reset moves it on.
        let (_, after) = try started(
            db, token: 3, at: start.addingTimeInterval(300), windowStart: start.addingTimeInterval(-86_400))
        try await finish(db, tokenID: after, as: .complete, at: start.addingTimeInterval(360))
        #expect(
            try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment)?.position
                == Timestamp.format(start.addingTimeInterval(300)))
        // Removing the cursor makes the next incremental export a full one.
        #expect(try AdminStore(db).resetCursor(clientID: "ACME_Co", segment: segment, to: nil, at: resetAt))
        #expect(try AdminStore(db).cursor(clientID: "ACME_Co", segment: segment) == nil)
        #expect(try !AdminStore(db).resetCursor(clientID: "ACME_Co", segment: segment, to: nil, at: resetAt))
    }

    @Test func theSegmentViewsReportWindowsDeliveriesAndGaps() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let (_, full) = try started(db, token: 1, at: start)
        try await finish(db, tokenID: full, as: .complete, at: start.addingTimeInterval(900))
        // The next window starts an hour after the first ended: a gap of 3600 s.
        let (_, later) = try started(
            db, token: 2, at: start.addingTimeInterval(7200), windowStart: start.addingTimeInterval(3600))
        try await finish(db, tokenID: later, as: .complete, at: start.addingTimeInterval(7800))
        let (_, failed) = try started(
            db, token: 3, at: start.addingTimeInterval(9000), windowStart: start.addingTimeInterval(7200))
        try await finish(db, tokenID: failed, as: .failed, at: start.addingTimeInterval(9100))
        let queue = try DatabaseQueue(path: dir.databasePath)
        try await queue.read { db in
            let summary = try #require(try Row.fetchOne(db, sql: "SELECT * FROM segment_summary"))
            #expect(summary["exports"] as Int64 == 3)
            #expect(summary["delivered"] as Int64 == 2)
            #expect(summary["not_delivered"] as Int64 == 1)
            #expect(
                summary["in_progress"] as Int64 == 0 && summary["refused"] as Int64 == 0
                    && summary["abandoned"] as Int64 == 0)
            #expect(summary["unsettled"] as Int64 == 0)
            #expect(summary["last_delivered_start"] as String? == Timestamp.format(start.addingTimeInterval(3600)))
            #expect(summary["last_delivered_end"] as String? == Timestamp.format(start.addingTimeInterval(7200)))
            #expect(summary["mean_duration_s"] as Double? == 750)
            #expect(summary["rows_delivered"] as Int64? == 10)
            #expect(summary["cursor"] as String? == Timestamp.format(start.addingTimeInterval(7200)))
            let gaps = try Row.fetchAll(db, sql: "SELECT gap_start, gap_end, gap_s FROM segment_gaps")
            #expect(gaps.count == 1)
            #expect(gaps.first?["gap_s"] as Double? == 3600)
            let daily = try Row.fetchAll(db, sql: "SELECT delivered, rows FROM segment_daily")
            #expect(daily.map { $0["delivered"] as Int64 }.reduce(0, +) == 2)
        }
    }

    /// A segment's past durations: added → the middle of the last poll before the first Complete and that poll.
    @Test func segmentDurationsComeFromTheHistoryOfTheSegmentsTokens() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let segment = try #require(SegmentName("Newsletter"))
        func poll(_ token: TokenID, _ status: String?, at seconds: Double, state: TokenState = .watching) -> PollWrite {
            PollWrite(
                tokenID: token, polledAt: start.addingTimeInterval(seconds), httpStatus: status == nil ? 503 : 200,
                status: status, rowCount: nil,
                byteCount: nil, latencyMs: 1, retryAfterS: nil, nextDelayS: nil,
                outcome: status == nil ? .unavailable : .ok, error: nil,
                newState: state, nextPollAt: state == .watching ? start : nil, attempt: 1, consecutiveErrors: 0,
                consecutiveNotFound: 0, lastError: nil)
        }
        let added = try AdminStore(db).addTokens(
            [
                NewToken(clientID: "ACME_Co", accessToken: 1, segment: segment),
                NewToken(clientID: "ACME_Co", accessToken: 2, segment: segment),
                NewToken(clientID: "ACME_Co", accessToken: 3, segment: try #require(SegmentName("Contacts"))),
                NewToken(clientID: "ACME_Co", accessToken: 4, segment: segment),
            ], reset: false, now: start
        ).map(\.token.id)
        // Token 1: Processing at 100 s and 200 s, a 503 at 250 s (no status), Complete at 300 s → 250 s.
        _ = try await DaemonStore(db).recordPolls(
            [
                poll(added[0], "Processing", at: 100), poll(added[0], "Processing", at: 200),
                poll(added[0], nil, at: 250),
                poll(added[0], "Complete", at: 300, state: .complete),
            ], hooks: planner([:]))
        // Token 2: Complete at the first poll, 60 s after it was added → 30 s.
        _ = try await DaemonStore(db).recordPolls(
            [poll(added[1], "complete", at: 60, state: .complete)], hooks: planner([:]))
        // Token 3 is another segment; token 4 is still processing.
        _ = try await DaemonStore(db).recordPolls(
            [poll(added[2], "Complete", at: 10, state: .complete), poll(added[3], "Processing", at: 10)],
            hooks: planner([:]))
        let durations = try await DaemonStore(db).segmentDurations(clientID: "ACME_Co", segment: segment)
        #expect(durations.map { ($0 * 1000).rounded() / 1000 } == [30, 250])
        #expect(
            try await DaemonStore(db).segmentDurations(clientID: "ACME_Co", segment: segment, excluding: added[1]).count
                == 1)
        #expect(try await DaemonStore(db).segmentDurations(clientID: "Other_Co", segment: segment).isEmpty)
    }
}
