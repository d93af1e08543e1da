import Foundation
import MprefCore
import GRDB
import Testing
@testable import MprefStore

@Suite struct MigrationTests {
    @Test func embeddedMigrationsMatchTheFilesInMigrationsDirectory() throws {
        let directory = repositoryRoot.appendingPathComponent("migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(
            files.map { String($0.dropLast(4)) } == Migration.all.map(\.id),
            "run `make migrations` after adding a migration")
        for (file, migration) in zip(files, Migration.all) {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let normalise = { (s: String) in
                s.split(separator: "\n", omittingEmptySubsequences: false).map {
                    $0.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
                }.joined(separator: "\n").trimmingCharacters(in: .newlines)
            }
            #expect(
                normalise(text) == normalise(migration.sql),
                "\(file) differs from the embedded copy; run `make migrations`")
        }
    }

    @Test func migrationIDsAreOrderedAndNamedNNNNVerbNoun() {
        let ids = Migration.all.map(\.id)
        #expect(ids == ids.sorted())
        for id in ids {
            #expect(id.range(of: "^[0-9]{4}_[a-z]+(_[a-z0-9]+)+$", options: .regularExpression) != nil, "\(id)")
        }
    }

    @Test func freshFileGetsEverySchemaObjectAndMode0640() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let db = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        #expect(try db.appliedMigrations() == Migration.all.map(\.id))
        let names = try db.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")
        }
        for name in [
            "tokens", "polls", "pauses", "hook_runs", "token_hooks", "daemon", "token_summary", "schema_migrations",
        ] {
            #expect(names.contains(name), "\(name) missing")
        }
        let mode = try #require(
            try FileManager.default.attributesOfItem(atPath: dir.databasePath)[.posixPermissions] as? NSNumber)
        #expect(mode.intValue == 0o640)
        let journal = try db.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
        let foreignKeys = try db.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") }
        #expect(foreignKeys == 1)
    }

    @Test func migratingTwiceIsANoOp() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        _ = try TokenDatabase(path: dir.databasePath, mode: .readWrite)
        let pool = try DatabasePool(path: dir.databasePath)
        #expect(try Migrator.migrate(pool).isEmpty)
    }

    @Test func aNewerSchemaIsRefusedAndLeftUnchanged() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        do {
            let pool = try DatabasePool(path: dir.databasePath)
            try Migrator.migrate(pool, migrations: Array(Migration.all.prefix(1)))
            try pool.write { db in
                try db.execute(
                    sql: "INSERT INTO schema_migrations VALUES ('9999_add_future', '2030-01-01T00:00:00.000Z')")
            }
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.databasePath))
        for mode in [TokenDatabase.Mode.readWrite, .readOnly] {
            let error = #expect(throws: StoreError.self) { try TokenDatabase(path: dir.databasePath, mode: mode) }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.message.contains("9999_add_future") == true)
        }
        // Issue 17.14: not written to at all — the file's bytes are exactly as before.
        let after = try Data(contentsOf: URL(fileURLWithPath: dir.databasePath))
        #expect(after == before, "a database refused as newer must not be written to")
        let pool = try DatabasePool(path: dir.databasePath)
        let tables = try pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(!tables.contains("hook_runs"), "nothing may be applied to a newer schema")
    }

    /// Issue 17.14: a database in rollback-journal mode (as `sqlite3` leaves a copy restored from a
    /// backup) that a newer mprefd made must not be switched to WAL either.
    @Test func aNewerSchemaInRollbackModeIsNotSwitchedToWAL() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        do {
            let queue = try DatabaseQueue(path: dir.databasePath)
            try Migrator.migrate(queue, migrations: Array(Migration.all.prefix(1)))
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO schema_migrations VALUES ('9999_add_future', '2030-01-01T00:00:00.000Z')")
            }
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.databasePath))
        let error = #expect(throws: StoreError.self) { try TokenDatabase(path: dir.databasePath, mode: .readWrite) }
        #expect(error?.code == .schemaTooNew)
        let after = try Data(contentsOf: URL(fileURLWithPath: dir.databasePath))
        #expect(after == before, "not even the journal mode may change")
    }

    @Test func readOnlyOpenNeverCreatesAFile() throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let error = #expect(throws: StoreError.self) { try TokenDatabase(path: dir.databasePath, mode: .readOnly) }
        #expect(error?.code == .databaseMissing)
        #expect(!FileManager.default.fileExists(atPath: dir.databasePath))
    }

    @Test func aMissingDirectoryIsNamedWithTheFix() throws {
        let error = #expect(throws: StoreError.self) {
            try TokenDatabase(path: "/nonexistent-\(UUID())/db.sqlite3", mode: .readWrite)
        }
        #expect(error?.code == .directoryMissing)
        #expect(error?.message.contains("mkdir -p") == true)
    }

    @Test func concurrentFirstOpensFromManyConnectionsAllSucceed() async throws {
        let dir = try TempDirectory()
        defer { dir.cleanup() }
        let path = dir.databasePath
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 { group.addTask { _ = try TokenDatabase(path: path, mode: .readWrite) } }
            try await group.waitForAll()
        }
        let db = try TokenDatabase(path: path, mode: .readOnly)
        #expect(try db.appliedMigrations() == Migration.all.map(\.id))
    }
}

@Suite struct TimestampTests {
    @Test(arguments: [0.0, 1.5, 951_782_400.123, 1_780_000_000.999, -86_400.25, 4_102_444_800.0])
    func formatAndParseRoundTrip(seconds: Double) throws {
        let date = Date(timeIntervalSince1970: seconds)
        let text = Timestamp.format(date)
        #expect(text.count == 24 && text.hasSuffix("Z"))
        let parsed = try #require(Timestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.001)
    }

    @Test func matchesKnownValues() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_799.999)) == "9999-12-31T23:59:59.999Z")
        // Outside years 0000–9999 a date is written as the nearest end of that range, so it reads back.
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1e300)) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: .nan)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.parse("0000-01-01T00:00:00.000Z") != nil)
        // Agrees with Foundation's ISO 8601 formatter. 0.4 ms past a whole millisecond: format truncates
        // and the formatter rounds, and a whole millisecond / 1000 may be stored just below itself.
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var seed: UInt64 = 7
        for _ in 0..<2000 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let ms = Int64(seed >> 24) % 4_102_444_800_000  // 1970 … 2100
            let date = Date(timeIntervalSince1970: Double(ms) / 1000 + 0.0004)
            #expect(Timestamp.format(date) == iso.string(from: date), "\(ms)")
        }
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
        #expect(Timestamp.parse("2024-03-05 07:08:09") == Date(timeIntervalSince1970: 1_709_622_489))
        for bad in [
            "", "2024-13-01T00:00:00Z", "2024-03-05T07:08", "2024-03-05T07:08:09.Z", "x024-03-05T07:08:09Z",
            "2024-03-05T07:08:09Zjunk",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}
