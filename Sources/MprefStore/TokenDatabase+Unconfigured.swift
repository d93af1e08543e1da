import Foundation
import MprefCore
import GRDB

/// A watching token whose client ID has no configured account: the daemon cannot poll it.
package struct UnconfiguredTimeout: Sendable, Hashable {
    package var tokenID: TokenID
    package var clientID: String
    package var accessToken: AccessToken
}

extension DaemonStore {
    /// The `last_error` of a token timed out by ``timeOutUnconfiguredTokens(configuredClientIDs:now:hooks:)``.
    package static func unconfiguredTimeoutError(clientID: String) -> String {
        "deadline passed without a poll: no account is configured for client ID \(clientID)"
    }

    /// Ends, as `timed_out`, every watching token whose client ID is not in `configuredClientIDs`
    /// and whose deadline is at or before `now` — such tokens are never polled, so no poll would
    /// ever apply their deadline. Sets `finished_at` and `last_error`, and queues their
    /// `on_failure` hook runs (like any `timed_out`), in one transaction. No `polls` row is written:
    /// nothing was polled.
    ///
    /// - Returns: the tokens timed out, and how many hook runs were queued.
    package func timeOutUnconfiguredTokens(
        configuredClientIDs: [ClientID], now: Date = .now,
        hooks planner: @escaping HookPlanner
    ) async throws -> (timedOut: [UnconfiguredTimeout], hookRuns: Int) {
        let nowText = Timestamp.format(now)
        return try await asyncWrite { db in
            let configured = Set(configuredClientIDs.map(\.value))
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, client_id, access_token FROM tokens
                    WHERE state = 'watching' AND deadline_at IS NOT NULL AND deadline_at <= ?
                    """, arguments: [nowText]
            )
            .map { UnconfiguredTimeout(tokenID: $0["id"], clientID: $0["client_id"], accessToken: $0["access_token"]) }
            .filter { !configured.contains($0.clientID) }
            var hookRuns = 0
            for token in due {
                try db.execute(
                    sql: """
                        UPDATE tokens SET state = 'timed_out', finished_at = ?, next_poll_at = NULL, last_error = ?
                        WHERE id = ? AND state = 'watching'
                        """,
                    arguments: [nowText, Self.unconfiguredTimeoutError(clientID: token.clientID), token.tokenID])
                guard db.changesCount > 0 else { continue }
                hookRuns += try Self.insertHookRuns(
                    tokenID: token.tokenID, state: .timedOut, at: nowText, planner: planner, db: db)
            }
            return (due, hookRuns)
        }
    }
}

extension ReportStore {
    /// Watching tokens by client ID, for client IDs not in `configuredClientIDs` (the daemon does not
    /// poll them). One `GROUP BY` over the watching tokens.
    package func watchingTokensWithoutAccount(configuredClientIDs: [ClientID]) throws -> [String: Int] {
        let configured = Set(configuredClientIDs.map(\.value))
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT client_id, count(*) AS tokens FROM tokens WHERE state = 'watching' GROUP BY client_id"
            )
            .map { (clientID: $0["client_id"] as String, count: $0["tokens"] as Int) }
        }
        return Dictionary(
            rows.filter { !configured.contains($0.clientID) }.map { ($0.clientID, $0.count) }, uniquingKeysWith: +)
    }
}
