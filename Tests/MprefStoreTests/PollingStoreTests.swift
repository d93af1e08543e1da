import Foundation
import MprefCore
import GRDB
import MprefTestSupport
import Testing
@testable import MprefStore

@Suite struct PollingStoreTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func write(_ token: TokenRecord, state: TokenState, status: String?, at: Date, rows: Int64? = nil) -> PollWrite {
        PollWrite(
            tokenID: token.id, polledAt: at, httpStatus: 200, status: status, rowCount: rows,
            byteCount: rows.map { $0 * 100 },
            latencyMs: 5, retryAfterS: nil, nextDelayS: state == .watching ? 10 : nil, outcome: .ok, error: nil,
            newState: state, nextPollAt: state == .watching ? at.addingTimeInterval(10) : nil, attempt: 1,
            consecutiveErrors: 0, consecutiveNotFound: 0, lastError: nil)
    }

    @Test func aTerminalPollQueuesGlobalAndTokenHooksInTheSameTransaction() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let added = try AdminStore(db).addTokens(
            [
                NewToken(
                    clientID: "ACME_Co", accessToken: 1, hooks: [TokenHook(onEvent: "complete", command: "echo mine")]),
                NewToken(
                    clientID: "ACME_Co", accessToken: 2, hooks: [TokenHook(onEvent: "complete", command: "echo only")],
                    globalHooks: false),
            ], reset: false, now: now)
        let a = added[0].token, b = added[1].token
        let summary = try await DaemonStore(db).recordPolls(
            [
                write(a, state: .complete, status: "Complete", at: now, rows: 7),
                write(b, state: .complete, status: "Complete", at: now, rows: 8),
            ], hooks: planner([.complete: ["echo global"], .failure: ["echo failed"]]))
        #expect(summary.hookRunsCreated == 3)
        let runs = try AdminStore(db).listHookRuns().sorted { $0.id < $1.id }
        #expect(runs.map(\.command) == ["echo global", "echo mine", "echo only"])
        #expect(runs[0].eventID == runs[1].eventID)
        #expect(runs[0].eventID != runs[2].eventID)
        #expect(runs.allSatisfy { $0.state == .pending && $0.event == .complete && $0.attempt == 0 })
        let token = try #require(try AdminStore(db).findTokens(accessToken: 1, clientID: "ACME_Co").first)
        #expect(token.state == .complete)
        #expect(token.finishedAt == Timestamp.format(now))
        #expect(token.rowCount == 7 && token.byteCount == 700)
        #expect(token.nextPollAt == nil)
    }

    @Test func aPollOfATokenPausedMeanwhileIsKeptButDoesNotOverrideThePause() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 9)], reset: false, now: now)[0].token
        _ = try AdminStore(db).changeState(.pause, tokenIDs: [token.id])
        let summary = try await DaemonStore(db).recordPolls(
            [write(token, state: .complete, status: "Complete", at: now)], hooks: planner([.complete: ["true"]]))
        #expect(summary.notWatchingAnyMore == [token.id])
        #expect(summary.hookRunsCreated == 0)
        #expect(try AdminStore(db).polls(tokenID: token.id, limit: 10).count == 1)
        #expect(try AdminStore(db).findTokens(accessToken: 9, clientID: nil).first?.state == .paused)
    }

    @Test func pollsAreAppendOnly() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 3)], reset: false, now: now)[0].token
        _ = try await DaemonStore(db).recordPolls(
            [write(token, state: .watching, status: "Processing", at: now)], hooks: planner([:]))
        #expect(throws: (any Error).self) {
            try db.write { db in try db.execute(sql: "UPDATE polls SET status = 'x'") }
        }
    }

    @Test func adminChangesAreSeenByTheirSequenceNumber() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let start = try await DaemonStore(db).currentAdminSeq()
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 5)], reset: false, now: now)[0].token
        let first = try await DaemonStore(db).adminChanges(since: start)
        #expect(first.tokens.map(\.tokenID) == [token.id])
        #expect(first.tokens.first?.watched?.accessToken == 5)
        let none = try await DaemonStore(db).adminChanges(since: first.seq)
        #expect(none.isEmpty && none.seq == first.seq)
        _ = try AdminStore(db).changeState(.remove, tokenIDs: [token.id])
        let removed = try await DaemonStore(db).adminChanges(since: none.seq)
        #expect(removed.tokens.first?.state == .removed)
        #expect(removed.tokens.first?.watched == nil)
    }

    @Test func liftingAPauseDeletesItAndIsSeenAsAnAdminChange() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 6)], reset: false, now: now)[0].token
        let account = PauseRecord(
            scope: .account, subject: "ACME_Co", pausedUntil: now.addingTimeInterval(900), startedAt: now,
            reason: "401 Unauthorized", httpStatus: 401, retryAfterS: nil)
        let host = PauseRecord(
            scope: .host, subject: "https://api.example.com:443", pausedUntil: now.addingTimeInterval(30),
            startedAt: now,
            reason: "503", httpStatus: 503, retryAfterS: 30)
        _ = try await DaemonStore(db).recordPolls(
            [write(token, state: .watching, status: nil, at: now)], pauses: [account, host], hooks: planner([:]))
        let seq = try await DaemonStore(db).currentAdminSeq()

        // An unknown subject and a pause that has already ended change nothing.
        let later = now.addingTimeInterval(60)
        let missed = try AdminStore(db).liftPauses(
            [(scope: .account, subject: "OTHER_Co"), (scope: .host, subject: host.subject)], now: later)
        #expect(missed.lifted.isEmpty)
        #expect(missed.remaining == [account])
        #expect(try await DaemonStore(db).adminChanges(since: seq).isEmpty)

        let lifted = try AdminStore(db).liftPauses(
            [(scope: .account, subject: "ACME_Co"), (scope: .account, subject: "ACME_Co")], now: later)
        #expect(lifted.lifted == [account])
        #expect(lifted.remaining.isEmpty)
        #expect(try await DaemonStore(db).pausesInForce(now: later).isEmpty)
        let changes = try await DaemonStore(db).adminChanges(since: seq)
        #expect(changes.tokens.isEmpty)
        #expect(changes.pauseLifts == [PauseLift(scope: .account, subject: "ACME_Co", liftedAt: later)])
        #expect(changes.seq > seq)
        #expect(try await DaemonStore(db).adminChanges(since: changes.seq).isEmpty)
    }

    @Test func hookRunsAreClaimedOnceAndRequeuedAfterACrash() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 11, label: "daily")], reset: false, now: now)[0].token
        _ = try await DaemonStore(db).recordPolls(
            [write(token, state: .complete, status: "Complete", at: now, rows: 1)],
            hooks: planner([.complete: ["true"]]))
        let jobs = try await DaemonStore(db).claimDueHookRuns(now: now.addingTimeInterval(1), limit: 4)
        #expect(jobs.count == 1)
        #expect(jobs[0].attempt == 1 && jobs[0].label == "daily" && jobs[0].status == "Complete")
        #expect(try await DaemonStore(db).claimDueHookRuns(now: now.addingTimeInterval(2), limit: 4).isEmpty)
        #expect(try await DaemonStore(db).requeueInterruptedHookRuns(now: now.addingTimeInterval(3)) == 1)
        let again = try await DaemonStore(db).claimDueHookRuns(now: now.addingTimeInterval(4), limit: 4)
        #expect(again.map(\.eventID) == jobs.map(\.eventID))
        #expect(again[0].attempt == 2)
    }

    /// Shutdown cancels the task running a hook, and the interrupted run's result must still be
    /// stored; GRDB's async writes refuse to start in a cancelled task.
    @Test func aHookRunsResultIsStoredFromACancelledTask() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let token = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 12)], reset: false, now: now)[0].token
        _ = try await DaemonStore(db).recordPolls(
            [write(token, state: .complete, status: "Complete", at: now, rows: 1)],
            hooks: planner([.complete: ["true"]]))
        let jobs = try await DaemonStore(db).claimDueHookRuns(now: now.addingTimeInterval(1), limit: 4)
        #expect(jobs.count == 1)
        let outcome = HookRunOutcome(
            state: .pending, finishedAt: Timestamp.format(now.addingTimeInterval(2)), exitCode: nil, signal: 15,
            stdoutTail: "", stderrTail: "", nextAttemptAt: Timestamp.format(now.addingTimeInterval(2)),
            error: "interrupted")
        let store = DaemonStore(db)
        let runID = jobs[0].runID
        let finishing = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            #expect(Task.isCancelled)
            try await store.finishHookRun(id: runID, outcome)
        }
        try await finishing.value
        let runs = try AdminStore(db).listHookRuns()
        #expect(runs.map(\.state) == [.pending])
        #expect(runs.first?.error == "interrupted")
    }

    @Test func addingIsIdempotentAndResetReArms() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let first = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 77, label: "a")], reset: false, now: now)
        guard case .added = first[0] else { Issue.record("expected added"); return }
        let second = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 77, label: "b")], reset: false, now: now)
        guard case .alreadyWatched(let same) = second[0] else { Issue.record("expected alreadyWatched"); return }
        #expect(same.label == "a")
        try db.write { db in
            try db.execute(
                sql: "UPDATE tokens SET state = 'complete', finished_at = '2026-01-01T00:00:00.000Z', attempt = 9")
        }
        guard
            case .alreadyFinished = try AdminStore(db).addTokens(
                [NewToken(clientID: "ACME_Co", accessToken: 77)], reset: false, now: now)[0]
        else {
            Issue.record("expected alreadyFinished"); return
        }
        guard
            case .reArmed(let rearmed) = try AdminStore(db).addTokens(
                [NewToken(clientID: "ACME_Co", accessToken: 77)], reset: true, now: now)[0]
        else {
            Issue.record("expected reArmed"); return
        }
        #expect(rearmed.state == .watching && rearmed.attempt == 0 && rearmed.finishedAt == nil && rearmed.label == "a")
    }
}

/// Issue 17.2: the stored pause is the pause in force — the longest — whatever order answers commit in.
@Suite struct StoredPauseTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    func pause(_ seconds: Double) -> PauseRecord {
        PauseRecord(
            scope: .host, subject: "https://pm.example:443", pausedUntil: now.addingTimeInterval(seconds),
            startedAt: now,
            reason: "503 (Retry-After \(Int(seconds)) s)", httpStatus: 503, retryAfterS: seconds)
    }

    @Test func aShorterPauseNeverOverwritesALongerOne() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        _ = try await DaemonStore(db).recordPolls([], pauses: [pause(2), pause(30), pause(5)], hooks: planner([:]))
        var stored = try await AdminStore(db).pausesInForce(now: now)
        #expect(stored.count == 1)
        #expect(stored.first?.pausedUntil == now.addingTimeInterval(30))
        #expect(stored.first?.retryAfterS == 30)
        _ = try await DaemonStore(db).recordPolls([], pauses: [pause(5)], hooks: planner([:]))
        stored = try await AdminStore(db).pausesInForce(now: now)
        #expect(stored.first?.pausedUntil == now.addingTimeInterval(30), "a later, shorter 503 keeps the longer pause")
        _ = try await DaemonStore(db).recordPolls([], pauses: [pause(60)], hooks: planner([:]))
        #expect(try await AdminStore(db).pausesInForce(now: now).first?.pausedUntil == now.addingTimeInterval(60))
    }
}

/// A stand-in for the worker's `HookSelection` (this target does not see the worker): global
/// commands of the event's trigger unless `--no-global-hooks`, then the token's own.
func planner(_ global: [HookTrigger: [String]]) -> HookPlanner {
    { event, settings in
        let commands = (settings.globalHooks ? global[event.trigger] ?? [] : []) + (settings.own[event.trigger] ?? [])
        return commands.isEmpty
            ? nil : HookPlan(eventID: UUID().uuidString.lowercased(), event: event, commands: commands)
    }
}
