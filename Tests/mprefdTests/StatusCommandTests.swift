import Foundation
import MprefCore
import MprefTestSupport
import Testing

/// `mprefd status` as a monitoring check: the real binary, a real database, a real daemon.
@Suite struct StatusCommandTests {
    @Test func noDatabaseMeansNotRunningExit3() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["status", "--json"])
        #expect(result.status == 3, "\(result.stderr)")
        let json = try result.object()
        #expect(json["running"] as? Bool == false)
        #expect((json["reason"] as? String)?.contains("no database at") == true)
        #expect((json["database"] as? [String: Any])?["exists"] as? Bool == false)
        #expect(json["pid"] is NSNull)

        let human = try await cli.run(["status"])
        #expect(human.status == 3)
        #expect(human.stdout.contains("daemon:"))
        #expect(human.stdout.contains("NOT RUNNING"))
    }

    @Test func aDatabaseWithoutDaemonExits3() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "5"]).status == 0)
        let result = try await cli.run(["status", "--json"])
        #expect(result.status == 3)
        let json = try result.object()
        #expect(json["running"] as? Bool == false)
        #expect(json["lock_held"] as? Bool == false)
        #expect((json["reason"] as? String)?.contains("no daemon has ever run") == true)
        #expect((json["tokens"] as? [String: Int])?["watching"] == 1)
    }

    @Test func aRunningDaemonIsHealthyAndAStoppedOneIsNot() async throws {
        let scene = try await OpsScene(
            scenarios: #"{"scenarios": [{"access_token": 2, "steps": [{"status": "Processing"}]}]}"#)
        defer { scene.tearDown() }
        #expect(try await scene.mprefd(["add-token", "--client-id", "DEMO_Co", "1", "2"]).status == 0)
        let daemon = try await scene.startDaemon()
        // Token 1 completes (the simulator's default scenario), token 2 stays Processing.
        #expect(try await scene.mprefd(["wait", "1", "--timeout", "30s"]).status == 0)

        let result = try await scene.mprefd(["status", "--json"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\n\(daemon.log)")
        let json = try result.object()
        #expect(json["running"] as? Bool == true)
        #expect(json["reason"] is NSNull)
        #expect(json["lock_held"] as? Bool == true)
        #expect(json["pid"] as? Int == Int(daemon.pid))
        #expect(json["version"] as? String == MprefVersion.current)
        #expect((json["uptime_s"] as? Double).map { $0 >= 0 } == true)
        #expect(json["stopped_at"] is NSNull)
        let tokens = try #require(json["tokens"] as? [String: Int])
        #expect(tokens["complete"] == 1)
        #expect(tokens["watching"] == 1)
        #expect(tokens["failed"] == 0)
        #expect(json["next_poll_at"] is String)
        let database = try #require(json["database"] as? [String: Any])
        #expect(database["path"] as? String == scene.cli.databasePath)
        let size = try #require(database["size_bytes"] as? Int)
        #expect(size > 0)
        #expect(size == (database["file_bytes"] as? Int ?? -1) + (database["wal_bytes"] as? Int ?? -1))
        #expect((json["hook_runs"] as? [String: Int])?["dead"] == 0)

        let human = try await scene.mprefd(["status"])
        #expect(human.status == 0)
        let lines = human.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("daemon:") == true && lines.first?.hasSuffix("running") == true)
        #expect(lines.contains { $0.hasPrefix("pid:") && $0.hasSuffix(" \(daemon.pid)") })
        #expect(lines.contains { $0.hasPrefix("tokens:") && $0.contains("watching 1") && $0.contains("complete 1") })
        // Aligned: every value starts in the same column.
        let columns = Set(
            lines.map { line in
                line.firstIndex(of: ":").map {
                    line[line.index(after: $0)...].prefix { $0 == " " }.count
                        + line.distance(from: line.startIndex, to: $0)
                } ?? -1
            })
        #expect(columns.count == 1, "\(human.stdout)")

        #expect(await daemon.stop() == 0, "\(daemon.log)")
        let stopped = try await scene.mprefd(["status", "--json"])
        #expect(stopped.status == 3)
        let stoppedJSON = try stopped.object()
        #expect(stoppedJSON["running"] as? Bool == false)
        #expect(stoppedJSON["stopped_at"] is String)
        #expect((stoppedJSON["reason"] as? String)?.contains("stopped at") == true)
    }

    /// A daemon that holds the lock but no longer writes its heartbeat (hung) is not healthy.
    @Test func aStaleHeartbeatExits3() async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        #expect(try await cli.run(["add-token", "--client-id", "ACME_Co", "5"]).status == 0)
        let insert = try await cli.sqlite([
            cli.databasePath,
            """
            INSERT INTO daemon (id, pid, version, hostname, started_at, heartbeat_at, stopped_at)
            VALUES (1, 4242, '0.1.0', 'test', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 hours'),
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds'), NULL)
            """,
        ])
        #expect(insert.status == 0, "\(insert.stderr)")

        // Nobody holds the lock: the last daemon died without recording a stop.
        let crashed = try await cli.run(["status", "--json"])
        #expect(crashed.status == 3)
        #expect((try crashed.object()["reason"] as? String)?.contains("recorded no stop") == true)

        let lock = try HeldDaemonLock(databasePath: cli.databasePath)
        defer { lock.release() }
        let hung = try await cli.run(["status", "--json"])
        #expect(hung.status == 3)
        let json = try hung.object()
        #expect(json["lock_held"] as? Bool == true)
        #expect(json["pid"] as? Int == Int(getpid()))
        #expect((json["reason"] as? String)?.contains("looks hung") == true)
        #expect((json["heartbeat_age_s"] as? Double).map { $0 >= 59 } == true)

        // The same heartbeat is fresh enough under a looser limit.
        let loose = try await cli.run(["status", "--stale-after", "3600"])
        #expect(loose.status == 0, "\(loose.stdout)\n\(loose.stderr)")

        lock.release()
        #expect(try await cli.run(["status", "--stale-after", "3600"]).status == 3)
    }

    @Test(arguments: ["0", "-5", "nan", "soon"])
    func aBadStaleAfterIsAUsageError(value: String) async throws {
        let cli = try CLI()
        defer { cli.cleanUp() }
        let result = try await cli.run(["status", "--stale-after", value])
        #expect(result.status == 64, "\(result.stderr)")
    }
}
