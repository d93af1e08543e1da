import Foundation
import Testing

/// Runs the real built `mprefd` binary (`.build/debug/mprefd`, found relative to this file) in a
/// fresh temporary directory, with a controlled environment.
struct CLI {
    /// What one run produced.
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        /// stdout parsed as JSON.
        func json() throws -> Any {
            try JSONSerialization.jsonObject(with: Data(stdout.utf8))
        }
    }

    /// The package root: two levels above this file's directory.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binary = packageRoot.appendingPathComponent(".build/debug/mprefd").path

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
            FileManager.default.isExecutableFile(atPath: Self.binary),
            "build the binary first: swift build --product mprefd")
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
    ) async throws -> Result {
        var arguments = arguments
        switch database {
        case .some(.none): arguments += ["--db", databasePath]
        case .some(.some(let path)): arguments += ["--db", path]
        case .none: break
        }
        var environment = baseEnvironment().merging(extra) { _, new in new }
        for name in removing { environment[name] = nil }
        return try await Self.runProcess(Self.binary, arguments, environment: environment, stdin: stdin, in: directory)
    }

    /// Runs `sqlite3 ARGUMENTS`.
    func sqlite(_ arguments: [String]) async throws -> Result {
        try await Self.runProcess(
            "/usr/bin/env", ["sqlite3"] + arguments, environment: ProcessInfo.processInfo.environment, stdin: nil,
            in: directory)
    }

    /// Rows of `sql` run by the `sqlite3` CLI as JSON objects (`[]` for no rows). Waits up to 10 s for
    /// a lock (a reader right after a `kill -9` recovers the WAL, which needs one; the daemon may hold it).
    func query(_ sql: String, database: String? = nil) async throws -> [[String: Any]] {
        let result = try await sqlite(["-cmd", ".timeout 10000", "-json", database ?? databasePath, sql])
        #expect(result.status == 0, "sqlite3 failed: \(result.stderr)")
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    /// Runs a program to its end; stdout and stderr go through files so large outputs cannot block it.
    static func runProcess(
        _ path: String, _ arguments: [String], environment: [String: String], stdin: String?, in directory: URL
    ) async throws -> Result {
        let id = UUID().uuidString
        let outURL = directory.appendingPathComponent("out-\(id)"),
            errURL = directory.appendingPathComponent("err-\(id)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = directory
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let inURL = directory.appendingPathComponent("in-\(id)")
            try Data(stdin.utf8).write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        try out.close()
        try err.close()
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        return Result(
            status: status,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// Checks `condition` until it holds or `timeout` passes; whether it held. The one condition wait of
/// these tests (a database row, a file, a log line has no event to await). The checks start 10 ms
/// apart and back off to 200 ms: a quick event is seen at once, a slow one costs few checks (each
/// may start a `sqlite3` or `mprefd` process, on a 2-core machine that runs every test at once).
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
