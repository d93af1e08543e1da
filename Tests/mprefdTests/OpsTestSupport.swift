import Foundation
import MprefTestSupport
import Testing

/// One scene for the operator commands: a temp directory (`CLI`), the real `mpref-sim` binary on a
/// loopback port with a scenario file, a config naming both, and optionally `mprefd run`.
///
/// Always `defer { scene.tearDown() }` right after creating it.
final class OpsScene: @unchecked Sendable {
    let cli: CLI
    let simulator: ChildProcess
    let port: Int
    let clientID = "DEMO_Co"
    private(set) var daemon: ChildProcess?

    var configPath: String { cli.directory.appendingPathComponent("mprefd.yaml").path }

    /// Starts the simulator with `scenarios` (the mpref-sim scenario file, JSON) and writes
    /// `mprefd.yaml` with fast polling and `extraYAML` (top-level sections) appended.
    init(scenarios: String, extraYAML: String = "") async throws {
        cli = try CLI()
        #expect(FileManager.default.isExecutableFile(atPath: BuiltBinaries.mprefSim), "build first: swift build")
        let scenarioPath = try cli.write("scenarios.json", scenarios)
        let portFile = cli.directory.appendingPathComponent("sim.port").path
        simulator = try ChildProcess(
            BuiltBinaries.mprefSim, ["--port", "0", "--port-file", portFile, "--scenarios", scenarioPath],
            environment: ProcessInfo.processInfo.environment, in: cli.directory, output: .log("sim"))
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while port == nil, simulator.isRunning, ContinuousClock.now < deadline {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if port == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard let port else {
            simulator.stopNow()
            cli.cleanUp()
            throw OpsTestFailure("mpref-sim did not write its port; log:\n\(simulator.log)")
        }
        self.port = port
        try cli.write(
            "mprefd.yaml",
            """
            database:
              path: \(cli.databasePath)
            polling:
              initial_delay_s: 0.2
              max_delay_s: 0.5
            accounts:
              \(clientID):
                base_url: http://127.0.0.1:\(port)/Profiles
            \(extraYAML)
            """)
    }

    /// Stops the daemon and the simulator, removes the directory. Synchronous, for `defer`.
    func tearDown() {
        daemon?.stopNow()
        simulator.stopNow()
        cli.cleanUp()
    }

    /// `mprefd ARGS` with `$MPREFD_CONFIG` naming the scene's config (which names the database).
    func mprefd(_ arguments: [String]) async throws -> ChildProcess.Result {
        try await cli.run(arguments, database: .none, environment: ["MPREFD_CONFIG": configPath])
    }

    /// `mprefd ARGS` as a child left running (e.g. a `wait` to interrupt), output in a log file.
    func startMprefd(_ arguments: [String], logName: String) throws -> ChildProcess {
        var environment = cli.baseEnvironment()
        environment["MPREFD_CONFIG"] = configPath
        return try ChildProcess(
            BuiltBinaries.mprefd, arguments, environment: environment, in: cli.directory, output: .log(logName))
    }

    /// Starts `mprefd run`, waits for its "mprefd started" line, then checks that `mprefd status` says
    /// it is running (exit 0, or 4 when degraded, e.g. by a dead hook run left in the database).
    @discardableResult
    func startDaemon() async throws -> ChildProcess {
        let daemon = try startMprefd(["run"], logName: "daemon")
        self.daemon = daemon
        let started = await eventually { daemon.log.contains("mprefd started") || !daemon.isRunning }
        guard started, daemon.isRunning else {
            throw OpsTestFailure("the daemon did not come up; log:\n\(daemon.log)")
        }
        let status = try await mprefd(["status"])
        guard [0, 4].contains(status.status) else {
            throw OpsTestFailure(
                "the daemon started but status says \(status.status): \(status.stdout)\(status.stderr)")
        }
        return daemon
    }

    /// Checks `condition` until it holds or `timeout` passes (see `eventually`); whether it held.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await mprefdTests.eventually(timeout: timeout, condition)
    }
}

/// A setup step that failed (the child's log is in the message).
struct OpsTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Holds the database file's lock the way a daemon does (an exclusive `flock` on the file, its PID
/// noted in `<database>.lock`), to play a hung daemon. The database must exist. (Releasing closes a
/// descriptor of the file: do not use it while this process has the database open with SQLite.)
final class HeldDaemonLock {
    private let descriptor: Int32
    private var isHeld = true

    init(databasePath: String) throws {
        descriptor = open(databasePath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw OpsTestFailure("cannot lock \(databasePath): errno \(errno)")
        }
        try Data("\(getpid())\n".utf8).write(to: URL(fileURLWithPath: databasePath + ".lock"))
    }

    /// Releases the lock (closing the file). Safe to call twice.
    func release() {
        guard isHeld else { return }
        isHeld = false
        close(descriptor)
    }
}

extension ChildProcess.Result {
    /// stdout as a JSON object.
    func object() throws -> [String: Any] {
        try #require(try json() as? [String: Any], "not a JSON object: \(stdout)\nstderr: \(stderr)")
    }
}
