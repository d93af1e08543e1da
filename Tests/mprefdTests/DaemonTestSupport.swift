import Foundation
import Logging
import MprefTestSupport
import MyPreferencesSimulator
import Testing

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

    func finish(_ daemons: ChildProcess?...) async {
        for daemon in daemons { _ = await daemon?.stop() }
        await simulator.stop()
        cli.cleanUp()
    }

    /// Writes `mprefd.yaml`: the database, fast polling, the simulator's account, and `extra` YAML
    /// (top-level sections such as `hooks:`) appended verbatim.
    @discardableResult
    func writeConfig(polling: String = "initial_delay_s: 0.2\n  max_delay_s: 0.5", extra: String = "") throws -> String
    {
        try cli.write(
            "mprefd.yaml",
            """
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
    func mprefd(_ arguments: [String], environment: [String: String] = [:]) async throws -> ChildProcess.Result {
        try await cli.run(arguments + ["--config", configPath], database: .none, environment: environment)
    }

    /// `mprefd run --config mprefd.yaml`, its log in a file.
    func startDaemon(environment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", configPath],
            environment: cli.baseEnvironment().merging(environment) { _, new in new },
            in: cli.directory, output: .log("daemon"))
    }

    func rows(_ sql: String) async throws -> [[String: Any]] {
        try await cli.query(sql)
    }

    func count(_ sql: String) async throws -> Int {
        let rows = try await cli.query(sql)
        return (rows.first?.values.first as? Int) ?? 0
    }

    /// Checks `condition` until it holds or `timeout` passes (see `eventually`); returns whether it held.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await mprefdTests.eventually(timeout: timeout, condition)
    }

    /// The simulator's request log for one access token, oldest first.
    func requests(for accessToken: Int64) async -> [RecordedRequest] {
        await simulator.requests().filter { $0.accessToken == accessToken }
    }
}
