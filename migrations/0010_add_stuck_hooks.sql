-- mprefd-migration: foreign-keys-off
-- mprefd schema, migration 0010: an optional `on_stuck` hook (issue 16 §4).
--
-- When the daemon raises the `stuck` warning of an export (`tokens.stuck_at`), the hooks of the new
-- event `stuck` (`hooks.on_stuck`, `add-token --on-stuck`) are queued in the same transaction. The
-- event's facts travel with its hook runs, so every retry tells the same story even after the token
-- is watched again: `stuck_elapsed_s` (seconds since the token was added, when it was marked stuck)
-- and `stuck_p95_s` (its segment's 95th-percentile duration then); NULL for the other events.
--
-- SQLite cannot change a CHECK constraint in place, so `hook_runs` and `token_hooks` are rebuilt as
-- 0008 did (https://sqlite.org/lang_altertable.html#otheralter): the first line above makes the
-- migrator run this file with foreign keys off and run `PRAGMA foreign_key_check` before it commits.
-- The one view that reads these tables, `hook_failures`, is dropped first and created again unchanged.

DROP VIEW hook_failures;

CREATE TABLE hook_runs_rebuilt (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL,      -- stable across retries: MPREFD_EVENT_ID
    token_id        INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL
                    CHECK (event IN ('complete', 'failed', 'download_failed', 'expired', 'retrieved',
                                     'timed_out', 'stuck')),
    command         TEXT    NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,   -- runs started so far
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'dead')),
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    exit_code       INTEGER,
    signal          INTEGER,
    stdout_tail     TEXT,                  -- last 8 KiB of stdout
    stderr_tail     TEXT,                  -- last 8 KiB of stderr
    next_attempt_at TEXT,                  -- when a pending or failed run is due
    error           TEXT,                  -- why the last run failed: exit code, timeout, interrupted
    pgid            INTEGER,
    pgid_leader_identity TEXT,
    attempts_before_retry INTEGER NOT NULL DEFAULT 0,
    stuck_elapsed_s REAL,                  -- event `stuck`: seconds processing when it was raised (MPREFD_STUCK_ELAPSED_S)
    stuck_p95_s     REAL,                  -- event `stuck`: the segment's 95th-percentile duration, seconds (MPREFD_STUCK_P95_S)
    UNIQUE (event_id, command)
) STRICT;

INSERT INTO hook_runs_rebuilt (id, event_id, token_id, event, command, attempt, state, created_at, started_at,
                               finished_at, exit_code, signal, stdout_tail, stderr_tail, next_attempt_at, error,
                               pgid, pgid_leader_identity, attempts_before_retry)
SELECT id, event_id, token_id, event, command, attempt, state, created_at, started_at,
       finished_at, exit_code, signal, stdout_tail, stderr_tail, next_attempt_at, error,
       pgid, pgid_leader_identity, attempts_before_retry
FROM hook_runs;

DROP TABLE hook_runs;
ALTER TABLE hook_runs_rebuilt RENAME TO hook_runs;
CREATE INDEX hook_runs_due ON hook_runs (state, next_attempt_at);
CREATE INDEX hook_runs_by_token ON hook_runs (token_id);

CREATE TABLE token_hooks_rebuilt (
    id       INTEGER PRIMARY KEY,
    token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    on_event TEXT    NOT NULL CHECK (on_event IN ('complete', 'failure', 'expired', 'retrieved', 'stuck')),
    command  TEXT    NOT NULL
) STRICT;

INSERT INTO token_hooks_rebuilt (id, token_id, on_event, command)
SELECT id, token_id, on_event, command FROM token_hooks;

DROP TABLE token_hooks;
ALTER TABLE token_hooks_rebuilt RENAME TO token_hooks;
CREATE INDEX token_hooks_by_token ON token_hooks (token_id);

-- As in 0005/0008, unchanged.
CREATE VIEW hook_failures AS
SELECT h.id                                   AS run_id,
       h.event_id,
       h.event,
       h.state,
       h.attempt,
       h.command,
       h.exit_code,
       h.signal,
       h.error,
       h.stderr_tail,
       h.created_at,
       h.started_at,
       h.finished_at,
       h.next_attempt_at,
       t.id                                   AS token_id,
       t.client_id,
       t.access_token,
       t.label
FROM hook_runs h
JOIN tokens t ON t.id = h.token_id
WHERE h.state IN ('failed', 'dead');
