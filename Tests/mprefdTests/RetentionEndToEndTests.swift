import Foundation
import MprefTestSupport
import MyPreferencesSimulator
import Testing

/// Issue 17.12: the real daemon prunes history and finished tokens past `retention.*`, reports keep
/// working, and the file shrinks.
@Suite(.serialized) struct RetentionEndToEndTests {
    @Test func theDaemonPrunesOldHistoryAndFinishedTokensAndTheFileShrinks() async throws {
        let scene = try await DaemonScene.start(
            scenarios: ScenarioBook(scenarios: [
                TokenScenario(accessToken: 8101, scenario: Scenario([.status("Complete", rowCount: 3, byteCount: 30)]))
            ]))
        try scene.writeConfig(
            extra: """
                retention:
                  history_days: 30
                  finished_tokens_days: 60
                """)
        #expect(try await scene.mprefd(["add-token", "8101", "8102", "8103"]).status == 0)
        // 8102: watching, with 5,000 polls from 2020 and one from today; 8103: finished in 2020. 5,000 rows of
        // 300 bytes make the file ~10 times its empty size and are pruned and vacuumed in the first heartbeat's
        // call (10 batches of 1,000 rows, 1,000 pages); a backlog spread over several calls is tested in process
        // (RetentionPrunerTests).
        let seeded = try await scene.cli.sqlite([
            scene.cli.databasePath,
            """
            UPDATE tokens SET state = 'paused', next_poll_at = NULL WHERE access_token = 8102;
            UPDATE tokens SET state = 'complete', finished_at = '2020-01-02T00:00:00.000Z', added_at = '2020-01-01T00:00:00.000Z' WHERE access_token = 8103;
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
            INSERT INTO polls (token_id, polled_at, http_status, status, outcome, error)
            SELECT (SELECT id FROM tokens WHERE access_token = 8102), '2020-01-01T00:00:00.000Z', 200, 'Processing', 'ok', printf('%.300c', 'x') FROM n;
            INSERT INTO polls (token_id, polled_at, http_status, status, outcome)
            SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 200, 'Processing', 'ok' FROM tokens WHERE access_token = 8102;
            PRAGMA wal_checkpoint(TRUNCATE);
            """,
        ])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let sizeBefore = try #require(
            try FileManager.default.attributesOfItem(atPath: scene.cli.databasePath)[.size] as? Int)
        let daemon = try scene.startDaemon()
        defer { Task { await scene.finish(daemon) } }
        #expect(
            try await scene.eventually(timeout: .seconds(60)) {
                let oldPolls = try await scene.count("SELECT count(*) FROM polls WHERE polled_at < '2021-01-01'")
                let oldTokens = try await scene.count("SELECT count(*) FROM tokens WHERE access_token = 8103")
                return oldPolls == 0 && oldTokens == 0
            }, "\(daemon.log)")
        #expect(try await scene.eventually { daemon.log.contains("pruned old history") }, "\(daemon.log)")
        // The recent poll, the watched tokens and today's finished export stay; reports still run.
        #expect(
            try await scene.eventually {
                try await scene.count("SELECT count(*) FROM tokens WHERE access_token = 8101 AND state = 'complete'")
                    == 1
            })
        #expect(
            try await scene.count(
                "SELECT count(*) FROM polls p JOIN tokens t ON t.id = p.token_id WHERE t.access_token = 8102") == 1)
        #expect(try await scene.count("SELECT count(*) FROM daily_volume") == 1)
        #expect(try await scene.mprefd(["status"]).status == 0)
        #expect(await daemon.stop() == 0)
        let sizeAfter = try #require(
            try FileManager.default.attributesOfItem(atPath: scene.cli.databasePath)[.size] as? Int)
        #expect(sizeAfter < sizeBefore / 3, "the file must shrink: \(sizeBefore) → \(sizeAfter) bytes")
    }
}
