import Foundation
import MyPreferencesSimulator
import Testing
import MprefTestSupport

/// The README's one-line loader hooks, run for real by the daemon on a delivered file: sqlite-utils
/// and DuckDB, installed from PyPI by `make test` (`make hook-tools`, `MPREFD_HOOK_TOOLS`).
@Suite(
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["MPREFD_HOOK_TOOLS"] != nil,
        "needs MPREFD_HOOK_TOOLS (set by `make test`)"))
struct LoaderHookTests {
    let tools = ProcessInfo.processInfo.environment["MPREFD_HOOK_TOOLS"] ?? ""

    @Test func sqliteUtilsAndDuckDBLoadTheDeliveredFile() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: tools + "/sqlite-utils"), "run `make hook-tools`")
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(.complete(records: 1200), accessToken: 4801, clientID: scene.clientID)
        let warehouse = scene.cli.directory.appendingPathComponent("warehouse.db").path
        let duck = scene.cli.directory.appendingPathComponent("warehouse.duckdb").path
        let exports = scene.cli.directory.appendingPathComponent("exports").path
        // The hooks exactly as the README gives them, with the tools' directory in front.
        try scene.cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(scene.cli.databasePath)
            polling:
              initial_delay_s: 0.1
              max_delay_s: 0.3
            hooks:
              on_complete:
                - '"\(tools)/sqlite-utils" insert "\(warehouse)" profiles "$MPREFD_FILE" --nl'
                - '"\(tools)/python" -c "import duckdb, os; duckdb.connect(\\"\(duck)\\").execute(\\"CREATE OR REPLACE TABLE profiles AS SELECT * FROM read_json_auto(?, format = \\x27newline_delimited\\x27)\\", [os.environ[\\"MPREFD_FILE\\"]])"'
            accounts:
              \(scene.clientID):
                base_url: \(scene.simulator.baseURL)
                download:
                  enabled: true
                  directory: \(exports)
            """)
        _ = try await scene.mprefd(["add-token", "4801"])
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let done = try await scene.eventually(timeout: .seconds(120)) {
            try await scene.count("SELECT count(*) FROM hook_runs WHERE state IN ('succeeded', 'dead')") == 2
        }
        #expect(done, "daemon log:\n\(daemon.log.suffix(4000))")
        let failed = try await scene.rows(
            "SELECT command, error, stderr_tail FROM hook_runs WHERE state <> 'succeeded'")
        #expect(failed.isEmpty, "\(failed)")
        // sqlite-utils: every record a row, the 64-bit ProfileIds exact.
        let rows = try await scene.cli.query(
            "SELECT count(*) AS n, max(ProfileId) AS top FROM profiles", database: warehouse)
        #expect(rows.first?["n"] as? Int == 1200)
        #expect((rows.first?["top"] as? Int).map { $0 > 9_007_199_254_740_992 } == true, "\(rows)")
        // DuckDB: the same count.
        let counted = try await ChildProcess.run(
            tools + "/python",
            [
                "-c",
                "import duckdb; print(duckdb.connect('\(duck)').execute('SELECT count(*) FROM profiles').fetchone()[0])",
            ],
            environment: [:], in: scene.cli.directory)
        #expect(counted.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1200", "\(counted.stderr)")
    }
}
