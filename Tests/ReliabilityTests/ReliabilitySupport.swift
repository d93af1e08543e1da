import Foundation
import Logging
import MprefCore
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// The reliability suites. With `MPREFD_RELIABILITY=full` they run one at a time (full size, they time
/// real processes on a 2-core machine); the fast subset inside `make test` runs beside the other tests.
@Suite(ReliabilityMode.order) enum Reliability {}

extension Reliability {
    /// The real-process scenes run in six lanes, one suite at a time in each: at most six of them load
    /// the machine at once beside the rest of `make test` (the fuzzers run beside them). The lanes are
    /// balanced by their duration alone (9–17 s each on an idle 2-core machine), so that the last of
    /// them ends with the rest of the suite: contention; the fault matrix and shutdown; the host-wide
    /// 503 storm; the download kill rounds and the other download faults; crash recovery and the
    /// daemon on a full disk; a download on a full disk.
    @Suite(.serialized) enum Lane1 {}
    /// See ``Lane1``.
    @Suite(.serialized) enum Lane2 {}
    /// See ``Lane1``.
    @Suite(.serialized) enum Lane3 {}
    /// See ``Lane1``.
    @Suite(.serialized) enum Lane4 {}
    /// See ``Lane1``.
    @Suite(.serialized) enum Lane5 {}
    /// See ``Lane1``.
    @Suite(.serialized) enum Lane6 {}
}

/// How much of the suite runs: `MPREFD_RELIABILITY=full` (`make test-reliability`) runs everything at
/// full size; without it a fast subset runs inside `make test`.
enum ReliabilityMode {
    static let environment = ProcessInfo.processInfo.environment
    static let isFull = environment["MPREFD_RELIABILITY"] == "full"
    /// Crash-recovery rounds: `ROUNDS=N`, else 20 (full) or 3 (fast).
    static let rounds = environment["ROUNDS"].flatMap(Int.init).map { max(1, $0) } ?? (isFull ? 20 : 3)
    /// Generated fuzz inputs per generator: `FUZZ_CASES=N`, else 100,000 (full) or 3,000 (fast: a
    /// smoke run of every generator, each kind a few hundred times, beside the slower scenes).
    static let fuzzCases = environment["FUZZ_CASES"].flatMap(Int.init) ?? (isFull ? 100_000 : 3_000)
    /// The seed of every random choice in a run: `SEED=N` replays a run; else a fresh one (printed).
    static let seed: UInt64 = environment["SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
    /// `.serialized` in the full run; in the fast subset a no-op trait (the suites run in parallel).
    static var order: any SuiteTrait { isFull ? ParallelizationTrait.serialized : ConditionTrait.enabled(if: true) }
}

/// A failure in setting a scene up (the message carries the relevant log).
struct SceneFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One scene: a temp directory, an in-process MyPreferences simulator on loopback, a config file
/// naming the database and the accounts, and the real `mprefd` binary (admin commands, `mprefd run`).
final class ReliabilityScene: @unchecked Sendable {
    static let clientID = "DEMO_Co"

    let directory: URL
    let simulator: MyPreferencesSimulator
    /// Where the database lives (the temp directory unless a test puts it elsewhere, e.g. on a tmpfs).
    var databasePath: String
    var configPath: String { directory.appendingPathComponent("mprefd.yaml").path }
    private(set) var daemons: [ChildProcess] = []
    private var others: [ChildProcess] = []

    init(scenarios: ScenarioBook = ScenarioBook(), defaultScenario: Scenario = .standard) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mprefd-rel-\(UUID().uuidString.prefix(12))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        databasePath = directory.appendingPathComponent("mprefd.sqlite3").path
        var configuration = SimulatorConfiguration()
        configuration.scenarios = scenarios
        configuration.defaultScenario = defaultScenario
        var logger = Logger(label: "sim")
        logger.logLevel = .error
        simulator = try await MyPreferencesSimulator.start(configuration, logger: logger)
        #expect(FileManager.default.isExecutableFile(atPath: BuiltBinaries.mprefd), "\(BuiltBinaries.mprefdMissing)")
    }

    /// Ends every child this scene started (SIGTERM, SIGKILL after 5 s); synchronous (it does not wait), for `defer`.
    func endChildren() {
        for child in daemons + others { child.stopNow(grace: .seconds(5)) }
    }

    /// Removes the scene's directory (after `endChildren()`); synchronous, for `defer`.
    func removeDirectory() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Ends every child this scene started, stops the simulator, removes the directory.
    func tearDown() async {
        endChildren()
        await simulator.stop()
        removeDirectory()
    }

    /// Writes `mprefd.yaml`: database, debug logs, `polling` lines, the simulator's account plus
    /// `accounts` (extra YAML account entries), and `extra` top-level YAML appended verbatim.
    @discardableResult
    func writeConfig(polling: [String], accounts: String = "", extra: String = "", busyTimeout: Int = 10) throws
        -> String
    {
        let text = """
            database:
              path: \(databasePath)
              busy_timeout_s: \(busyTimeout)
            log:
              level: debug
            polling:
            \(polling.map { "  " + $0 }.joined(separator: "\n"))
            accounts:
              \(Self.clientID):
                base_url: \(simulator.baseURL)
            \(accounts)
            \(extra)
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        return configPath
    }

    /// The environment of every `mprefd` run: this process's, without `MPREFD_*`, config named.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("MPREFD_") && $0.key != "CREDENTIALS_DIRECTORY"
        }
        environment["MPREFD_CONFIG"] = configPath
        return environment
    }

    /// `mprefd ARGS` to its end; the exit status and combined output.
    @discardableResult
    func mprefd(_ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
        try await run(BuiltBinaries.mprefd, arguments, stdin: stdin, environment: environment)
    }

    /// Starts `mprefd run` (optionally through `/bin/sh -c 'PREFIX exec mprefd run'`) and waits until it logs "mprefd started".
    @discardableResult
    func startDaemon(shellPrefix: String? = nil) async throws -> ChildProcess {
        let child: ChildProcess
        if let shellPrefix {
            // Through a pipe: a file-size limit later set on the daemon (`prlimit --pid`) must spare its log.
            child = try ChildProcess(
                "/bin/sh", ["-c", "\(shellPrefix) exec \(BuiltBinaries.mprefd) run"], environment: environment,
                in: directory,
                output: .logThroughPipe("daemon"))
        } else {
            child = try ChildProcess(
                BuiltBinaries.mprefd, ["run"], environment: environment, in: directory, output: .log("daemon"))
        }
        daemons.append(child)
        let up = await eventually(timeout: .seconds(30)) { child.log.contains("scheduler started") || !child.isRunning }
        guard up, child.isRunning else { throw SceneFailure("the daemon did not start; log:\n\(child.log)") }
        return child
    }

    /// Starts any other long-running child that `tearDown()` must end.
    func startChild(_ executable: String, _ arguments: [String], logName: String) throws -> ChildProcess {
        let child = try ChildProcess(
            executable, arguments, environment: ProcessInfo.processInfo.environment, in: directory,
            output: .log(logName))
        others.append(child)
        return child
    }

    /// Rows of `sql` as `sqlite3 -json` gives them (``databaseRows(_:in:busyTimeout:)``, in process,
    /// waiting up to 20 s for a lock).
    func query(_ sql: String) async throws -> [[String: Any]] {
        do {
            return try await databaseRows(sql, in: databasePath, busyTimeout: 20)
        } catch {
            throw SceneFailure("the query failed: \(error)\nSQL: \(sql)")
        }
    }

    /// The first column of the first row of `sql`, as an integer (0 when no row).
    func scalar(_ sql: String) async throws -> Int {
        let rows = try await query(sql)
        return (rows.first?.values.first as? Int) ?? 0
    }

    /// `PRAGMA integrity_check`'s answer (`ok` when sound).
    func integrity() async throws -> String {
        let rows = try await query("PRAGMA integrity_check")
        return rows.map { ($0.values.first as? String) ?? "?" }.joined(separator: "; ")
    }

    /// Tokens whose `attempt` differs from their number of `polls` rows (the two commit together).
    func attemptMismatches() async throws -> Int {
        try await scalar(
            "SELECT count(*) FROM tokens t WHERE t.attempt <> (SELECT count(*) FROM polls p WHERE p.token_id = t.id)")
    }

    /// Requests the simulator answered (not dropped), per access token.
    func answeredRequests() async -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        for request in await simulator.requests() where request.status != nil {
            if let token = request.accessToken { counts[token, default: 0] += 1 }
        }
        return counts
    }

    /// `polls` rows per access token.
    func committedPolls() async throws -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        for row in try await query(
            "SELECT t.access_token AS token, count(p.id) AS n FROM tokens t LEFT JOIN polls p ON p.token_id = t.id GROUP BY t.id"
        ) {
            counts[Int64(row["token"] as? Int ?? 0)] = row["n"] as? Int ?? 0
        }
        return counts
    }

    /// Checks `condition` until it holds or `timeout` passes; whether it held. The checks start 10 ms
    /// apart and back off to 200 ms (many read the database).
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

    /// Runs a program to its end; its stdout and stderr together, in the order written.
    func run(_ executable: String, _ arguments: [String], stdin: String?, environment: [String: String]?) async throws
        -> (status: Int32, output: String)
    {
        let result = try await ChildProcess.run(
            executable, arguments, environment: environment, in: directory, stdin: stdin, mergingStderr: true)
        return (result.status, result.stdout)
    }
}

/// Lines of `log` (the daemon's logfmt output) containing `text`.
func logLines(_ log: String, containing text: String) -> [Substring] {
    log.split(separator: "\n").filter { $0.contains(text) }
}

/// Runs `body` on a thread of its own and returns its result: for seconds of synchronous CPU work,
/// which would otherwise hold one of the few threads of the cooperative pool (2 on 2 cores) that every
/// other test's tasks — and the in-process simulators answering the daemons — run on.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.stackSize = 16 << 20
        thread.start()
    }
}

/// Writes zeros to `path` until the file system refuses (ENOSPC): 64 KiB at a time, then 512 bytes
/// at a time to fill the last partial chunk too.
func fillDisk(_ path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let chunk = [UInt8](repeating: 0, count: 64 << 10)
    var small = false
    while true {
        let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, small ? 512 : chunk.count) }
        if written <= 0 {
            if small { break }
            small = true
        }
    }
}
