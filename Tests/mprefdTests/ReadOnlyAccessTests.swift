import Foundation
import Testing
import MprefTestSupport

/// Analysts and admins in the service's group have read access only (database 0640, directory 0750).
@Suite struct ReadOnlyAccessTests {
    /// Runs `argv` as uid/gid 65534 (nobody/nogroup) with no supplementary groups.
    func asGroupMember(_ cli: CLI, _ argv: [String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(
            "/usr/bin/setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups"] + argv,
            environment: ["PATH": "/usr/bin:/bin"], in: URL(fileURLWithPath: "/"))
    }

    @Test(
        .enabled(
            if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
            "needs root to switch to an unprivileged user"))
    func aGroupMemberReadsWhileNoDaemonRunsButCannotWrite() async throws {
        let root = "/tmp/mprefd-ro-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cli = try CLI()
        defer { cli.cleanUp() }
        let db = root + "/mprefd.sqlite3"
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "1", "2"], database: db).status == 0)
        let config = root + "/empty.yaml"
        FileManager.default.createFile(atPath: config, contents: Data(), attributes: [.posixPermissions: 0o644])
        // The service's layout: directory 0750 and files 0640, group = the analysts' group.
        for path in try FileManager.default.contentsOfDirectory(atPath: root).map({ root + "/" + $0 }) + [root] {
            _ = chown(path, 0, 65534)
        }
        _ = chmod(root, 0o750)
        let listed = try await asGroupMember(
            cli, [BuiltBinaries.mprefd, "list", "--json", "--db", db, "--config", config])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect((try? listed.json() as? [[String: Any]])?.count == 2)
        let sql = try await asGroupMember(
            cli, ["/usr/bin/sqlite3", "-readonly", db, "SELECT count(*) FROM token_summary"])
        #expect(sql.status == 0 && sql.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(sql.stderr)")
        let write = try await asGroupMember(
            cli, [BuiltBinaries.mprefd, "add-token", "--client-id", "ACME_Co", "3", "--db", db, "--config", config])
        #expect(write.status == 69)
        #expect(
            write.stderr.contains("read-only for this user") && write.stderr.contains("sudo -u mprefd"),
            "\(write.stderr)")
    }
}
