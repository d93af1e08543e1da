import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

extension Reliability.Lane1 {
    /// Other `sqlite3` sessions on the daemon's database while it polls at full speed.
    @Suite struct DatabaseContention {
        /// A `sqlite3` session holds `BEGIN IMMEDIATE` (the write lock) for 3 s, later another holds a
        /// read transaction open until the daemon has warned about it (and, in the full run, for at
        /// least 2 minutes).
        ///
        /// No poll lost: after a graceful stop (every in-flight poll recorded within the grace), the
        /// simulator's answered requests equal the `polls` rows, token by token, and every token's
        /// `attempt` equals its rows. The daemon logs the wait ("database write waited"). While the
        /// reader holds its snapshot the daemon keeps recording polls, the `-wal` file grows past the
        /// daemon's 16 MiB limit (an analyst's scratch table of 20 MiB, written by a third session, takes
        /// it there at once; the daemon's own rows would need about 1,000 polls; the table stays, as a
        /// dropped one would have the retention's vacuum rewrite its pages through the WAL) and the
        /// daemon warns about "a long-running reader"; once the reader leaves the daemon checkpoints
        /// (TRUNCATE) and the file shrinks back under 1 MiB.
        @Test func aHeldWriteLockAndALongReaderLoseNoPollAndTheWALShrinksBack() async throws {
            let scene = try await ReliabilityScene(defaultScenario: Scenario([.status("Processing")]))
            defer { Task { await scene.tearDown() } }
            defer { scene.endChildren(); scene.removeDirectory() }
            // The rate keeps the WAL of the 2-minute read near 250 MB; in the fast subset the read lasts until
            // the daemon has warned (at its next WAL check, at most 5 s after the scratch table).
            let readerHold: Duration = ReliabilityMode.isFull ? .seconds(120) : .zero
            let tokenCount = ReliabilityMode.isFull ? 300 : 40
            try scene.writeConfig(polling: [
                "initial_delay_s: 0.01", "max_delay_s: 0.02", "max_in_flight: 64",
                "max_requests_per_second_per_host: \(ReliabilityMode.isFull ? 75 : 40)", "shutdown_grace_s: 15",
            ])
            let tokens = (0..<tokenCount).map { String(20_001 + $0) }
            try #require(
                try await scene.mprefd(["add-token", "--stdin"], stdin: tokens.joined(separator: "\n")).status == 0)
            let daemon = try await scene.startDaemon()
            // Polling at full speed before the lock (every token once).
            #expect(try await scene.eventually { try await scene.scalar("SELECT count(*) FROM polls") > tokenCount })
            let dir = scene.directory.path
            let db = scene.databasePath

            // 1. The write lock, held for 3 s (the daemon logs a commit that waited past 1 s once it is done).
            let polledBefore = await scene.answeredRequests().values.reduce(0, +)
            let writer = try scene.startChild(
                "/usr/bin/env",
                [
                    "sqlite3", db, ".timeout 30000", "BEGIN IMMEDIATE;", ".shell touch \(dir)/locked", ".shell sleep 3",
                    "COMMIT;",
                ], logName: "writer")
            #expect(await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/locked") })
            #expect(await writer.waitForExit(timeout: .seconds(30)) == 0, "sqlite3 writer: \(writer.log)")
            let polledDuringLock = await scene.answeredRequests().values.reduce(0, +) - polledBefore
            #expect(
                await scene.eventually(timeout: .seconds(10)) { daemon.log.contains("database write waited") },
                "no wait logged")
            #expect(daemon.isRunning)
            let commitFailed = daemon.log.contains("cannot record polls")
            #expect(!commitFailed, "a commit failed during a 3 s lock (busy timeout 10 s)")

            // 2. A read transaction held open while the daemon keeps writing.
            let reader = try scene.startChild(
                "/usr/bin/env",
                [
                    "sqlite3", db, ".timeout 30000", "BEGIN;", "SELECT count(*) FROM polls;",
                    ".shell touch \(dir)/reading", ".shell while [ ! -e \(dir)/stop-reading ]; do sleep 0.02; done",
                    "COMMIT;",
                ],
                logName: "reader")
            #expect(await scene.eventually { FileManager.default.fileExists(atPath: "\(dir)/reading") })
            let readStarted = ContinuousClock.now
            let polledBeforeRead = try await scene.scalar("SELECT count(*) FROM polls")
            let scratch = try scene.startChild(
                "/usr/bin/env",
                [
                    "sqlite3", db, ".timeout 30000", "CREATE TABLE analyst_scratch(b BLOB);",
                    "INSERT INTO analyst_scratch VALUES (zeroblob(20 * 1024 * 1024));",
                ], logName: "scratch")
            #expect(await scratch.waitForExit(timeout: .seconds(60)) == 0, "sqlite3 scratch table: \(scratch.log)")
            var largestWAL: Int64 = 0
            var warned = false
            while reader.isRunning, ContinuousClock.now - readStarted < readerHold + .seconds(90) {
                largestWAL = max(largestWAL, walSize(db))
                warned = warned || daemon.log.contains("a long-running reader")
                if warned, ContinuousClock.now - readStarted >= readerHold { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            largestWAL = max(largestWAL, walSize(db))
            let polledDuringRead = try await scene.scalar("SELECT count(*) FROM polls") - polledBeforeRead
            FileManager.default.createFile(atPath: "\(dir)/stop-reading", contents: nil)
            #expect(await reader.waitForExit() == 0, "sqlite3 reader: \(reader.log)")
            print(
                "contention: \(polledDuringLock) polls answered during the 3 s lock; WAL grew to \(largestWAL) bytes during the \(ContinuousClock.now - readStarted) read, \(polledDuringRead) polls recorded during it"
            )
            #expect(
                largestWAL > 16 << 20, "the WAL never passed the daemon's 16 MiB limit; the reader test proves nothing")
            #expect(warned, "no warning about the reader")
            #expect(polledDuringRead > 0, "no poll was recorded while the reader held its snapshot")
            let shrunk = await scene.eventually(timeout: .seconds(30)) { walSize(db) < 1 << 20 }
            #expect(
                shrunk,
                "WAL still \(walSize(db)) bytes 30 s after the reader left; log tail:\n\(daemon.log.suffix(3000))")
            let checkpointLogged = await scene.eventually(timeout: .seconds(10)) {
                daemon.log.contains("WAL checkpointed and truncated")
            }
            #expect(checkpointLogged, "the TRUNCATE checkpoint was not logged")

            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(timeout: .seconds(30)) == 0)
            #expect(try await scene.integrity() == "ok")
            #expect(try await scene.attemptMismatches() == 0)
            let answered = await scene.answeredRequests(), committed = try await scene.committedPolls()
            let lost = answered.filter { committed[$0.key] != $0.value }
            #expect(
                lost.isEmpty,
                "answered but not recorded (token: answered): \(lost.prefix(10)); recorded: \(lost.keys.prefix(10).map { committed[$0] ?? 0 })"
            )
            // Under load throughout: polls before, during and after the lock and the read.
            #expect(answered.values.reduce(0, +) > 2 * tokenCount)
        }

        private func walSize(_ db: String) -> Int64 {
            ((try? FileManager.default.attributesOfItem(atPath: db + "-wal"))?[.size] as? NSNumber)?.int64Value ?? 0
        }
    }
}
