import Foundation
import Testing
import MprefTestSupport

/// Issue 17.1: one daemon per database *file*, whatever path reaches it.
@Suite(.serialized) struct SingleInstanceTests {
    /// Starts `mprefd run --db PATH` and expects it to be refused with exit 75 (it is stopped and the
    /// test fails if it keeps running instead).
    private func expectRefused(_ scene: DaemonScene, db path: String, _ what: String) async throws -> String {
        let arguments = ["run", "--config", scene.configPath, "--db", path]
        let second = try ChildProcess(
            BuiltBinaries.mprefd, arguments, environment: scene.cli.baseEnvironment(), in: scene.cli.directory,
            output: .log("second"))
        let status = await second.waitForExit(timeout: .seconds(15))
        if status == nil { _ = await second.stop() }
        #expect(status == 75, "\(what): a second daemon was not refused; its log:\n\(second.log)")
        return second.log
    }

    @Test func aSecondDaemonIsRefusedThroughASymlinkAHardLinkAndWithoutTheLockFile() async throws {
        let scene = try await DaemonScene.start()
        try scene.writeConfig()
        _ = try await scene.mprefd(["migrate"])
        #expect(try await scene.mprefd(["add-token", "1701"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(try await scene.eventually { daemon.log.contains("scheduler started") }, "\(daemon.log)")

        let database = scene.cli.databasePath
        let symlink = scene.cli.directory.appendingPathComponent("symlinked.sqlite3").path
        let hardLink = scene.cli.directory.appendingPathComponent("hardlinked.sqlite3").path
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: database)
        #expect(link(database, hardLink) == 0)

        let viaSymlink = try await expectRefused(scene, db: symlink, "symlink")
        #expect(viaSymlink.contains("PID \(daemon.pid)"), "\(viaSymlink)")
        _ = try await expectRefused(scene, db: hardLink, "hard link")
        #expect(
            !FileManager.default.fileExists(atPath: hardLink + "-wal"), "the refused daemon must not open the database")

        try FileManager.default.removeItem(atPath: database + ".lock")
        _ = try await expectRefused(scene, db: database, "deleted .lock file")

        // `status` sees the running daemon through the symlink too, with read access only.
        for path in [database, symlink] {
            let status = try await scene.cli.run(
                ["status", "--json", "--config", scene.configPath], database: .some(path))
            #expect(
                try status.object()["lock_held"] as? Bool == true,
                "status --db \(path): \(status.stdout) \(status.stderr)")
        }
        #expect(await daemon.stop() == 0)
        #expect(try await scene.rows("PRAGMA integrity_check").first?.values.first as? String == "ok")
    }
}
