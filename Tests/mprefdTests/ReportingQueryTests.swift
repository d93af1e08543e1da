import Foundation
import MprefTestSupport
import Testing

/// Every query of docs/REPORTING.md, taken from the document itself (each ```sql block, named by
/// the word after `sql`), run with `sqlite3 -readonly -json` against the database of one real
/// end-to-end run (``ReportingRun``), with its rows checked.
@Suite(
    .enabled("needs the sqlite3 CLI (apt-get install sqlite3)") { PackagingTools.ensure("sqlite3", package: "sqlite3") }
)
struct ReportingQueryTests {
    /// Every query the document must have, each with assertions below. A query added to the
    /// document without a case here fails `theDocumentHasExactlyTheTestedQueries`.
    static let expectedNames = [
        "current-state", "completed-today", "time-to-complete-percentiles", "token-history",
        "error-rates-hourly", "stuck-processing", "dead-hooks", "daily-volume", "recent-errors", "pauses-in-force",
        "downloads", "segments", "segment-windows", "segment-gaps",
    ]
    // "segments", "segment-windows" and "segment-gaps" run in `ExportEndToEndTests` (their database needs `mprefd export`).

    private func query(_ name: String) throws -> String {
        let sql = try ReportingDocument.queries().first { $0.name == name }?.sql
        return try #require(sql, "docs/REPORTING.md has no ```sql \(name) block")
    }

    private func rows(_ name: String, replacing: (String, String)? = nil) async throws -> [[String: Any]] {
        let run = try await ReportingRun.shared.value
        var sql = try query(name)
        if let (old, new) = replacing {
            #expect(sql.contains(old), "the \(name) query no longer contains \(old)")
            sql = sql.replacingOccurrences(of: old, with: new)
        }
        return try await SQLiteShell.rows(run.databasePath, sql, options: ["-readonly"], directory: run.directory)
    }

    private func byToken(_ rows: [[String: Any]]) -> [Int: [String: Any]] {
        Dictionary(
            rows.compactMap { row in row.int("access_token").map { ($0, row) } },
            uniquingKeysWith: { first, _ in first })
    }

    @Test func theDocumentHasExactlyTheTestedQueries() throws {
        let names = try ReportingDocument.queries().map(\.name)
        #expect(names == Self.expectedNames)
        #expect(names.count >= 8)
    }

    @Test func theEndToEndRunStoppedCleanly() async throws {
        let run = try await ReportingRun.shared.value
        #expect(run.daemonExitStatus == 0, "mprefd run after SIGTERM: \(run.daemonLog.suffix(2000))")
    }

    /// Analysts' access while the daemon writes: `sqlite3 'file:DB?mode=ro'` and `sqlite3 -readonly`
    /// (as a group member only, when the tests run as root) read `token_summary` with no error.
    @Test func readOnlyReadersWorkWhileTheDaemonWrites() async throws {
        let run = try await ReportingRun.shared.value
        #expect(run.readsWhileRunning >= 2, "no read happened while the daemon ran")
        #expect(run.readFailures.isEmpty, "read-only reads by \(run.readerDescription) failed: \(run.readFailures)")
        #expect(run.lastStatesSeen.count == ReportingRun.allTokens.count)
        #expect(run.lastStatesSeen[ReportingRun.Token.stuck] == "watching")
        #expect(run.lastStatesSeen[ReportingRun.Token.error] == "failed")
    }

    @Test func currentState() async throws {
        let rows = try await rows("current-state")
        #expect(rows.map { $0.int("access_token") ?? 0 } == ReportingRun.allTokens.sorted())
        let tokens = byToken(rows)
        for (token, counts) in ReportingRun.completed {
            #expect(tokens[token]?.string("state") == "complete", "token \(token)")
            #expect(tokens[token]?.string("last_status") == "Complete", "token \(token)")
            #expect(tokens[token]?.int("row_count") == counts.rows, "token \(token)")
            #expect(tokens[token]?.int("byte_count") == counts.bytes, "token \(token)")
            #expect((tokens[token]?.double("duration_s") ?? -1) > 0, "token \(token)")
        }
        #expect(tokens[ReportingRun.Token.error]?.string("state") == "failed")
        #expect(tokens[ReportingRun.Token.error]?.string("last_status") == "Error")
        #expect(tokens[ReportingRun.Token.stuck]?.string("state") == "watching")
        #expect(tokens[ReportingRun.Token.stuck]?.string("last_status") == "Processing")
        #expect(tokens[ReportingRun.Token.stuck]?["duration_s"] is NSNull)
        #expect(tokens[ReportingRun.Token.history]?.int("poll_count") == 3)
        #expect(rows.allSatisfy { $0.string("label") == "nightly" })
    }

    @Test func completedToday() async throws {
        let run = try await ReportingRun.shared.value
        let rows = try await rows("completed-today")
        // The exports that finished on today's UTC date (all of them unless the run straddled midnight).
        let today =
            try await SQLiteShell.rows(run.databasePath, "SELECT date('now') AS today", directory: run.directory).first?
            .string("today") ?? "?"
        let all = try await SQLiteShell.rows(
            run.databasePath, "SELECT access_token, finished_at FROM tokens WHERE state = 'complete'",
            directory: run.directory)
        let expected = Set(
            all.filter { $0.string("finished_at")?.hasPrefix(today) == true }.compactMap { $0.int("access_token") })
        #expect(all.count == ReportingRun.completed.count)
        #expect(Set(rows.compactMap { $0.int("access_token") }) == expected)
        for row in rows {
            let token = row.int("access_token") ?? 0
            #expect(row.int("row_count") == ReportingRun.completed[token]?.rows, "token \(token)")
            #expect(row.int("byte_count") == ReportingRun.completed[token]?.bytes, "token \(token)")
        }
        let finished = rows.compactMap { $0.string("finished_at") }
        #expect(finished == finished.sorted())
    }

    @Test func timeToCompletePercentilesOfTheRun() async throws {
        let run = try await ReportingRun.shared.value
        let rows = try await rows("time-to-complete-percentiles")
        let row = try #require(rows.first)
        #expect(rows.count == 1)
        #expect(row.int("exports") == ReportingRun.completed.count)
        let durations = try await SQLiteShell.rows(
            run.databasePath, "SELECT duration_s FROM export_durations WHERE state = 'complete' ORDER BY duration_s",
            directory: run.directory
        ).compactMap { $0.double("duration_s") }
        #expect(durations.count == ReportingRun.completed.count)
        // Nearest rank over 5 values: p50 is the 3rd, p90 and p99 the 5th.
        #expect(row.double("min_s") == durations.first)
        #expect(row.double("p50_s") == durations[2])
        #expect(row.double("p90_s") == durations[4])
        #expect(row.double("p99_s") == durations[4])
        #expect(row.double("max_s") == durations.last)
    }

    @Test func tokenHistoryShowsEveryPollOfOneToken() async throws {
        let rows = try await rows("token-history")
        #expect(rows.map { $0.string("status") ?? "-" } == ["Processing", "Processing", "Complete"])
        #expect(rows.allSatisfy { $0.int("http_status") == 200 && $0.string("outcome") == "ok" })
        #expect(rows.last?.int("row_count") == 1000)
        #expect(rows.last?.int("byte_count") == 50_000)
        let times = rows.compactMap { $0.string("polled_at") }
        #expect(times == times.sorted())
    }

    @Test func errorRatesPerHour() async throws {
        let run = try await ReportingRun.shared.value
        let rows = try await rows("error-rates-hourly")
        let total = try await SQLiteShell.rows(
            run.databasePath, "SELECT count(*) AS n FROM polls", directory: run.directory
        ).first?.int("n")
        #expect(!rows.isEmpty && rows.count <= 2, "one hour, or two if the run straddled an hour")
        #expect(rows.reduce(0) { $0 + ($1.int("polls") ?? 0) } == total)
        #expect(rows.reduce(0) { $0 + ($1.int("unavailable") ?? 0) } == 1)
        #expect(rows.reduce(0) { $0 + ($1.int("server_errors") ?? 0) } == 1)
        #expect(rows.reduce(0) { $0 + ($1.int("errors") ?? 0) } == 2)
        for row in rows {
            let polls = Double(row.int("polls") ?? 0)
            #expect(abs((row.double("error_rate") ?? -1) - Double(row.int("errors") ?? 0) / polls) < 0.0001)
            #expect(abs((row.double("unavailable_rate") ?? -1) - Double(row.int("unavailable") ?? 0) / polls) < 0.0001)
            #expect(row.string("hour")?.hasSuffix(":00:00Z") == true)
            #expect(row.string("client_id") == ReportingRun.clientID)
        }
    }

    @Test func stuckProcessingHonoursItsNumberOfHours() async throws {
        // As written (6 hours): the run is seconds old, so nothing is stuck yet.
        #expect(try await rows("stuck-processing").isEmpty)
        // With 0 hours: exactly the export that stays Processing.
        let rows = try await rows("stuck-processing", replacing: ("VALUES (6)", "VALUES (0)"))
        #expect(rows.compactMap { $0.int("access_token") } == [ReportingRun.Token.stuck])
        #expect(rows.first?.string("last_status") == "Processing")
        #expect((rows.first?.double("hours_waiting") ?? -1) >= 0)
    }

    @Test func deadHooks() async throws {
        let rows = try await rows("dead-hooks")
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.int("access_token") == ReportingRun.Token.error)
        #expect(row.string("event") == "failed")
        #expect(row.string("command") == "exit 3")
        #expect(row.int("exit_code") == 3)
        #expect(row.int("attempt") == 1)
    }

    @Test func dailyVolume() async throws {
        let rows = try await rows("daily-volume")
        #expect(!rows.isEmpty && rows.count <= 2, "one day, or two if the run straddled midnight")
        func sum(_ key: String) -> Int { rows.reduce(0) { $0 + ($1.int(key) ?? 0) } }
        #expect(sum("complete") == ReportingRun.completed.count)
        #expect(sum("failed") == 1)
        #expect(sum("finished") == ReportingRun.allTokens.count - 1)
        #expect(sum("rows") == ReportingRun.completed.values.reduce(0) { $0 + $1.rows })
        #expect(sum("bytes") == ReportingRun.completed.values.reduce(0) { $0 + $1.bytes })
    }

    @Test func recentErrors() async throws {
        let rows = try await rows("recent-errors")
        let seen = Set(
            rows.map { "\($0.string("outcome") ?? "?")/\($0.int("http_status") ?? 0)/\($0.int("access_token") ?? 0)" })
        #expect(
            seen == [
                "unavailable/503/\(ReportingRun.Token.unavailable)",
                "server_error/500/\(ReportingRun.Token.serverError)",
            ])
        let unavailable = rows.first { $0.string("outcome") == "unavailable" }
        #expect(unavailable?.double("retry_after_s") == 1)
    }

    @Test func downloadsShowEveryDeliveredFile() async throws {
        let tokens = byToken(try await rows("downloads"))
        #expect(Set(tokens.keys) == Set(ReportingRun.completed.keys))
        for (token, expected) in ReportingRun.completed {
            let row = try #require(tokens[token])
            #expect(row["phase"] as? String == "committed", "\(token)")
            #expect(row.int("records") == expected.rows, "\(token)")
            #expect(row.int("total_results") == expected.rows, "\(token)")
            #expect((row["percent"] as? Double ?? row.int("percent").map(Double.init)) == 100, "\(token)")
            #expect((row["sha256"] as? String)?.count == 64, "\(token)")
            #expect(row.int("pages") == max(1, (expected.rows + 699) / 700), "\(token)")
        }
    }

    @Test func pausesInForceLeavesOutEndedPauses() async throws {
        // The run's only pause (503, Retry-After 1 s) ended before its token completed.
        #expect(try await rows("pauses-in-force").isEmpty)
        // With the "now" moved back before the pause, it shows.
        let rows = try await rows(
            "pauses-in-force",
            replacing: (
                "WHERE paused_until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                "WHERE paused_until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 hour')"
            ))
        #expect(rows.map { $0.string("scope") ?? "?" } == ["host"])
        #expect(rows.first?.int("http_status") == 503)
        #expect(rows.first?.string("subject")?.hasPrefix("http://127.0.0.1:") == true)
    }

    /// The percentile query on known data: n complete exports taking 1…n seconds (inserted in reverse
    /// order), plus failed ones that must not count.
    @Test(arguments: [(100, 50.0, 90.0, 99.0), (10, 5.0, 9.0, 10.0), (4, 2.0, 4.0, 4.0), (1, 1.0, 1.0, 1.0)])
    func percentilesOnKnownDurations(count: Int, p50: Double, p90: Double, p99: Double) async throws {
        let directory = try PackagingTools.temporaryDirectory("mprefd-percentiles")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("p.sqlite3").path
        let migrate = try await ChildProcess.run(
            BuiltBinaries.mprefd, ["migrate", "--db", database], environment: PackagingTools.cleanEnvironment(),
            in: directory, timeout: .seconds(120))
        try #require(migrate.status == 0, "mprefd migrate: \(migrate.stderr)")
        let insert = """
            WITH RECURSIVE n(i) AS (SELECT \(count) UNION ALL SELECT i - 1 FROM n WHERE i > 1)
            INSERT INTO tokens (client_id, access_token, state, added_at, finished_at)
            SELECT 'ACME_Co', i, 'complete', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours'),
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours', '+' || i || ' seconds') FROM n;
            INSERT INTO tokens (client_id, access_token, state, added_at, finished_at)
            VALUES ('ACME_Co', 900001, 'failed', '2026-01-01T00:00:00.000Z', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                   ('ACME_Co', 900002, 'watching', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3 hours'), NULL);
            """
        let inserted = try await SQLiteShell.run(database, insert, options: [], directory: directory)
        try #require(inserted.status == 0, "insert: \(inserted.stderr)")
        let rows = try await SQLiteShell.rows(database, try query("time-to-complete-percentiles"), directory: directory)
        let row = try #require(rows.first)
        #expect(row.int("exports") == count)
        #expect(abs((row.double("min_s") ?? -1) - 1) < 0.01)
        #expect(abs((row.double("p50_s") ?? -1) - p50) < 0.01)
        #expect(abs((row.double("p90_s") ?? -1) - p90) < 0.01)
        #expect(abs((row.double("p99_s") ?? -1) - p99) < 0.01)
        #expect(abs((row.double("max_s") ?? -1) - Double(count)) < 0.01)
    }
}
