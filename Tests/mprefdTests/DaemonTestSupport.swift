import Foundation
import Logging
import MyPreferencesSimulator
import Testing

/// A running `mprefd run` child process (the real binary), its log in a file.
final class DaemonProcess: @unchecked Sendable {
    let process: Process
    let logPath: String

    init(cli: CLI, config: String, environment extra: [String: String] = [:]) throws {
        logPath = cli.directory.appendingPathComponent("daemon-\(UUID().uuidString.prefix(8)).log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["run", "--config", config]
        process.environment = cli.baseEnvironment().merging(extra) { _, new in new }
        process.currentDirectoryURL = cli.directory
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit (up to `timeout`); returns its status, or `nil` if it is still running.
    func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited after 15 s. Safe to call twice.
    func stop() async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        signal(SIGTERM)
        if let status = await waitForExit(timeout: .seconds(15)) { return status }
        signal(SIGKILL)
        return await waitForExit(timeout: .seconds(5))
    }
}

/// One end-to-end scene: an in-process MyPreferences simulator over loopback, a temp directory with
/// a config naming it, and the real `mprefd` binary for admin commands and the daemon.
struct DaemonScene {
    let cli: CLI
    let simulator: MyPreferencesSimulator
    let clientID = "DEMO_Co"

    static func start(scenarios: ScenarioBook = ScenarioBook()) async throws -> DaemonScene {
        let cli = try CLI()
        var configuration = SimulatorConfiguration()
        configuration.scenarios = scenarios
        let simulator = try await MyPreferencesSimulator.start(configuration, logger: Logger(label: "sim"))
        return DaemonScene(cli: cli, simulator: simulator)
    }

    func finish(_ daemons: DaemonProcess?...) async {
        for daemon in daemons { _ = await daemon?.stop() }
        await simulator.stop()
        cli.cleanUp()
    }

    /// Writes `mprefd.yaml`: the database, fast polling, the simulator's account, and `extra` YAML
    /// (top-level sections such as `hooks:`) appended verbatim.
    @discardableResult
    func writeConfig(polling: String = "initial_delay_s: 0.2\n  max_delay_s: 0.5", extra: String = "") throws -> String {
        try cli.write("mprefd.yaml", """
            database:
              path: \(cli.databasePath)
            log:
              level: debug
            polling:
              \(polling)
            accounts:
              \(clientID):
                base_url: \(simulator.baseURL)
            \(extra)
            """)
    }

    var configPath: String { cli.directory.appendingPathComponent("mprefd.yaml").path }

    /// `mprefd ARGS --config mprefd.yaml` (the config names the database).
    func mprefd(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLI.Result {
        try await cli.run(arguments + ["--config", configPath], database: .none, environment: environment)
    }

    func startDaemon(environment: [String: String] = [:]) throws -> DaemonProcess {
        try DaemonProcess(cli: cli, config: configPath, environment: environment)
    }

    func rows(_ sql: String) async throws -> [[String: Any]] {
        try await cli.query(sql)
    }

    func count(_ sql: String) async throws -> Int {
        let rows = try await cli.query(sql)
        return (rows.first?.values.first as? Int) ?? 0
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// The simulator's request log for one access token, oldest first.
    func requests(for accessToken: Int64) async -> [RecordedRequest] {
        await simulator.requests().filter { $0.accessToken == accessToken }
    }
}
