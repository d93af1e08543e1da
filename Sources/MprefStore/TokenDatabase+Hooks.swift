import Foundation
import GRDB
import MprefCore

extension DaemonStore {
    /// Runs left `running` by a crash or a kill become `pending` again, due now; returns how many.
    /// Call once at daemon start, before claiming runs. They re-run with the same event id and the next attempt number.
    package func requeueInterruptedHookRuns(now: Date = .now) async throws -> Int {
        let nowText = Timestamp.format(now)
        return try await asyncWrite { db in
            try db.execute(
                sql: """
                    UPDATE hook_runs SET state = 'pending', next_attempt_at = ?,
                           error = 'interrupted: the daemon stopped while the hook ran'
                    WHERE state = 'running'
                    """, arguments: [nowText])
            return db.changesCount
        }
    }

    /// Runs left `running` whose process group was recorded: what the last daemon may have left
    /// alive after a crash or `kill -9`. Call at daemon start, before ``requeueInterruptedHookRuns(now:)``.
    package func interruptedHookRuns() async throws -> [InterruptedHookRun] {
        try await asyncRead { db in
            try Row.fetchAll(
                db, sql: "SELECT id, pgid, pgid_leader_identity FROM hook_runs WHERE state = 'running' AND pgid > 1"
            )
            .compactMap { row in
                guard let pgid = Int32(exactly: row["pgid"] as Int64) else { return nil }
                return InterruptedHookRun(id: row["id"], pgid: pgid, leaderIdentity: row["pgid_leader_identity"])
            }
        }
    }

    /// Records the process group of a run that just started (its leader's PID) and the leader's
    /// identity (`boot_id/starttime`, see `ProcessIdentity`), so a restart after a crash can end it.
    package func recordHookRunProcess(id: Int64, attempt: Int, pgid: Int32, leaderIdentity: String?) async throws {
        try await asyncWrite { db in
            try db.execute(
                sql:
                    "UPDATE hook_runs SET pgid = ?, pgid_leader_identity = ? WHERE id = ? AND attempt = ? AND state = 'running'",
                arguments: [pgid, leaderIdentity, id, attempt])
        }
    }

    /// Marks up to `limit` due runs (`pending`/`failed` with `next_attempt_at <= now`) `running`,
    /// attempt + 1, and returns them. One short transaction; the hooks run after it commits.
    package func claimDueHookRuns(now: Date = .now, limit: Int) async throws -> [HookJob] {
        let nowText = Timestamp.format(now)
        return try await asyncWrite { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT h.id, h.event_id, h.event, h.command, h.attempt, t.client_id, t.access_token, t.label,
                           t.last_status, t.row_count, t.byte_count, t.added_at, t.finished_at, h.attempts_before_retry,
                           d.file, d.records, d.bytes AS file_bytes, d.sha256, coalesce(e.segment, t.segment) AS segment,
                           e.window_start, e.window_end, h.stuck_elapsed_s, h.stuck_p95_s
                    FROM hook_runs h JOIN tokens t ON t.id = h.token_id
                    LEFT JOIN downloads d ON d.token_id = h.token_id AND d.phase = 'committed'
                    LEFT JOIN exports e ON e.token_id = h.token_id
                    WHERE h.state IN ('pending', 'failed') AND h.next_attempt_at <= ?
                    ORDER BY h.next_attempt_at, h.id LIMIT ?
                    """, arguments: [nowText, limit])
            var jobs: [HookJob] = []
            for row in rows {
                guard let runID = try? row.decode(Int64.self, forColumn: "id") else { continue }
                do {
                    // `attempt` is a public column (operators have sqlite3): the next number saturates.
                    let stored = try row.decode(Int.self, forColumn: "attempt")
                    guard stored >= 0 else {
                        throw UnusableHookRow(reason: "attempt holds \(stored); expected an integer >= 0")
                    }
                    let attempt = stored.incrementedSaturating
                    let eventText = try row.decode(String.self, forColumn: "event")
                    guard let event = HookEvent(rawValue: eventText) else {
                        throw UnusableHookRow(
                            reason: "event holds '\(eventText)'; expected one of "
                                + HookEvent.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                    let job = HookJob(
                        runID: runID, eventID: try row.decode(forColumn: "event_id"), event: event,
                        command: try row.decode(forColumn: "command"), attempt: attempt,
                        clientID: try row.decode(forColumn: "client_id"),
                        accessToken: try row.decode(forColumn: "access_token"),
                        label: try row.decode(forColumn: "label"),
                        status: try row.decode(forColumn: "last_status"),
                        rowCount: try row.decode(forColumn: "row_count"),
                        byteCount: try row.decode(forColumn: "byte_count"),
                        addedAt: try row.decode(forColumn: "added_at"),
                        finishedAt: try row.decode(forColumn: "finished_at"),
                        attemptsBeforeRetry: try row.decode(forColumn: "attempts_before_retry"),
                        file: try row.decode(forColumn: "file"), records: try row.decode(forColumn: "records"),
                        fileBytes: try row.decode(forColumn: "file_bytes"),
                        fileSHA256: try row.decode(forColumn: "sha256"),
                        segment: try row.decode(forColumn: "segment"),
                        windowStart: try row.decode(forColumn: "window_start"),
                        windowEnd: try row.decode(forColumn: "window_end"),
                        stuckElapsedSeconds: try row.decode(forColumn: "stuck_elapsed_s"),
                        stuckP95Seconds: try row.decode(forColumn: "stuck_p95_s"))
                    try db.execute(
                        sql:
                            "UPDATE hook_runs SET state = 'running', attempt = ?, started_at = ?, finished_at = NULL, pgid = NULL, pgid_leader_identity = NULL WHERE id = ?",
                        arguments: [attempt, nowText, runID])
                    jobs.append(job)
                } catch  where error is RowDecodingError || error is UnusableHookRow {
                    // A row edited into something unusable: kept, never run, shown as dead with the reason.
                    try db.execute(
                        sql:
                            "UPDATE hook_runs SET state = 'dead', finished_at = ?, next_attempt_at = NULL, error = ? WHERE id = ?",
                        arguments: [
                            nowText,
                            "this hook run's row cannot be used (\(error)); re-add the hook or fix the row with sqlite3",
                            runID,
                        ])
                }
            }
            return jobs
        }
    }

    /// Stores how a run ended — also when the calling task is cancelled: the daemon's shutdown
    /// interrupting a running hook, whose result (`pending`, re-run at next start) must still be
    /// stored so that the run is not left `running`. GRDB's async accesses throw `CancellationError`
    /// in a cancelled task, so the write runs in a task of its own, which the caller's cancellation
    /// does not reach; the caller waits for it (at most the busy timeout for the write lock).
    /// - Throws: `StoreError` when the transaction fails.
    package func finishHookRun(id: Int64, _ outcome: HookRunOutcome) async throws {
        try await Task.detached { [self] in
            try await asyncWrite { db in try Self.storeHookRun(id: id, outcome, db: db) }
        }.value
    }

    private static func storeHookRun(id: Int64, _ outcome: HookRunOutcome, db: Database) throws {
        try db.execute(
            sql: """
                UPDATE hook_runs SET state = ?, finished_at = ?, exit_code = ?, signal = ?, stdout_tail = ?, stderr_tail = ?,
                       next_attempt_at = ?, error = ?
                WHERE id = ?
                """,
            arguments: [
                outcome.state.rawValue, outcome.finishedAt, outcome.exitCode, outcome.signal, outcome.stdoutTail,
                outcome.stderrTail, outcome.nextAttemptAt, outcome.error, id,
            ])
    }

    /// When the next `pending`/`failed` run is due; `nil` when none waits.
    package func nextHookRunDue() async throws -> Date? {
        try await asyncRead { db in
            try String.fetchOne(
                db, sql: "SELECT min(next_attempt_at) FROM hook_runs WHERE state IN ('pending', 'failed')"
            ).flatMap(Timestamp.parse)
        }
    }

}

extension AdminStore {
    /// Hook runs, newest first, optionally of one state.
    package func listHookRuns(state: HookRunState? = nil, limit: Int = 1000) throws -> [HookRunRecord] {
        try read { db in
            if let state {
                return try HookRunRecord.fetchAll(
                    db, sql: HookRunRecord.select + " WHERE h.state = ? ORDER BY h.id DESC LIMIT ?",
                    arguments: [state.rawValue, limit])
            }
            return try HookRunRecord.fetchAll(
                db, sql: HookRunRecord.select + " ORDER BY h.id DESC LIMIT ?", arguments: [limit])
        }
    }

    /// One hook run; `nil` when there is no such id.
    package func hookRun(id: Int64) throws -> HookRunRecord? {
        try read { db in try HookRunRecord.fetchOne(db, sql: HookRunRecord.select + " WHERE h.id = ?", arguments: [id])
        }
    }

    /// Re-arms `dead` (or `failed`) runs: `pending`, due now, with the full number of attempts
    /// again — `attempts_before_retry` takes the attempts so far, while `attempt` (`MPREFD_ATTEMPT`)
    /// keeps counting. `ids == nil` re-arms every dead run.
    /// Returns the ids re-armed.
    package func retryHookRuns(ids: [Int64]?, now: Date = .now) throws -> [Int64] {
        let nowText = Timestamp.format(now)
        return try write { db in
            let candidates: [Int64]
            if let ids {
                candidates = ids
            } else {
                candidates = try Int64.fetchAll(db, sql: "SELECT id FROM hook_runs WHERE state = 'dead' ORDER BY id")
            }
            var rearmed: [Int64] = []
            for id in candidates {
                try db.execute(
                    sql: """
                        UPDATE hook_runs SET state = 'pending', attempts_before_retry = attempt, next_attempt_at = ?, error = NULL
                        WHERE id = ? AND state IN ('dead', 'failed')
                        """, arguments: [nowText, id])
                if db.changesCount > 0 { rearmed.append(id) }
            }
            return rearmed
        }
    }
}

/// A `hook_runs` row whose value cannot be used (edited by hand): the run is made `dead`, never run.
private struct UnusableHookRow: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
