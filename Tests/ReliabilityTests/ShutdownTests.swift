import Foundation
import MprefCore
import MprefTestSupport
import MyPreferencesSimulator
import Testing

extension Reliability.Lane2 {
    /// SIGTERM while polls are in flight and hooks are running.
    ///
    /// "Nothing half-written" is checked as: `PRAGMA integrity_check` ok; every token's `attempt`
    /// equals its `polls` rows; every poll the simulator answered within the grace is recorded, and
    /// no poll was started after the signal; no hook run is left `running` (interrupted ones are
    /// `pending` again, with their event id) and none of their process groups survives; the `daemon`
    /// row records the stop; and a restart runs the interrupted hooks again with the same event id.
    @Suite struct Shutdown {
        @Test func sigtermDuringPollsAndHooksExitsZeroWithinTheGraceAndWritesNothingHalfWay() async throws {
            let slow = (0..<100).map { Int64(40_001 + $0) }, finishing = (0..<12).map { Int64(41_001 + $0) }
            let scene = try await ReliabilityScene(
                scenarios: ScenarioBook(
                    defaultScenario: Scenario([.status("Processing", delay: .milliseconds(1500))]),
                    scenarios: finishing.map {
                        TokenScenario(
                            accessToken: $0, scenario: Scenario([.status("Complete", rowCount: 1, byteCount: 1)]))
                    }))
            defer { Task { await scene.tearDown() } }
            let dir = scene.directory.path
            var hookGroups: [Int32] = []
            defer {
                scene.endChildren()
                for pid in hookGroups where pid > 1 && kill(-pid, 0) == 0 { kill(-pid, SIGKILL) }
                scene.removeDirectory()
            }
            // The hook waits for a flag file: slow (interrupted) in the first run, instant after the restart.
            try Data(
                """
                echo $$ > \(dir)/hook-$MPREFD_ACCESS_TOKEN-$MPREFD_ATTEMPT.pid
                echo "$MPREFD_EVENT_ID $MPREFD_ACCESS_TOKEN $MPREFD_ATTEMPT" >> \(dir)/hook-runs.log
                [ -e \(dir)/fast ] && exit 0
                sleep 60 & wait
                """.utf8
            ).write(to: URL(fileURLWithPath: "\(dir)/hook.sh"))
            let pollGrace = 10, killGrace = 2
            try scene.writeConfig(
                polling: [
                    "initial_delay_s: 0.1", "max_delay_s: 0.2", "max_in_flight: 64",
                    "max_requests_per_second_per_host: 1000",
                    "shutdown_grace_s: \(pollGrace)",
                ],
                extra: """
                    hooks:
                      concurrency: 4
                      kill_grace_s: \(killGrace)
                      on_complete:
                        - '/bin/sh \(dir)/hook.sh'
                    """)
            try #require(
                try await scene.mprefd(
                    ["add-token", "--stdin"], stdin: (slow + finishing).map(String.init).joined(separator: "\n")
                ).status == 0)
            let daemon = try await scene.startDaemon()
            let hooksRunning = await scene.eventually { hookPIDFiles(dir).count >= 4 }
            hookGroups = hookPIDs(dir)
            #expect(hooksRunning, "\(daemon.log.suffix(3000))")
            // Polls of 1.5 s each are in flight (up to 64 at a time).
            #expect(await scene.eventually { await scene.simulator.requestsInFlight() >= 8 })
            let signalled = Date(), started = ContinuousClock.now
            daemon.signal(SIGTERM)
            let status = await daemon.waitForExit(timeout: .seconds(pollGrace + killGrace + 20))
            let took = ContinuousClock.now - started
            hookGroups = hookPIDs(dir)
            #expect(status == 0, "exit status \(String(describing: status)); log tail:\n\(daemon.log.suffix(3000))")
            #expect(took < .seconds(pollGrace + killGrace + 5), "shutdown took \(took)")
            let stopLogged = daemon.log.contains("mprefd stopped")
            #expect(stopLogged)

            #expect(try await scene.integrity() == "ok")
            #expect(try await scene.attemptMismatches() == 0)
            let answered = await scene.answeredRequests(), committed = try await scene.committedPolls()
            let unrecorded = answered.filter { committed[$0.key] != $0.value }
            #expect(unrecorded.isEmpty, "answered within the grace but not recorded: \(unrecorded.prefix(5))")
            // No poll started after the signal: every request the simulator saw was answered and is recorded
            // (above), and no recorded poll was sent later than 0.2 s after the signal — on the daemon's own
            // clock, which a simulator slowed by a busy machine cannot skew.
            let unanswered = await scene.simulator.requests().filter { $0.accessToken != nil && $0.status == nil }
            #expect(unanswered.isEmpty, "\(unanswered.count) requests never answered")
            let lateStarts = try await scene.query(
                "SELECT polled_at FROM polls WHERE polled_at > '\(Timestamp.format(signalled.addingTimeInterval(0.2)))'"
            )
            #expect(lateStarts.isEmpty, "\(lateStarts.count) polls started after SIGTERM: \(lateStarts.prefix(5))")
            #expect(
                try await scene.scalar("SELECT count(*) FROM hook_runs WHERE state = 'running'") == 0,
                "a hook run was left running")
            let interrupted = try await scene.query(
                "SELECT id, event_id, attempt FROM hook_runs WHERE state = 'pending' AND attempt >= 1")
            #expect(interrupted.count >= 4, "interrupted hook runs: \(interrupted)")
            for pid in hookGroups { #expect(kill(-pid, 0) != 0, "hook process group \(pid) survived the daemon") }
            #expect(try await scene.scalar("SELECT count(*) FROM daemon WHERE stopped_at IS NOT NULL") == 1)

            // The restart runs them again with their event ids.
            _ = FileManager.default.createFile(atPath: "\(dir)/fast", contents: nil)
            let again = try await scene.startDaemon()
            #expect(
                try await scene.eventually {
                    try await scene.scalar("SELECT count(*) FROM hook_runs WHERE state = 'succeeded'")
                        == finishing.count
                }, "\(again.log.suffix(3000))")
            let runs = try await scene.query("SELECT id, event_id, attempt FROM hook_runs")
            for before in interrupted {
                let after = runs.first { $0["id"] as? Int == before["id"] as? Int }
                #expect(after?["event_id"] as? String == before["event_id"] as? String)
                #expect((after?["attempt"] as? Int ?? 0) == (before["attempt"] as? Int ?? 0) + 1)
            }
            again.signal(SIGTERM)
            #expect(await again.waitForExit(timeout: .seconds(30)) == 0)
            #expect(try await scene.integrity() == "ok")
        }

        @Test func sigtermPastTheGraceAbandonsInFlightPollsUnrecordedAndExitsZero() async throws {
            let scene = try await ReliabilityScene(
                defaultScenario: Scenario([.status("Processing", delay: .seconds(20))]))
            defer { Task { await scene.tearDown() } }
            defer { scene.endChildren(); scene.removeDirectory() }
            try scene.writeConfig(polling: [
                "initial_delay_s: 0.1", "max_delay_s: 0.2", "max_in_flight: 64",
                "max_requests_per_second_per_host: 1000", "shutdown_grace_s: 1",
            ])
            try #require(
                try await scene.mprefd(
                    ["add-token", "--stdin"], stdin: (0..<100).map { String(42_001 + $0) }.joined(separator: "\n")
                ).status == 0)
            let daemon = try await scene.startDaemon()
            // max_in_flight polls of 20 s each, none of them answered within the grace.
            #expect(await scene.eventually { await scene.simulator.requestsInFlight() == 64 })
            let started = ContinuousClock.now
            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit(timeout: .seconds(20)) == 0)
            #expect(ContinuousClock.now - started < .seconds(8))
            let abandonLogged = daemon.log.contains("abandoning in-flight polls unrecorded")
            #expect(abandonLogged)
            #expect(try await scene.integrity() == "ok")
            #expect(try await scene.attemptMismatches() == 0)
            #expect(try await scene.scalar("SELECT count(*) FROM polls") == 0)
            #expect(try await scene.scalar("SELECT count(*) FROM daemon WHERE stopped_at IS NOT NULL") == 1)
        }

        private func hookPIDFiles(_ dir: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
                $0.hasPrefix("hook-") && $0.hasSuffix(".pid")
            }
        }

        private func hookPIDs(_ dir: String) -> [Int32] {
            hookPIDFiles(dir).compactMap { name in
                (try? String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8)).flatMap {
                    Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
        }
    }
}
