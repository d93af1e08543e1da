import Foundation
import GRDB
import MprefCore

/// One row of `hook_runs` (`mprefd hooks list --json` prints these; keys = column names).
package struct HookRunRecord: Codable, Sendable, Hashable, FetchableRecord {
    package var id: Int64
    /// Stable across retries of the same event: `MPREFD_EVENT_ID`.
    package var eventID: String
    package var tokenID: TokenID
    /// The event that queued the run (`complete`, `failed`, …; the `hook_runs.event` CHECK list).
    package var event: HookEvent
    package var command: String
    /// Runs started so far.
    package var attempt: Int
    /// `pending`, `running`, `succeeded`, `failed` (will retry), `dead` (gave up).
    package var state: HookRunState
    package var createdAt: String
    package var startedAt: String?
    package var finishedAt: String?
    package var exitCode: Int?
    package var signal: Int?
    package var stdoutTail: String?
    package var stderrTail: String?
    package var nextAttemptAt: String?
    package var error: String?
    // From the token row, for display.
    package var clientID: String
    package var accessToken: AccessToken

    enum CodingKeys: String, CodingKey {
        case id, event, command, attempt, state, signal, error
        case eventID = "event_id"
        case tokenID = "token_id"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case stdoutTail = "stdout_tail"
        case stderrTail = "stderr_tail"
        case nextAttemptAt = "next_attempt_at"
        case clientID = "client_id"
        case accessToken = "access_token"
    }

    static let select = """
        SELECT h.id, h.event_id, h.token_id, h.event, h.command, h.attempt, h.state, h.created_at, h.started_at,
               h.finished_at, h.exit_code, h.signal, h.stdout_tail, h.stderr_tail, h.next_attempt_at, h.error,
               t.client_id, t.access_token
        FROM hook_runs h JOIN tokens t ON t.id = h.token_id
        """
}

/// A hook run claimed for execution, with everything its environment needs.
package struct HookJob: Sendable, Hashable {
    package var runID: Int64
    package var eventID: String
    /// The event that queued the run: `MPREFD_EVENT`.
    package var event: HookEvent
    package var command: String
    /// This run's number, 1-based (`MPREFD_ATTEMPT`).
    package var attempt: Int
    package var clientID: String
    package var accessToken: AccessToken
    package var label: String?
    package var status: String?
    package var rowCount: Int64?
    package var byteCount: Int64?
    package var addedAt: String
    package var finishedAt: String?
    /// Runs started before the last `mprefd hooks retry` (`hook_runs.attempts_before_retry`): this
    /// run is the `attempt - attemptsBeforeRetry`-th since, which `hooks.max_attempts` limits.
    package var attemptsBeforeRetry: Int = 0
    /// The delivered file (`downloads.file`, committed downloads only): `MPREFD_FILE`.
    package var file: String?
    /// Records in ``file``: `MPREFD_RECORDS`.
    package var records: Int64?
    /// Bytes of ``file``: `MPREFD_FILE_BYTES`.
    package var fileBytes: Int64?
    /// Hex SHA-256 of ``file``: `MPREFD_FILE_SHA256`.
    package var fileSHA256: String?
    /// The segment of the export (`mprefd export`, or `add-token --segment`): `MPREFD_SEGMENT`.
    package var segment: String?
    /// Its window's start (UTC timestamp; nil for a full export): `MPREFD_WINDOW_START`.
    package var windowStart: String?
    /// Its window's end, when the initiate was sent: `MPREFD_WINDOW_END`.
    package var windowEnd: String?
    /// Event `stuck`: seconds the export had been processing when the warning was raised
    /// (`hook_runs.stuck_elapsed_s`): `MPREFD_STUCK_ELAPSED_S`; `nil` for the other events.
    package var stuckElapsedSeconds: Double? = nil
    /// Event `stuck`: its segment's 95th-percentile duration then, in seconds (`hook_runs.stuck_p95_s`):
    /// `MPREFD_STUCK_P95_S`; `nil` for the other events.
    package var stuckP95Seconds: Double? = nil

    /// Runs since the last `mprefd hooks retry` (or since the event), this one included.
    package var attemptsSinceRetry: Int { max(1, attempt.subtractingSaturating(attemptsBeforeRetry)) }
}

/// A hook run left `running` by the last daemon, with the process group it started.
package struct InterruptedHookRun: Sendable, Hashable {
    package var id: Int64
    /// The hook's process group ID (= its leader's PID), `hook_runs.pgid`.
    package var pgid: Int32
    /// `boot_id/starttime` of the leader when it started, `hook_runs.pgid_leader_identity`.
    package var leaderIdentity: String?

    package init(id: Int64, pgid: Int32, leaderIdentity: String?) {
        self.id = id
        self.pgid = pgid
        self.leaderIdentity = leaderIdentity
    }
}

/// How a hook run ended, to store.
package struct HookRunOutcome: Sendable, Hashable {
    /// `succeeded`, `failed` (retry at `nextAttemptAt`), `dead`, or `pending` (interrupted by shutdown: re-run at next start).
    package var state: HookRunState
    package var finishedAt: String
    package var exitCode: Int?
    package var signal: Int?
    package var stdoutTail: String
    package var stderrTail: String
    package var nextAttemptAt: String?
    package var error: String?

    package init(
        state: HookRunState, finishedAt: String, exitCode: Int?, signal: Int?, stdoutTail: String, stderrTail: String,
        nextAttemptAt: String?, error: String?
    ) {
        self.state = state
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.signal = signal
        // SQLite TEXT and the sqlite3 CLI stop at a NUL byte: keep the rest of the output visible.
        self.stdoutTail = stdoutTail.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        self.stderrTail = stderrTail.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        self.nextAttemptAt = nextAttemptAt
        self.error = error
    }
}
