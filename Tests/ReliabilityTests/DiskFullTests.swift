import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

extension Reliability.Lane5 {
    /// The database's file system fills up while the daemon polls.
    ///
    /// How the disk is filled: the database lives on a 16 MiB `tmpfs` mounted for the test
    /// (`mount -t tmpfs -o size=16m`, needs root/CAP_SYS_ADMIN), and a filler file takes every free
    /// byte; deleting the filler gives the space back. Where mounting is refused, the fallback limits
    /// the daemon's file size instead (`RLIMIT_FSIZE` set on the running daemon with `prlimit --pid`,
    /// SIGXFSZ ignored through the `sh -c 'trap "" XFSZ; exec mprefd run'` wrapper, so SQLite gets
    /// EFBIG — a "disk I/O error"), raised again to give the space back. The test prints which one it
    /// used; `RELIABILITY_DISK=rlimit` forces the fallback.
    ///
    /// Checked: the daemon keeps running and logs one clear error; it stops polling (the simulator
    /// sees no request for 3 s) rather than polling on and dropping answers it cannot store; once
    /// space returns it logs the recovery and polls again; after a graceful stop every answer the
    /// simulator gave is in `polls` (none lost), `attempt` matches the history, and
    /// `PRAGMA integrity_check` is ok.
    @Suite struct DiskFull {
        @Test func theDaemonHoldsResultsWhileTheDiskIsFullAndRecovers() async throws {
            let scene = try await ReliabilityScene(defaultScenario: Scenario([.status("Processing")]))
            defer { Task { await scene.tearDown() } }
            let mountPoint = scene.directory.appendingPathComponent("tmpfs").path
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            // RELIABILITY_DISK=rlimit forces the fallback (to test it where mounting works).
            let forceFallback = ReliabilityMode.environment["RELIABILITY_DISK"] == "rlimit"
            let mounted =
                forceFallback
                ? (status: Int32(1), output: "RELIABILITY_DISK=rlimit")
                : try await scene.run(
                    "/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint], stdin: nil,
                    environment: nil)
            let onTmpfs = mounted.status == 0
            defer {
                scene.endChildren()
                if onTmpfs {
                    _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/umount"), arguments: ["-l", mountPoint])
                        .waitUntilExit()
                }
                scene.removeDirectory()
            }
            print(
                "disk full: \(onTmpfs ? "16 MiB tmpfs filled by a file" : "mount refused (\(mounted.output.trimmingCharacters(in: .whitespacesAndNewlines))); RLIMIT_FSIZE via prlimit on the daemon")"
            )
            if onTmpfs { scene.databasePath = mountPoint + "/mprefd.sqlite3" }
            try scene.writeConfig(polling: [
                "initial_delay_s: 0.05", "max_delay_s: 0.1", "max_in_flight: 32",
                "max_requests_per_second_per_host: \(ReliabilityMode.isFull ? 500 : 200)", "shutdown_grace_s: 15",
            ])
            // The fast subset: 40 tokens at 200/s, the same shape at 40 % of the load.
            let tokenCount = ReliabilityMode.isFull ? 100 : 40
            let tokens = (0..<tokenCount).map { String(30_001 + $0) }
            try #require(
                try await scene.mprefd(["add-token", "--stdin"], stdin: tokens.joined(separator: "\n")).status == 0)
            let daemon = try await scene.startDaemon(shellPrefix: onTmpfs ? nil : "trap '' XFSZ;")
            #expect(
                try await scene.eventually { try await scene.scalar("SELECT count(*) FROM polls") > 5 * tokenCount })

            // Fill the disk.
            let filler = mountPoint + "/filler"
            if onTmpfs {
                fillDisk(filler)
            } else {
                // 1 byte: every write past the first byte of any file fails (EFBIG), as on a full disk;
                // the daemon's log goes through a pipe, which the limit does not touch.
                let result = try await scene.run(
                    "/usr/bin/prlimit", ["--pid", "\(daemon.pid)", "--fsize=1:unlimited"], stdin: nil, environment: nil)
                try #require(result.status == 0, "prlimit failed: \(result.output)")
            }
            let failing = await scene.eventually(timeout: .seconds(60)) {
                daemon.log.contains("cannot record polls") || !daemon.isRunning
            }
            #expect(
                failing && daemon.isRunning,
                "the daemon never reported the full disk, or died; log tail:\n\(daemon.log.suffix(3000))")
            let errorLine = logLines(daemon.log, containing: "cannot record polls").first.map(String.init) ?? ""
            print("disk full: the daemon said: \(errorLine)")
            #expect(
                errorLine.contains("disk is full") || errorLine.contains("disk I/O error"),
                "the error does not say why: \(errorLine)")

            // It stops polling rather than dropping answers it cannot store: once the polls already sent have
            // been answered (no request for 1 s; a deadline, so a daemon that polls on fails), none for 3 s.
            var seen = await scene.simulator.requests().count, stillSince = ContinuousClock.now
            let settled = await scene.eventually(timeout: .seconds(30)) {
                let now = await scene.simulator.requests().count
                if now != seen { (seen, stillSince) = (now, ContinuousClock.now) }
                return ContinuousClock.now - stillSince >= .seconds(1)
            }
            #expect(settled, "the daemon kept polling for 30 s while no poll could be recorded")
            let before = await scene.simulator.requests().count
            try await Task.sleep(for: .seconds(3))
            let during = await scene.simulator.requests().count - before
            #expect(during == 0, "\(during) requests in 3 s while no poll could be recorded")
            #expect(daemon.isRunning)
            let errorLines = logLines(daemon.log, containing: "cannot record polls").count
            #expect(
                errorLines <= 2, "the error is logged \(errorLines) times: one clear error expected, not one per poll")

            // Space returns.
            if onTmpfs {
                try FileManager.default.removeItem(atPath: filler)
            } else {
                _ = try await scene.run(
                    "/usr/bin/prlimit", ["--pid", "\(daemon.pid)", "--fsize=unlimited"], stdin: nil, environment: nil)
            }
            #expect(
                await scene.eventually(timeout: .seconds(60)) { daemon.log.contains("database accepts writes again") },
                "no recovery logged:\n\(daemon.log.suffix(3000))")
            let resumedFrom = await scene.simulator.requests().count
            #expect(
                await scene.eventually(timeout: .seconds(30)) {
                    await scene.simulator.requests().count > resumedFrom + 3 * tokenCount
                }, "polling did not resume")

            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
            #expect(try await scene.integrity() == "ok")
            #expect(try await scene.attemptMismatches() == 0)
            let answered = await scene.answeredRequests(), committed = try await scene.committedPolls()
            let lost = answered.filter { committed[$0.key] != $0.value }
            #expect(
                lost.isEmpty,
                "answers lost for \(lost.count) tokens, e.g. \(lost.prefix(5)) vs recorded \(lost.keys.prefix(5).map { committed[$0] ?? 0 })"
            )
        }
    }
}
