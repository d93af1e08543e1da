import Foundation
import GRDB
import MprefCore
import MprefTestSupport
import Testing
@testable import MprefStore

/// The `stuck` event's hooks (migration 0010): queued with `tokens.stuck_at` in one transaction, once,
/// with the event's facts; and a database at 0009 upgrades keeping its hook rows.
@Suite struct StuckHookStoreTests {
    let start = Date(timeIntervalSince1970: 1_780_000_000)

    @Test func markingStuckQueuesTheStuckHooksOnceInTheSameTransaction() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let segment = try #require(SegmentName("Newsletter"))
        let ids = try AdminStore(db).addTokens(
            [
                NewToken(
                    clientID: "ACME_Co", accessToken: 1,
                    hooks: [
                        TokenHook(onEvent: "stuck", command: "own-1"),
                        TokenHook(onEvent: "complete", command: "not-this"),
                    ], segment: segment),
                NewToken(
                    clientID: "ACME_Co", accessToken: 2, hooks: [TokenHook(onEvent: "stuck", command: "own-2")],
                    globalHooks: false, segment: segment),
                NewToken(clientID: "ACME_Co", accessToken: 3, segment: segment),
            ], reset: false, now: start
        ).map(\.token.id)
        let plan = planner([.stuck: ["global-stuck"], .complete: ["global-complete"]])
        let at = start.addingTimeInterval(900)

        let first = try await DaemonStore(db).markStuck(
            tokenID: ids[0], at: at, elapsedSeconds: 900.00049, p95Seconds: 299.9996, hooks: plan)
        #expect(first.marked && first.hookRuns == 2)
        let second = try await DaemonStore(db).markStuck(
            tokenID: ids[1], at: at, elapsedSeconds: 900, p95Seconds: 300, hooks: plan)
        #expect(second.marked && second.hookRuns == 1, "--no-global-hooks: only its own")
        // Once: marked already, nothing more is queued.
        let again = try await DaemonStore(db).markStuck(
            tokenID: ids[0], at: at.addingTimeInterval(5), elapsedSeconds: 905, p95Seconds: 300, hooks: plan)
        #expect(!again.marked && again.hookRuns == 0)

        struct Run: Sendable {
            var command, event, state, eventID, createdAt: String; var stuckAt: String?; var elapsed, p95: Double?
        }
        let rows = try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT h.event, h.command, h.state, h.event_id, h.created_at, h.stuck_elapsed_s, h.stuck_p95_s, t.stuck_at
                    FROM hook_runs h JOIN tokens t ON t.id = h.token_id ORDER BY h.id
                    """
            ).map {
                Run(
                    command: $0["command"], event: $0["event"], state: $0["state"], eventID: $0["event_id"],
                    createdAt: $0["created_at"],
                    stuckAt: $0["stuck_at"], elapsed: $0["stuck_elapsed_s"], p95: $0["stuck_p95_s"])
            }
        }
        #expect(rows.map(\.command) == ["global-stuck", "own-1", "own-2"])
        #expect(rows.allSatisfy { $0.event == "stuck" && $0.state == "pending" })
        #expect(rows.allSatisfy { $0.createdAt == Timestamp.format(at) && $0.stuckAt == Timestamp.format(at) })
        #expect(Set(rows.prefix(2).map(\.eventID)).count == 1, "one event, one id for all its commands")
        #expect(rows[0].elapsed == 900 && rows[0].p95 == 300, "rounded to the millisecond")

        // The queued runs are claimed with the event's facts; the segment comes from the token.
        let jobs = try await DaemonStore(db).claimDueHookRuns(now: at, limit: 10)
        #expect(jobs.count == 3)
        #expect(
            jobs.first?.event == .stuck && jobs.first?.stuckElapsedSeconds == 900 && jobs.first?.stuckP95Seconds == 300
        )
        #expect(jobs.first?.segment == "Newsletter")
        #expect(jobs.first?.finishedAt == nil)
    }

    @Test func aTokenNoLongerWatchingIsNotMarkedAndQueuesNothing() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let id = try #require(
            try AdminStore(db).addTokens(
                [NewToken(clientID: "ACME_Co", accessToken: 1, segment: SegmentName("Newsletter"))],
                reset: false, now: start
            ).first?.token.id)
        try db.write { db in try db.execute(sql: "UPDATE tokens SET state = 'removed' WHERE id = ?", arguments: [id]) }
        let result = try await DaemonStore(db).markStuck(
            tokenID: id, at: start, elapsedSeconds: 10, p95Seconds: 1, hooks: planner([.stuck: ["x"]]))
        #expect(!result.marked && result.hookRuns == 0)
        #expect(try db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM hook_runs") } == 0)
    }

    /// A database at 0009 with hook runs and token hooks upgrades through 0010's rebuild: every row,
    /// id and index kept, the `hook_failures` view works, `stuck` is accepted, and a bad event still is not.
    @Test func migration0010KeepsHookRowsAndAcceptsStuck() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        var config = Configuration()
        config.foreignKeysEnabled = true
        let queue = try DatabaseQueue(path: dir.databasePath, configuration: config)
        try Migrator.migrate(queue, migrations: Array(Migration.all.prefix { $0.id < "0010" }))
        let stamp = "2026-01-01T00:00:00.000Z"
        try queue.write { db in
            try db.execute(
                sql:
                    "INSERT INTO tokens (client_id, access_token, added_at, state) VALUES ('C', 1, ?, 'complete'), ('C', 2, ?, 'watching')",
                arguments: [stamp, stamp])
            try db.execute(
                sql:
                    "INSERT INTO token_hooks (id, token_id, on_event, command) VALUES (7, 1, 'complete', 'a'), (8, 2, 'failure', 'b')"
            )
            try db.execute(
                sql: """
                    INSERT INTO hook_runs (id, event_id, token_id, event, command, attempt, state, created_at, exit_code, stderr_tail, error,
                                           pgid, pgid_leader_identity, attempts_before_retry)
                    VALUES (41, 'e1', 1, 'complete', 'a', 5, 'dead', ?, 3, 'boom', 'exit 3', 1234, 'boot/99', 2),
                           (42, 'e2', 1, 'download_failed', 'b', 0, 'pending', ?, NULL, NULL, NULL, NULL, NULL, 0)
                    """, arguments: [stamp, stamp])
            // 0009 refuses the new event.
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO token_hooks (token_id, on_event, command) VALUES (2, 'stuck', 'c')")
            }
        }
        try Migrator.migrate(queue)
        try queue.write { db in
            let runs = try Row.fetchAll(db, sql: "SELECT * FROM hook_runs ORDER BY id")
            #expect(runs.map { $0["id"] as Int64 } == [41, 42])
            #expect(
                runs[0]["state"] as String == "dead" && runs[0]["attempt"] as Int == 5
                    && runs[0]["stderr_tail"] as String == "boom")
            #expect(
                runs[0]["pgid"] as Int == 1234 && runs[0]["pgid_leader_identity"] as String == "boot/99"
                    && runs[0]["attempts_before_retry"] as Int == 2)
            #expect(runs[1]["event"] as String == "download_failed" && runs[1]["stuck_elapsed_s"] as Double? == nil)
            #expect(
                try Row.fetchAll(db, sql: "SELECT id, token_id, on_event, command FROM token_hooks ORDER BY id").map {
                    $0["id"] as Int64
                } == [7, 8])
            #expect(try Int64.fetchAll(db, sql: "SELECT run_id FROM hook_failures") == [41])
            let indexes = try String.fetchAll(
                db,
                sql:
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('hook_runs', 'token_hooks') AND sql IS NOT NULL ORDER BY name"
            )
            #expect(indexes == ["hook_runs_by_token", "hook_runs_due", "token_hooks_by_token"])
            try db.execute(sql: "INSERT INTO token_hooks (token_id, on_event, command) VALUES (2, 'stuck', 'c')")
            try db.execute(
                sql:
                    "INSERT INTO hook_runs (event_id, token_id, event, command, created_at, stuck_elapsed_s, stuck_p95_s) VALUES ('e3', 2, 'stuck', 'c', ?, 1.5, 0.5)",
                arguments: [stamp])
            #expect(throws: DatabaseError.self) {
                try db.execute(
                    sql:
                        "INSERT INTO hook_runs (event_id, token_id, event, command, created_at) VALUES ('e4', 2, 'bogus', 'c', ?)",
                    arguments: [stamp])
            }
            // The (event_id, command) uniqueness and the cascade with the token are kept.
            #expect(throws: DatabaseError.self) {
                try db.execute(
                    sql:
                        "INSERT INTO hook_runs (event_id, token_id, event, command, created_at) VALUES ('e3', 2, 'stuck', 'c', ?)",
                    arguments: [stamp])
            }
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            try db.execute(sql: "DELETE FROM tokens WHERE id = 2")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM token_hooks WHERE token_id = 2") == 0)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_runs WHERE token_id = 2") == 0)
        }
    }
}
