import Foundation
import MyPreferencesSimulator
import Testing
import MprefTestSupport

/// Issue 17.7: a relative `database.path` resolves against the configuration file's directory,
/// not the current directory; paths are shown absolute, and hooks get an absolute `MPREFD_DB`.
@Suite(.serialized) struct RelativeDatabasePathTests {
    @Test func aRelativeDatabasePathIsTheConfigFilesDirectorysFile() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 1771, scenario: Scenario([.status("Complete", rowCount: 1, byteCount: 1)]))
            ]))
        let configDirectory = scene.cli.directory.appendingPathComponent("conf")
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
        let hookOutput = scene.cli.directory.appendingPathComponent("hook-db.txt").path
        let configPath = configDirectory.appendingPathComponent("mprefd.yaml").path
        try """
        database:
          path: state/mprefd.sqlite3
        polling:
          initial_delay_s: 0.1
          max_delay_s: 0.2
        hooks:
          on_complete: ['printf %s "$MPREFD_DB" > \(hookOutput)']
        accounts:
          \(scene.clientID):
            base_url: \(scene.simulator.baseURL)
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(
            at: configDirectory.appendingPathComponent("state"), withIntermediateDirectories: true)
        let expected = configDirectory.appendingPathComponent("state/mprefd.sqlite3").standardized.path

        // Admin commands run elsewhere (the current directory is the test directory, not conf/).
        let added = try await scene.cli.run(
            ["add-token", "1771", "--verbose", "--config", configPath], database: .none)
        #expect(added.status == 0, "\(added.stderr)")
        #expect(FileManager.default.fileExists(atPath: expected), "the database is not next to the config file")
        #expect(!FileManager.default.fileExists(atPath: scene.cli.directory.appendingPathComponent("state").path))
        #expect(added.stderr.contains("database: \(expected) "), "\(added.stderr)")

        let check = try await scene.cli.run(["check-config", "--config", configPath], database: .none)
        #expect(check.stdout.contains("# database in use: \(expected) "), "\(check.stdout)")

        let daemon = try ChildProcess(
            BuiltBinaries.mprefd, ["run", "--config", configPath], environment: scene.cli.baseEnvironment(),
            in: scene.cli.directory, output: .log("daemon"))
        defer { Task { await scene.finish(daemon) } }
        let ran = await scene.eventually { !((try? String(contentsOfFile: hookOutput, encoding: .utf8)) ?? "").isEmpty }
        #expect(ran, "\(daemon.log)")
        #expect((try? String(contentsOfFile: hookOutput, encoding: .utf8)) == expected)
        #expect(await daemon.stop() == 0)
    }
}
