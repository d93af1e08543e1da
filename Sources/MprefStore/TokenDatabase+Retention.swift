import Foundation
import MprefCore
import GRDB

/// The states of a token that is no longer polled: what `retention.finished_tokens_days` prunes.
/// The finished states as an SQL list, in `TokenState` order: the same list, term for term, as the
/// partial index `tokens_finished_by_end` (migration 0008), which SQLite only uses when they match.
let finishedStatesSQL =
    "("
    + TokenState.allCases.filter { $0.isTerminal || $0 == .removed }.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    + ")"

extension DaemonStore {
    /// Deletes up to `limit` `polls` rows polled before `cutoff`, oldest first, in one short write
    /// transaction (the `polls_by_time` index). Returns how many were deleted; fewer than `limit`
    /// means none older is left.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func pruneHistory(before cutoff: Date, limit: Int) async throws -> Int {
        let cutoffText = Timestamp.format(cutoff)
        return try await asyncWrite { db in
            try db.execute(
                sql: """
                    DELETE FROM polls WHERE id IN (SELECT id FROM polls WHERE polled_at < ? ORDER BY polled_at LIMIT ?)
                    """, arguments: [cutoffText, limit])
            return db.changesCount
        }
    }

    /// Deletes up to `limit` finished tokens (terminal or `removed`) that ended before `cutoff` —
    /// `finished_at`, or `added_at` for a removed token that never finished — with their polls,
    /// hooks and hook runs (foreign-key cascade), in one short write transaction (the
    /// `tokens_finished_by_end` index). A token with a hook
    /// run still `pending`, `running` or `failed` is kept. Returns how many tokens were deleted.
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func pruneFinishedTokens(before cutoff: Date, limit: Int) async throws -> Int {
        let cutoffText = Timestamp.format(cutoff)
        return try await asyncWrite { db in
            try db.execute(
                sql: """
                    DELETE FROM tokens WHERE id IN (
                        SELECT t.id FROM tokens t INDEXED BY tokens_finished_by_end
                        WHERE t.state IN \(finishedStatesSQL)
                          AND coalesce(t.finished_at, t.added_at) < ?
                          AND NOT EXISTS (SELECT 1 FROM hook_runs h WHERE h.token_id = t.id AND h.state IN ('pending', 'running', 'failed'))
                        LIMIT ?)
                    """, arguments: [cutoffText, limit])
            return db.changesCount
        }
    }

    /// `PRAGMA auto_vacuum`: 0 none, 1 full, 2 incremental. Databases created by this version are
    /// incremental; older ones stay 0 until a one-time `VACUUM` (README, "Retention").
    package func autoVacuumMode() async throws -> Int {
        try await asyncRead { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") ?? 0 }
    }

    /// Returns up to `pages` free pages to the file system (`PRAGMA incremental_vacuum(N)`), so the
    /// file shrinks after a prune; a no-op unless `auto_vacuum` is incremental. Returns the free
    /// pages left (`PRAGMA freelist_count`).
    /// - Throws: `StoreError` (`.busy` after the busy timeout).
    package func incrementalVacuum(pages: Int) async throws -> Int {
        try await asyncWrite { db in
            try db.execute(sql: "PRAGMA incremental_vacuum(\(max(1, pages)))")
            return try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        }
    }
}
