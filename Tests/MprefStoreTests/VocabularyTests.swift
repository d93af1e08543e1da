import Foundation
import GRDB
import MprefCore
import Testing
@testable import MprefStore

/// The typed vocabulary and the schema agree: each enum's raw values are exactly the `CHECK` list
/// of its column in the newest migration that defines it.
struct VocabularyTests {
    /// Every `IN (…)` list of `CHECK (column IN (…))` across `migrations/`, oldest first.
    func checkLists(_ column: String) -> [[String]] {
        var lists: [[String]] = []
        for migration in Migration.all {
            var rest = Substring(migration.sql.replacingOccurrences(of: "\n", with: " "))
            while let range = rest.range(of: "CHECK (\(column) IN (") {
                let tail = rest[range.upperBound...]
                guard let end = tail.firstIndex(of: ")") else { break }
                lists.append(
                    tail[..<end].split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
                    })
                rest = tail[end...]
            }
        }
        return lists
    }

    /// The newest list of `column` that holds `member` (`state` names columns of two tables).
    func checkList(_ column: String, holding member: String? = nil) -> [String] {
        checkLists(column).last { member == nil || $0.contains(member ?? "") } ?? []
    }

    @Test func tokenStatesMatchTheSchema() {
        #expect(checkList("state", holding: "watching") == TokenState.allCases.map(\.rawValue))
    }

    @Test func exportVocabularyMatchesTheSchema() throws {
        #expect(checkList("state", holding: "sending") == ExportState.allCases.map(\.rawValue))
        #expect(checkList("set_by") == CursorSource.allCases.map(\.rawValue))
    }

    @Test func downloadPhasesMatchTheSchema() throws {
        #expect(checkList("phase") == DownloadPhase.allCases.map(\.rawValue))
    }

    @Test func hookVocabularyMatchesTheSchema() throws {
        #expect(checkList("event") == HookEvent.allCases.map(\.rawValue))
        #expect(checkList("on_event") == HookTrigger.allCases.map(\.rawValue))
        #expect(checkList("state", holding: "pending") == HookRunState.allCases.map(\.rawValue))
        #expect(checkList("scope") == PauseScope.allCases.map(\.rawValue))
        // polls.outcome and download_requests.outcome: the same list.
        #expect(checkLists("outcome").count >= 2)
        for list in checkLists("outcome") { #expect(list == OutcomeKind.allCases.map(\.rawValue)) }
        for state in TokenState.allCases {
            #expect((HookEvent(state) != nil) == state.isTerminal, "\(state)")
        }
        #expect(Set(checkList("request")) == ["page", "commit"])
        // `stuck` (migration 0010) is an event and a trigger, but no state; every event's trigger is a
        // trigger of the schema, and both lists live in the same (newest) migration that names `stuck`.
        #expect(checkList("event").contains("stuck") && checkList("on_event").contains("stuck"))
        #expect(HookEvent.stuck.trigger == .stuck && TokenState(rawValue: "stuck") == nil)
        for event in HookEvent.allCases { #expect(checkList("on_event").contains(event.trigger.rawValue), "\(event)") }
        let newest = try #require(Migration.all.last { $0.sql.contains("CHECK (event IN (") })
        #expect(
            newest.sql.contains("CHECK (on_event IN ("), "hook_runs.event and token_hooks.on_event are rebuilt together"
        )
    }

    @Test func migration0008KeepsEveryRowIdAndTheSequence() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString).sqlite3")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var config = Configuration()
        config.foreignKeysEnabled = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        let before = Array(Migration.all.prefix { $0.id < "0008" })
        try Migrator.migrate(queue, migrations: before)
        try queue.write { db in
            for token in 1...3 {
                try db.execute(
                    sql:
                        "INSERT INTO tokens (client_id, access_token, added_at, state) VALUES ('C', ?, '2026-01-01T00:00:00.000Z', 'complete')",
                    arguments: [token])
            }
            try db.execute(sql: "DELETE FROM tokens WHERE access_token = 3")  // id 3 must never come back
            try db.execute(
                sql: "INSERT INTO polls (token_id, polled_at, outcome) VALUES (1, '2026-01-01T00:00:00.000Z', 'ok')")
            try db.execute(
                sql:
                    "INSERT INTO hook_runs (event_id, token_id, event, command, created_at) VALUES ('e', 2, 'complete', 'true', '2026-01-01T00:00:00.000Z')"
            )
        }
        try Migrator.migrate(queue)
        try queue.write { db in
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM polls") == 1)
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM hook_runs WHERE token_id = 2") == 1)
            try db.execute(
                sql:
                    "INSERT INTO tokens (client_id, access_token, added_at, state) VALUES ('C', 9, '2026-01-01T00:00:00.000Z', 'downloading')"
            )
            #expect(db.lastInsertedRowID == 4)
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            // The history still cascades with its token.
            try db.execute(sql: "DELETE FROM tokens WHERE id = 1")
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM polls") == 0)
        }
    }
}
