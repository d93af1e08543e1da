import Foundation
import GRDB

extension TokenDatabase {
    /// ``finishHookRun(id:_:)`` for a task that is already cancelled — the daemon's shutdown
    /// interrupting a running hook, whose result (`pending`, re-run at next start) must still be
    /// stored so that the run is not left `running`. GRDB's async accesses throw `CancellationError`
    /// in a cancelled task, so this one is synchronous: one short transaction that blocks the calling
    /// thread while it waits for the write lock (at most the busy timeout).
    /// - Throws: `StoreError` when the transaction fails.
    package func finishHookRunSynchronously(id: Int64, _ outcome: HookRunOutcome) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE hook_runs SET state = ?, finished_at = ?, exit_code = ?, signal = ?, stdout_tail = ?, stderr_tail = ?,
                       next_attempt_at = ?, error = ?
                WHERE id = ?
                """, arguments: [outcome.state, outcome.finishedAt, outcome.exitCode, outcome.signal, outcome.stdoutTail,
                                 outcome.stderrTail, outcome.nextAttemptAt, outcome.error, id])
        }
    }
}
