import MprefCore
import Foundation
import GRDB
import MprefTestSupport
import Testing
@testable import MprefStore

/// A `tokens` row edited by hand (sqlite3) into something the daemon cannot use is reported as data
/// to repair — which token, which column, the value — never a trap, and the other rows load.
@Suite struct TokenRowDefectTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    /// `column = value` written with sqlite3-like raw SQL (CHECKs off, as `PRAGMA ignore_check_constraints` allows).
    static let edits: [(column: String, sql: String, usable: Bool)] = [
        ("attempt", "9223372036854775807", true),
        ("consecutive_errors", "9223372036854775807", true),
        ("consecutive_not_found", "9223372036854775807", true),
        ("deadline_at", "'9999-12-31T23:59:59.999Z'", true),
        ("next_poll_at", "'0000-01-01T00:00:00.000Z'", true),
        ("next_poll_at", "NULL", true),
        ("attempt", "-1", false),
        ("consecutive_errors", "-9223372036854775808", false),
        ("consecutive_not_found", "-5", false),
        ("next_poll_at", "'not a time'", false),
        ("next_poll_at", "''", false),
        ("next_poll_at", "'2026-13-01T00:00:00.000Z'", false),
        ("deadline_at", "'10000-01-01T00:00:00.000Z'", false),
        ("deadline_at", "'2026-01-01T00:00:00.000Z' || char(10) || 'x'", false),
        ("access_token", "-7", false),
        ("client_id", "''", false),
        ("client_id", "printf('%.200c', 'x')", false),
        // Within the schema's length CHECK, but not a client ID (it would name a directory path).
        ("client_id", "'a/b'", false),
    ]

    @Test(arguments: edits)
    func anEditedRowIsReportedOrUsedNeverATrap(column: String, sql: String, usable: Bool) async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let added = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 1), NewToken(clientID: "ACME_Co", accessToken: 2)],
            reset: false, now: now)
        let edited = added[0].token.id
        try db.write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(sql: "UPDATE tokens SET \(column) = \(sql) WHERE id = \(edited)")
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        }
        let loaded = try await DaemonStore(db).loadWatchingTokens()
        #expect(loaded.tokens.contains { $0.id == added[1].token.id }, "the other token still loads")
        let defect = try AdminStore(db).rowDefect(tokenID: edited)
        #expect(try ReportStore(db).unusableWatchingRows() == (defect.map { [$0] } ?? []))
        if usable {
            #expect(defect == nil)
            #expect(loaded.tokens.contains { $0.id == edited })
        } else {
            let found = try #require(defect)
            #expect(found.column == column)
            #expect(found.tokenID == edited)
            #expect(!found.value.contains("\n"), "the value is printable on one line: \(found.value)")
            #expect(found.repair.contains("mprefd pause") && found.repair.contains("WHERE id = \(edited)"))
            #expect(loaded.defects == [found])
            #expect(!loaded.tokens.contains { $0.id == edited })
        }
    }

    @Test func anAdminChangeReportsTheDefectInsteadOfATokenToWatch() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let added = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 9)], reset: false, now: now)
        let seq = try await DaemonStore(db).currentAdminSeq()
        try db.write { db in try db.execute(sql: "UPDATE tokens SET deadline_at = 'soon', admin_seq = admin_seq + 100")
        }
        let changes = try await DaemonStore(db).adminChanges(since: seq)
        let change = try #require(changes.tokens.first { $0.tokenID == added[0].token.id })
        #expect(change.watched == nil)
        #expect(change.defect?.column == "deadline_at")
        #expect(change.defect?.value == "'soon'")
    }

    @Test func aHookRunWithAnExtremeAttemptIsClaimedWithASaturatedNumber() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let added = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 3)], reset: false, now: now)
        try db.write { db in
            try db.execute(
                sql: """
                    INSERT INTO hook_runs (event_id, token_id, event, command, attempt, state, created_at, next_attempt_at)
                    VALUES ('e1', ?, 'complete', 'true', 9223372036854775807, 'pending', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')
                    """, arguments: [added[0].token.id])
        }
        let jobs = try await DaemonStore(db).claimDueHookRuns(now: now, limit: 10)
        #expect(jobs.map(\.attempt) == [Int.max])
    }

    @Test func theLoadedSQLiteLibraryIsNewEnoughAndAnOldOneIsRefusedWithOneLine() throws {
        try SQLiteLibrary.requireSupported()
        #expect(SQLiteLibrary.versionNumber >= SQLiteLibrary.minimumVersionNumber)
        #expect(throws: StoreError.self) {
            try SQLiteLibrary.requireSupported(versionNumber: 3_034_001, version: "3.34.1")
        }
        do {
            try SQLiteLibrary.requireSupported(versionNumber: 3_034_001, version: "3.34.1")
        } catch let error as StoreError {
            #expect(error.code == .sqliteTooOld)
            #expect(
                error.message.contains("SQLite") && error.message.contains("3.34.1") && error.message.contains("3.37.0")
            )
            #expect(!error.message.contains("\n"))
        }
    }
}

/// A hook run edited into something unusable (a negative attempt; an event outside the schema's list,
/// written with CHECKs off) is made dead with the reason, never run.
@Suite struct UnusableHookRowTests {
    @Test(arguments: [
        ("-1", "'complete'", "attempt holds -1"),
        ("0", "'bogus'", "event holds 'bogus'; expected one of complete, failed"),
    ])
    func anUnusableRowMakesTheRunDeadNotRun(attempt: String, event: String, reason: String) async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        let added = try AdminStore(db).addTokens(
            [NewToken(clientID: "ACME_Co", accessToken: 4)], reset: false, now: now)
        try db.write { db in
            try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
            try db.execute(
                sql: """
                    INSERT INTO hook_runs (event_id, token_id, event, command, attempt, state, created_at, next_attempt_at)
                    VALUES ('e2', ?, \(event), 'true', \(attempt), 'pending', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')
                    """, arguments: [added[0].token.id])
            try db.execute(sql: "PRAGMA ignore_check_constraints = OFF")
        }
        #expect(try await DaemonStore(db).claimDueHookRuns(now: now, limit: 10).isEmpty)
        let stored = try db.read { db in
            try Row.fetchOne(db, sql: "SELECT state, error FROM hook_runs").map { row -> [String?] in
                [row["state"], row["error"]]
            }
        }
        #expect(stored?.first == "dead")
        let error = (stored?.last ?? nil) ?? ""
        #expect(error.contains(reason), "\(error)")
    }
}
