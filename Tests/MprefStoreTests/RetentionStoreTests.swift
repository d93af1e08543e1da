import Foundation
import MprefCore
import GRDB
import MprefTestSupport
import Testing
@testable import MprefStore

/// Issue 17.12: history and finished tokens are pruned in small batches and the file shrinks.
@Suite struct RetentionStoreTests {
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    @Test func aNewDatabaseHasIncrementalAutoVacuum() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        #expect(try await DaemonStore(db).autoVacuumMode() == 2)
    }

    @Test func oldPollsAndFinishedTokensArePrunedInBatchesAndTheFileShrinks() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let old = now.addingTimeInterval(-400 * 86_400)
        let tokens = try AdminStore(db).addTokens(
            (1...3).map { NewToken(clientID: "ACME_Co", accessToken: AccessToken(Int64($0))) }, reset: false, now: old
        ).map(\.token.id)
        let oldText = Timestamp.format(old), recentText = Timestamp.format(now.addingTimeInterval(-86_400))
        try db.write { db in
            // Token 1 watching with 20,000 old polls and 10 recent ones; token 2 finished long ago;
            // token 3 finished long ago but its hook run is still pending.
            try db.execute(
                sql: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
                    INSERT INTO polls (token_id, polled_at, http_status, status, outcome, error)
                    SELECT ?, ?, 200, 'Processing', 'ok', printf('%.200c', 'x') FROM n
                    """, arguments: [tokens[0], oldText])
            try db.execute(
                sql: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
                    INSERT INTO polls (token_id, polled_at, http_status, status, outcome) SELECT ?, ?, 200, 'Processing', 'ok' FROM n
                    """, arguments: [tokens[0], recentText])
            try db.execute(
                sql: "UPDATE tokens SET state = 'complete', finished_at = ? WHERE id IN (?, ?)",
                arguments: [oldText, tokens[1], tokens[2]])
            try db.execute(
                sql:
                    "INSERT INTO hook_runs (event_id, token_id, event, command, created_at, next_attempt_at) VALUES ('e', ?, 'complete', 'true', ?, ?)",
                arguments: [tokens[2], oldText, oldText])
        }
        let sizeBefore = db.sizeOnDisk().database + db.sizeOnDisk().wal
        let cutoff = now.addingTimeInterval(-90 * 86_400)
        var batches: [Int] = []
        while true {
            let deleted = try await DaemonStore(db).pruneHistory(before: cutoff, limit: 3_000)
            batches.append(deleted)
            if deleted < 3_000 { break }
        }
        #expect(batches == [3_000, 3_000, 3_000, 3_000, 3_000, 3_000, 2_000])
        #expect(try await DaemonStore(db).pruneFinishedTokens(before: cutoff, limit: 100) == 1)
        let left = try db.read { db in
            try Int.fetchAll(db, sql: "SELECT (SELECT count(*) FROM polls), (SELECT count(*) FROM tokens)")
        }
        #expect(left == [10])
        #expect(
            try db.read { db in try TokenID.fetchAll(db, sql: "SELECT id FROM tokens ORDER BY id") } == [
                tokens[0], tokens[2],
            ])
        // Reports keep working on what is left.
        #expect(
            try db.read { db in
                try Int.fetchOne(db, sql: "SELECT poll_count FROM token_summary WHERE id = ?", arguments: [tokens[0]])
            } == 10)
        var free = Int.max
        while free > 0 { free = try await DaemonStore(db).incrementalVacuum(pages: 500) }
        _ = try await DaemonStore(db).checkpointWAL(maxWait: 1)
        let sizeAfter = db.sizeOnDisk().database
        #expect(sizeAfter < sizeBefore / 4, "before \(sizeBefore) bytes, after \(sizeAfter)")
    }
}
