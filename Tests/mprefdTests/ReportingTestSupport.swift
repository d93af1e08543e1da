import Foundation
import MprefTestSupport
import Synchronization
import Testing

/// Helpers for the packaging, reporting and metrics tests: system tools
/// (installed with apt-get when missing and possible), the `sqlite3` CLI.
enum PackagingTools {
    /// The full path of `command` on `$PATH` (plus the sbin directories), or `nil`.
    static func which(_ command: String) -> String? {
        let path =
            (ProcessInfo.processInfo.environment["PATH"] ?? "")
            + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static let installLock = Mutex<[String: Bool]>([:])

    /// Whether `command` exists, installing Debian package `package` with `apt-get install -y`
    /// first when it is missing and this process runs as root. `.ci/run` installs the same packages;
    /// this makes a developer's `swift test` work on a fresh machine too. The answer is cached.
    static func ensure(_ command: String, package: String) -> Bool {
        installLock.withLock { known in
            if let answer = known[command] { return answer }
            var found = which(command) != nil
            if !found, getuid() == 0, let aptGet = which("apt-get") {
                var environment = ProcessInfo.processInfo.environment
                environment["DEBIAN_FRONTEND"] = "noninteractive"
                if runSync(aptGet, ["install", "-y", "--no-install-recommends", package], environment: environment) != 0
                {
                    _ = runSync(aptGet, ["update"], environment: environment)
                    _ = runSync(
                        aptGet, ["install", "-y", "--no-install-recommends", package], environment: environment)
                }
                found = which(command) != nil
            }
            known[command] = found
            return found
        }
    }

    /// Runs a program to its end, output discarded; returns its exit status (-1 when it cannot start).
    private static func runSync(_ path: String, _ arguments: [String], environment: [String: String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// This process's environment without `MPREFD_*` and `CREDENTIALS_DIRECTORY`.
    static func cleanEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MPREFD_") && $0.key != "CREDENTIALS_DIRECTORY" }
    }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A loopback TCP port free now, for a listener a child process opens later. Picked at random
    /// below the kernel's ephemeral range (32768–60999 by default), so that no outgoing connection of
    /// the other tests running meanwhile can take it before the child binds it; port 0's pick (an
    /// ephemeral port) only when 100 tries found none.
    static func freeTCPPort() throws -> Int {
        for _ in 0..<100 {
            let port = Int.random(in: 20_000..<32_768)
            if try bindable(port) { return port }
        }
        return try boundPort(0)
    }

    private static func bindable(_ port: Int) throws -> Bool {
        do {
            return try boundPort(port) == port
        } catch is PackagingTestError {
            return false
        }
    }

    /// Binds a socket to 127.0.0.1:`port` (0: any) and returns the port it got; the socket is closed.
    private static func boundPort(_ port: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PackagingTestError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw PackagingTestError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw PackagingTestError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Checks `condition` every `interval` until it holds; throws after `timeout`. For waiting on
    /// another process's progress, which cannot be awaited directly.
    static func waitUntil(
        _ what: String, timeout: Duration = .seconds(90), interval: Duration = .milliseconds(100),
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            if try await condition() { return }
            if ContinuousClock.now >= deadline {
                throw PackagingTestError("timed out after \(timeout) waiting for \(what)")
            }
            try await Task.sleep(for: interval)
        }
    }
}

/// A failure of the test machinery itself, with a message.
struct PackagingTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The `sqlite3` command-line shell.
enum SQLiteShell {
    /// Who runs `sqlite3`: this process's user, or (as root) uid/gid 65534 through `setpriv`, the
    /// stand-in for an analyst who may read the database only through its group.
    enum Reader: Sendable {
        case me
        case groupMember(gid: UInt32)
    }

    /// Rows of `sql` as JSON objects (`-json`); throws with sqlite3's stderr when it fails.
    static func rows(
        _ database: String, _ sql: String, options: [String] = ["-readonly"], as reader: Reader = .me,
        directory: URL
    ) async throws -> [[String: Any]] {
        let result = try await run(database, sql, options: options + ["-json"], as: reader, directory: directory)
        guard result.status == 0 else {
            throw PackagingTestError("sqlite3 failed (\(result.status)): \(result.stderr)\nSQL: \(sql)")
        }
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw PackagingTestError("sqlite3 -json printed no array: \(text)")
        }
        return rows
    }

    /// Runs `sqlite3 -cmd '.timeout 5000' OPTIONS DATABASE SQL`. The busy timeout is what
    /// docs/REPORTING.md tells analysts to use: without it, two readers opening a WAL database at
    /// the same moment after the daemon stopped can get "database is locked" while one of them
    /// recovers the WAL index.
    static func run(_ database: String, _ sql: String, options: [String], as reader: Reader = .me, directory: URL)
        async throws -> ChildProcess.Result
    {
        let options = ["-cmd", ".timeout 5000"] + options
        guard let sqlite3 = PackagingTools.which("sqlite3") else {
            throw PackagingTestError("sqlite3 is not installed (apt-get install sqlite3)")
        }
        var environment = PackagingTools.cleanEnvironment()
        environment["HOME"] = "/nonexistent"  // no ~/.sqliterc
        switch reader {
        case .me:
            return try await ChildProcess.run(
                sqlite3, options + [database, sql], environment: environment, in: directory, timeout: .seconds(120))
        case .groupMember(let gid):
            guard let setpriv = PackagingTools.which("setpriv") else {
                throw PackagingTestError("setpriv (util-linux) is missing")
            }
            return try await ChildProcess.run(
                setpriv, ["--reuid=65534", "--regid=\(gid)", "--clear-groups", sqlite3] + options + [database, sql],
                environment: environment, in: directory, timeout: .seconds(120))
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The value at `key` as an Int (JSON numbers), `nil` for null or missing.
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    func double(_ key: String) -> Double? { (self[key] as? NSNumber)?.doubleValue }
    func string(_ key: String) -> String? { self[key] as? String }
}

/// A database produced by one real end-to-end run, shared by every reporting test (it takes a few
/// seconds): `mpref-sim` with a mix of scenarios, `mprefd add-token`, `mprefd run` until every
/// export but one is finished and every hook has run, then SIGTERM.
///
/// While the daemon runs, the wait loop itself reads the database the way an analyst does — with
/// `sqlite3 'file:…?mode=ro'` and `sqlite3 -readonly`, as a member of the database's group only
/// when the tests run as root — and records every read.
struct ReportingRun: Sendable {
    /// The account of the run.
    static let clientID = "ACME_Co"
    /// The access tokens of the run and what the simulator answers them.
    enum Token {
        /// Processing twice, then Complete with 1000 rows, 50000 bytes (the one docs/REPORTING.md's history query names).
        static let history: Int = 123_456
        /// Complete at the first poll: 3000 rows, 120000 bytes.
        static let quick: Int = 123_451
        /// Processing once, then Complete: 2000 rows, 90000 bytes.
        static let second: Int = 123_452
        /// Processing once, then Error → failed; its failure hook (`exit 3`, max 1 attempt) is dead.
        static let error: Int = 123_453
        /// 503 with Retry-After: 1, then Complete: 5 rows, 500 bytes.
        static let unavailable: Int = 123_454
        /// Processing forever: still watching at the end.
        static let stuck: Int = 123_455
        /// 500, then Complete: 7 rows, 700 bytes.
        static let serverError: Int = 123_457
    }
    /// access token → (rows, bytes) of the exports that complete.
    static let completed: [Int: (rows: Int, bytes: Int)] = [
        Token.history: (1000, 50_000), Token.quick: (3000, 120_000), Token.second: (2000, 90_000),
        Token.unavailable: (5, 500), Token.serverError: (7, 700),
    ]
    static let allTokens = [
        Token.quick, Token.second, Token.error, Token.unavailable, Token.stuck, Token.history, Token.serverError,
    ]

    let directory: URL
    let databasePath: String
    /// `mprefd run`'s exit status after SIGTERM.
    let daemonExitStatus: Int32?
    let daemonLog: String
    /// Reads made while the daemon was running, and the failures among them (sqlite3's stderr).
    let readsWhileRunning: Int
    let readFailures: [String]
    /// Who made those reads.
    let readerDescription: String
    /// The last `token_summary` rows read with `mode=ro` while the daemon ran: access token → state.
    let lastStatesSeen: [Int: String]

    /// The one shared run; the first test to ask starts it.
    static let shared = Task<ReportingRun, any Error> { try await ReportingRun.produce() }

    private static let scenarios = """
        {"default": [{"status": "Processing"}],
         "scenarios": [
          {"access_token": 123451, "steps": [{"status": "Complete", "row_count": 3000, "byte_count": 120000}]},
          {"access_token": 123452, "steps": [{"status": "Processing"}, {"status": "Complete", "row_count": 2000, "byte_count": 90000}]},
          {"access_token": 123453, "steps": [{"status": "Processing"}, {"status": "Error"}]},
          {"access_token": 123454, "steps": [{"unavailable": {"retry_after_s": 1}}, {"status": "Complete", "row_count": 5, "byte_count": 500}]},
          {"access_token": 123455, "steps": [{"status": "Processing"}]},
          {"access_token": 123456, "steps": [{"status": "Processing", "repeat": 2}, {"status": "Complete", "row_count": 1000, "byte_count": 50000}]},
          {"access_token": 123457, "steps": [{"http": 500}, {"status": "Complete", "row_count": 7, "byte_count": 700}]}
         ]}
        """

    private static func produce() async throws -> ReportingRun {
        // The shared run's directory outlives the tests that read it (there is no suite-level
        // teardown for it); remove those of earlier runs, once they are an hour old.
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        where name.hasPrefix("mprefd-reporting-") {
            let old = temporary.appendingPathComponent(name)
            if let modified = try? FileManager.default.attributesOfItem(atPath: old.path)[.modificationDate] as? Date,
                modified < Date().addingTimeInterval(-3600)
            {
                try? FileManager.default.removeItem(at: old)
            }
        }
        let directory = try PackagingTools.temporaryDirectory("mprefd-reporting")
        let simulator = try await SimulatorRun.start(scenarios: scenarios, in: directory)
        let databasePath = directory.appendingPathComponent("mprefd.sqlite3").path
        let configPath = directory.appendingPathComponent("mprefd.yaml").path
        try """
        database:
          path: \(databasePath)
        polling:
          initial_delay_s: 0.2
          max_delay_s: 1
          pause_jitter_s: 0
        hooks:
          on_complete: ['true']
          on_failure: ['exit 3']
          max_attempts: 1
        accounts:
          \(clientID):
            base_url: http://127.0.0.1:\(simulator.port)/Profiles
            download:
              enabled: true
              directory: \(directory.appendingPathComponent("exports").path)
              page_size: 700
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let environment = PackagingTools.cleanEnvironment()

        let add = try await ChildProcess.run(
            BuiltBinaries.mprefd,
            ["add-token", "--config", configPath, "--label", "nightly"] + allTokens.map(String.init),
            environment: environment, in: directory, timeout: .seconds(120))
        guard add.status == 0 else {
            throw PackagingTestError("mprefd add-token failed (\(add.status)): \(add.stderr)")
        }

        // As root, stand in for an analyst: the file's group becomes 65534 and the reads run as
        // uid/gid 65534, which may read it only through the group bits (the file is 0640).
        var reader = SQLiteShell.Reader.me
        var readerDescription = "the test's own user"
        if getuid() == 0, PackagingTools.which("setpriv") != nil {
            try FileManager.default.setAttributes([.groupOwnerAccountID: 65534], ofItemAtPath: databasePath)
            reader = .groupMember(gid: 65534)
            readerDescription = "uid/gid 65534 (group member only; file mode 0640)"
        }

        let daemon = try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", configPath], environment: environment, in: directory,
            output: .files("mprefd"))
        var reads = 0
        var failures: [String] = []
        var states: [Int: String] = [:]
        do {
            // Readers start once the daemon has the database open (its heartbeat row names its PID):
            // before that a group member cannot open a WAL database read-only (no -shm file yet; see
            // docs/REPORTING.md, "When the daemon is stopped").
            try await PackagingTools.waitUntil("mprefd run to open the database", timeout: .seconds(30)) {
                guard daemon.isRunning else { throw PackagingTestError("mprefd run exited early (\(daemon.stderr))") }
                let rows = try? await SQLiteShell.rows(
                    databasePath, "SELECT pid FROM daemon WHERE stopped_at IS NULL", directory: directory)
                return rows?.first?.int("pid") == Int(daemon.pid)
            }
            try await PackagingTools.waitUntil(
                "every export but one finished and every hook run ended", timeout: .seconds(120)
            ) {
                guard daemon.isRunning else { throw PackagingTestError("mprefd run exited early (\(daemon.stderr))") }
                // Both documented read-only forms, alternately.
                let summary = try await SQLiteShell.run(
                    "file:\(databasePath)?mode=ro", "SELECT access_token, state FROM token_summary",
                    options: ["-json"], as: reader, directory: directory)
                let hooks = try await SQLiteShell.run(
                    databasePath, "SELECT count(*) AS ended FROM hook_runs WHERE state IN ('succeeded', 'dead')",
                    options: ["-readonly", "-json"], as: reader, directory: directory)
                if daemon.isRunning { reads += 2 }
                for result in [summary, hooks] where result.status != 0 { failures.append(result.stderr) }
                guard summary.status == 0, hooks.status == 0 else { return false }
                let summaryRows =
                    (try? JSONSerialization.jsonObject(with: Data(summary.stdout.utf8)) as? [[String: Any]]) ?? []
                states = Dictionary(
                    summaryRows.compactMap { row in
                        row.int("access_token").flatMap { t in row.string("state").map { (t, $0) } }
                    },
                    uniquingKeysWith: { $1 })
                let hookRows =
                    (try? JSONSerialization.jsonObject(with: Data(hooks.stdout.utf8)) as? [[String: Any]]) ?? []
                let finished = states.values.filter { $0 != "watching" }.count
                return finished == allTokens.count - 1
                    && hookRows.first?.int("ended") == ReportingRun.completed.count + 1
            }
        } catch {
            await daemon.stop(grace: .seconds(30))
            await simulator.child.stop(grace: .seconds(30))
            throw PackagingTestError("\(error)\n--- mprefd log:\n\(daemon.stderr)")
        }
        let status = await daemon.stop(grace: .seconds(30))
        await simulator.child.stop(grace: .seconds(30))
        return ReportingRun(
            directory: directory, databasePath: databasePath, daemonExitStatus: status, daemonLog: daemon.stderr,
            readsWhileRunning: reads, readFailures: failures, readerDescription: readerDescription,
            lastStatesSeen: states)
    }
}

/// A running `mpref-sim`.
struct SimulatorRun: Sendable {
    let child: ChildProcess
    let port: Int

    /// Starts `mpref-sim --port 0 --port-file F --scenarios S` in `directory` and waits for the port.
    static func start(scenarios: String, in directory: URL) async throws -> SimulatorRun {
        let scenarioPath = directory.appendingPathComponent("scenarios.json").path
        let portPath = directory.appendingPathComponent("sim.port").path
        try scenarios.write(toFile: scenarioPath, atomically: true, encoding: .utf8)
        let child = try ChildProcess(
            BuiltBinaries.mprefSim, ["--port", "0", "--port-file", portPath, "--scenarios", scenarioPath],
            environment: PackagingTools.cleanEnvironment(), in: directory, output: .files("mpref-sim"))
        var port = 0
        do {
            try await PackagingTools.waitUntil("mpref-sim to write its port file", timeout: .seconds(30)) {
                guard child.isRunning else { throw PackagingTestError("mpref-sim exited: \(child.stderr)") }
                port =
                    (try? String(contentsOfFile: portPath, encoding: .utf8)).flatMap {
                        Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
                    } ?? 0
                return port > 0
            }
        } catch {
            await child.stop(grace: .seconds(30))
            throw error
        }
        return SimulatorRun(child: child, port: port)
    }
}

/// The ```sql blocks of docs/REPORTING.md, by the name after `sql` on the fence.
enum ReportingDocument {
    static let path = BuiltBinaries.path("docs/REPORTING.md")

    /// name → SQL, in document order.
    static func queries() throws -> [(name: String, sql: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var result: [(String, String)] = []
        var current: (name: String, lines: [String])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if var block = current {
                if line.hasPrefix("```") {
                    result.append((block.name, block.lines.joined(separator: "\n")))
                    current = nil
                } else {
                    block.lines.append(String(line))
                    current = block
                }
            } else if line.hasPrefix("```sql") {
                let name = line.dropFirst("```sql".count).trimmingCharacters(in: .whitespaces)
                current = (name, [])
            }
        }
        return result
    }
}
