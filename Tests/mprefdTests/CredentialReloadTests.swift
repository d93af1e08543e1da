import Foundation
import Logging
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.8: after an account was paused for 401 and its secret file fixed, `mprefd resume
/// --account` makes the daemon re-read the credentials before polling again.
@Suite(.serialized) struct CredentialReloadTests {
    @Test func resumeAccountAfterFixingTheSecretFilePollsWithTheNewKey() async throws {
        let cli = try CLI()
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.auth = .pnauthinfo3(users: ["etl": "the-right-key"])
        simulatorConfiguration.scenarios = ScenarioBook(scenarios: [
            TokenScenario(accessToken: 1781, scenario: Scenario([.status("Complete", rowCount: 1, byteCount: 1)]))
        ])
        let simulator = try await MyPreferencesSimulator.start(simulatorConfiguration, logger: Logger(label: "sim"))
        let scene = DaemonScene(cli: cli, simulator: simulator)
        let secretPath = try cli.write("acme-key", "an-old-key\n")
        try scene.writeConfig(polling: "initial_delay_s: 0.1\n  max_delay_s: 0.2\n  auth_pause_s: 600", extra: "")
        // The account with PNAUTHINFO3 and a secret file next to the config (relative path).
        let config = try String(contentsOfFile: scene.configPath, encoding: .utf8).replacingOccurrences(
            of: "    base_url: \(simulator.baseURL)\n",
            with:
                "    base_url: \(simulator.baseURL)\n    auth:\n      scheme: pnauthinfo3\n      user_id: etl\n      secret_file: acme-key\n"
        )
        try config.write(toFile: scene.configPath, atomically: true, encoding: .utf8)
        #expect(try await scene.mprefd(["add-token", "1781"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }

        let paused = try await scene.eventually {
            try await scene.count("SELECT count(*) FROM pauses WHERE scope = 'account'") == 1
        }
        #expect(paused, "\(daemon.log)")

        try Data("the-right-key\n".utf8).write(to: URL(fileURLWithPath: secretPath))
        let resumed = try await scene.mprefd(["resume", "--account", scene.clientID])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let completed = try await scene.eventually(timeout: .seconds(15)) {
            try await scene.count("SELECT count(*) FROM tokens WHERE state = 'complete'") == 1
        }
        #expect(completed, "\(daemon.log)")
        #expect(daemon.log.contains("credentials were re-read"), "\(daemon.log)")
        #expect(await daemon.stop() == 0)
    }
}
