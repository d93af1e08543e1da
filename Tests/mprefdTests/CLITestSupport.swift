import ArgumentParser
import Foundation
import MprefTestSupport
import Testing

@testable import mprefd

/// Runs the real built `mprefd` binary (``BuiltBinaries/mprefd``) in a
/// fresh temporary directory, with a controlled environment.
struct CLI {

    /// A fresh directory for this test; removed by `cleanUp()`.
    let directory: URL
    /// The database path the commands get with `--db` by default.
    var databasePath: String { directory.appendingPathComponent("mprefd.sqlite3").path }
    /// An empty config file (zero accounts), named by `$MPREFD_CONFIG` unless a test overrides it.
    var emptyConfigPath: String { directory.appendingPathComponent("empty.yaml").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mprefd-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: emptyConfigPath))
        #expect(
            FileManager.default.isExecutableFile(atPath: BuiltBinaries.mprefd),
            "\(BuiltBinaries.mprefdMissing)")
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes `text` to `name` in the test directory and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The environment every run starts from: this process's, without `MPREFD_*` and
    /// `CREDENTIALS_DIRECTORY`, with `$MPREFD_CONFIG` naming the empty config.
    func baseEnvironment() -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("MPREFD_") && $0.key != "CREDENTIALS_DIRECTORY"
        }
        environment["MPREFD_CONFIG"] = emptyConfigPath
        return environment
    }

    /// Runs `mprefd ARGUMENTS` (with `--db DATABASE` appended unless `database` is `nil`).
    func run(
        _ arguments: [String], database: String?? = .some(nil), stdin: String? = nil,
        environment extra: [String: String] = [:], removing: [String] = []
    ) async throws -> ChildProcess.Result {
        var arguments = arguments
        switch database {
        case .some(.none): arguments += ["--db", databasePath]
        case .some(.some(let path)): arguments += ["--db", path]
        case .none: break
        }
        var environment = baseEnvironment().merging(extra) { _, new in new }
        for name in removing { environment[name] = nil }
        return try await ChildProcess.run(
            BuiltBinaries.mprefd, arguments, environment: environment, in: directory, stdin: stdin)
    }

    /// Runs `sqlite3 ARGUMENTS`.
    func sqlite(_ arguments: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(
            "/usr/bin/env", ["sqlite3"] + arguments, environment: ProcessInfo.processInfo.environment, in: directory)
    }

    /// Rows of `sql` as `sqlite3 -json` gives them (`[]` for no rows), read in process
    /// (``databaseRows(_:in:busyTimeout:)``). Waits up to 10 s for a lock (a reader right after a
    /// `kill -9` recovers the WAL, which needs one; the daemon may hold it).
    func query(_ sql: String, database: String? = nil) async throws -> [[String: Any]] {
        try await databaseRows(sql, in: database ?? databasePath)
    }
}

/// Checks `condition` until it holds or `timeout` passes; whether it held. The one condition wait of
/// these tests (a database row, a file, a log line has no event to await). The checks start 10 ms
/// apart and back off to 200 ms: a quick event is seen at once, a slow one costs few checks (each
/// may read the database or start an `mprefd` process, on a 2-core machine that runs every test at once).
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    var interval = Duration.milliseconds(10)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
        interval = min(interval * 2, .milliseconds(200))
    }
    return try await condition()
}

/// `mprefd ARGUMENTS`' parse, in process: the exit status and the output `mprefd` gives when the
/// arguments do not parse (`MprefCommand.parse`, which its `main` calls before anything is opened),
/// or `nil` when they parse into a command. For tables of bad arguments; the binary's side of a
/// parse failure (the same line on stderr, the exit status) is tested through the real binary.
func parseFailure(_ arguments: [String]) -> ChildProcess.Result? {
    guard case .exit(let code, let stdout, let stderr) = MprefCommand.parse(arguments) else { return nil }
    return ChildProcess.Result(
        status: code.rawValue, stdout: stdout.map { $0 + "\n" } ?? "", stderr: stderr.map { $0 + "\n" } ?? "")
}
