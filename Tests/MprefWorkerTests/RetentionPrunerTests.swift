import Foundation
import GRDB
import Logging
import MprefCore
@testable import MprefStore
import MprefTestSupport
import Testing
@testable import MprefWorker

/// Issue 17.12: a pass over a backlog larger than one call's batches spreads over several calls
/// (heartbeats), prunes the finished tokens before it ends, logs once, and the next pass waits for
/// `passInterval`. In process, on a real SQLite file, with small batches and the clock as an argument.
struct RetentionPrunerTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let old = Timestamp.format(now.addingTimeInterval(-400 * 86_400))

    /// A database with token 1 watching (`oldPolls` polls from 400 days ago, one from today) and
    /// token 2 finished 400 days ago.
    private func seeded(oldPolls: Int, in directory: URL) throws -> TokenDatabase {
        let database = try TokenDatabase(
            path: directory.appendingPathComponent("mprefd.sqlite3").path, mode: .readWrite)
        let ids = try AdminStore(database).addTokens(
            (1...2).map { NewToken(clientID: "ACME_Co", accessToken: AccessToken(Int64($0))) }, reset: false,
            now: Self.now.addingTimeInterval(-400 * 86_400)
        ).map(\.token.id)
        try database.write { db in
            try db.execute(
                sql: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                    INSERT INTO polls (token_id, polled_at, http_status, status, outcome) SELECT ?, ?, 200, 'Processing', 'ok' FROM n
                    """, arguments: [oldPolls, ids[0], Self.old])
            try db.execute(
                sql:
                    "INSERT INTO polls (token_id, polled_at, http_status, status, outcome) VALUES (?, ?, 200, 'Processing', 'ok')",
                arguments: [ids[0], Timestamp.format(Self.now)])
            try db.execute(
                sql: "UPDATE tokens SET state = 'complete', finished_at = ? WHERE id = ?",
                arguments: [Self.old, ids[1]])
        }
        return database
    }

    /// History kept 30 days, finished tokens 60; passes 600 s apart, of 2 batches of 100 per call.
    private static func pruner(_ database: TokenDatabase, log: InMemoryLogHandler) -> RetentionPruner {
        var retention = RetentionConfiguration()
        retention.historyDays = 30
        retention.finishedTokensDays = 60
        return RetentionPruner(
            database: DaemonStore(database), retention: retention, logger: Logger(label: "test") { _ in log },
            passInterval: 600, batchSize: 100, batchesPerCall: 2)
    }

    /// The messages `log` kept that contain `text`.
    private static func lines(_ log: InMemoryLogHandler, containing text: String) -> [String] {
        log.entries.map { "\($0.message)" }.filter { $0.contains(text) }
    }

    private func counts(_ database: TokenDatabase) throws -> (oldPolls: Int, tokens: Int) {
        try database.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM polls WHERE polled_at <= ?", arguments: [Self.old])
                    ?? -1,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM tokens") ?? -1
            )
        }
    }

    @Test func aBacklogSpreadsOverSeveralCallsAndThePassEndsOnceEverythingIsPruned() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mprefd-prune-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try seeded(oldPolls: 450, in: directory)
        let log = InMemoryLogHandler()
        let pruner = Self.pruner(database, log: log)
        // 2 batches of 100 polls per call: 450 old polls take three calls; the finished token goes in the third.
        var seen: [(Int, Int)] = []
        for second in 0..<3 {
            await pruner.pruneIfDue(now: Self.now.addingTimeInterval(Double(second) * 5))
            let (polls, tokens) = try counts(database)
            seen.append((polls, tokens))
        }
        #expect(seen.map(\.0) == [250, 50, 0])
        #expect(seen.map(\.1) == [2, 2, 1])
        #expect(Self.lines(log, containing: "pruned old history").count == 1, "\(log.entries.map(\.message))")
        // The pass is over: an old poll written now waits for the next pass, `passInterval` after this one began.
        try database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO polls (token_id, polled_at, http_status, status, outcome) VALUES (1, ?, 200, 'Processing', 'ok')",
                arguments: [Self.old])
        }
        await pruner.pruneIfDue(now: Self.now.addingTimeInterval(15))
        #expect(try counts(database).oldPolls == 1)
        await pruner.pruneIfDue(now: Self.now.addingTimeInterval(600))
        #expect(try counts(database).oldPolls == 0)
        #expect(Self.lines(log, containing: "pruned old history").count == 2)
    }

    /// Regression: when the history's last batch of a call was also its last budgeted batch (here 150
    /// old polls, 2 batches of 100), the pass ended without the finished tokens, which then waited for
    /// the next pass (10 minutes by default).
    @Test func finishedTokensArePrunedInThePassEvenWhenTheHistoryUsedTheWholeBudget() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mprefd-prune-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try seeded(oldPolls: 150, in: directory)
        let log = InMemoryLogHandler()
        let pruner = Self.pruner(database, log: log)
        for second in 0..<3 { await pruner.pruneIfDue(now: Self.now.addingTimeInterval(Double(second) * 5)) }
        #expect(try counts(database).oldPolls == 0)
        #expect(try counts(database).tokens == 1, "the finished token waits for the next pass")
        #expect(Self.lines(log, containing: "pruned old history").count == 1, "\(log.entries.map(\.message))")
    }
}
