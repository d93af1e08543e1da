import Foundation
import MyPreferencesSimulator
import Testing

/// Issue 16 §2 through the real daemon: a token of a segment with history is polled where that
/// segment's exports complete (its learned schedule), not by the backoff; a token without one, and
/// `polling.schedule_effort: 0`, keep the backoff.
@Suite(.serialized) struct LearnedScheduleEndToEndTests {
    /// Three past exports of segment Newsletter, each Complete 2 s after it was added (processing at 1 s).
    func history(_ scene: DaemonScene) async throws {
        #expect(try await scene.mprefd(["migrate"]).status == 0)
        for token in 1...3 {
            let added = "2026-12-0\(token)T06:00:00.000Z"
            _ = try await scene.cli.query("""
                INSERT INTO tokens (client_id, access_token, state, added_at, finished_at, segment)
                VALUES ('DEMO_Co', \(9000 + token), 'complete', '\(added)', '2026-12-0\(token)T06:00:02.000Z', 'Newsletter');
                INSERT INTO polls (token_id, polled_at, http_status, status, outcome)
                SELECT id, '2026-12-0\(token)T06:00:01.000Z', 200, 'Processing', 'ok' FROM tokens WHERE access_token = \(9000 + token);
                INSERT INTO polls (token_id, polled_at, http_status, status, outcome)
                SELECT id, '2026-12-0\(token)T06:00:02.000Z', 200, 'Complete', 'ok' FROM tokens WHERE access_token = \(9000 + token);
                """)
        }
    }

    func firstDelays(_ scene: DaemonScene, _ token: Int) async throws -> [Double] {
        try await scene.rows("SELECT p.next_delay_s FROM polls p JOIN tokens t ON t.id = p.token_id WHERE t.access_token = \(token) ORDER BY p.id")
            .compactMap { ($0["next_delay_s"] as? NSNumber)?.doubleValue }
    }

    @Test(arguments: [1.0, 0.0])
    func aSegmentWithHistoryIsPolledByItsSchedule(effort: Double) async throws {
        let scene = try await DaemonScene.start()
        await scene.simulator.setScenario(Scenario([.status("Processing", repeat: 1000)]), accessToken: 5001, clientID: scene.clientID)
        await scene.simulator.setScenario(Scenario([.status("Processing", repeat: 1000)]), accessToken: 5002, clientID: scene.clientID)
        // The backoff alone would wait at least 20 s after the first poll.
        try scene.writeConfig(polling: "initial_delay_s: 20\n  max_delay_s: 60\n  schedule_effort: \(effort)")
        try await history(scene)
        #expect(try await scene.mprefd(["add-token", "5001", "--segment", "Newsletter"]).status == 0)
        #expect(try await scene.mprefd(["add-token", "5002"]).status == 0)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        let polled = try await scene.eventually {
            let a = try await firstDelays(scene, 5001), b = try await firstDelays(scene, 5002)
            return !a.isEmpty && !b.isEmpty
        }
        #expect(polled, "daemon log:\n\(daemon.log.suffix(2000))")
        let scheduled = try #require(try await firstDelays(scene, 5001).first)
        let backoff = try #require(try await firstDelays(scene, 5002).first)
        #expect(backoff >= 20, "no segment: the backoff")
        if effort > 0 {
            // Its segment completes about 2 s after the add: the next poll comes well before the backoff's.
            #expect(scheduled < 10, "next delay \(scheduled) s")
        } else {
            #expect(scheduled >= 20, "schedule_effort 0: the backoff")
        }
    }
}
