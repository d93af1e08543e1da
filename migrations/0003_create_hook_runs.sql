-- mprefd schema, migration 0003: shell hooks fired when an export reaches a terminal state.

-- Hooks given to one token with `mprefd add-token --on-complete CMD` (and friends).
CREATE TABLE token_hooks (
    id       INTEGER PRIMARY KEY,
    token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    on_event TEXT    NOT NULL CHECK (on_event IN ('complete', 'failure', 'expired', 'retrieved')),
    command  TEXT    NOT NULL
) STRICT;
CREATE INDEX token_hooks_by_token ON token_hooks (token_id);

-- 0 when `add-token --no-global-hooks` was given: only the token's own hooks run.
ALTER TABLE tokens ADD COLUMN global_hooks INTEGER NOT NULL DEFAULT 1 CHECK (global_hooks IN (0, 1));

-- One row per (terminal event, hook command): the durable queue and the record of each run.
-- Inserted 'pending' in the same transaction that records the terminal status.
-- pending → running → succeeded | failed (will retry at next_attempt_at) | dead (gave up).
CREATE TABLE hook_runs (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL,      -- stable across retries: MPREFD_EVENT_ID
    token_id        INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL
                    CHECK (event IN ('complete', 'failed', 'expired', 'retrieved', 'timed_out')),
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
    UNIQUE (event_id, command)
) STRICT;
CREATE INDEX hook_runs_due ON hook_runs (state, next_attempt_at);
CREATE INDEX hook_runs_by_token ON hook_runs (token_id);
