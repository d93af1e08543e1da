-- mprefd-migration: foreign-keys-off
-- mprefd schema, migration 0008: the daemon downloads completed exports (issue 14).
--
-- New token states `downloading` (Status was Complete; the pages are being fetched, verified and
-- committed) and `download_failed` (terminal: the download gave up; `mprefd download --retry` re-arms
-- it), a per-token download override, the download checkpoint and the page/commit history; a hook
-- event `download_failed` (it runs the `failure` hooks).
--
-- SQLite cannot change a CHECK constraint in place, so `tokens` and `hook_runs` are rebuilt with the
-- documented procedure (https://sqlite.org/lang_altertable.html#otheralter): the first line above
-- makes the migrator run this file with foreign keys off (a DROP TABLE would otherwise cascade into
-- the history) and run `PRAGMA foreign_key_check` before it commits. The views that read those
-- tables are dropped first and created again, unchanged except where noted.

DROP VIEW token_summary;
DROP VIEW export_durations;
DROP VIEW poll_outcomes_hourly;
DROP VIEW hook_failures;
DROP VIEW daily_volume;

CREATE TABLE tokens_rebuilt (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a purge
    client_id          TEXT    NOT NULL CHECK (length(client_id) BETWEEN 1 AND 128),
    access_token       INTEGER NOT NULL CHECK (access_token > 0),
    label              TEXT,
    state              TEXT    NOT NULL DEFAULT 'watching'
                       CHECK (state IN ('watching', 'paused', 'downloading', 'complete', 'failed',
                                        'download_failed', 'expired', 'retrieved', 'timed_out',
                                        'removed')),
    last_status        TEXT,               -- the API's Status, verbatim
    row_count          INTEGER,            -- latest RowCount seen; NULL = not known yet
    byte_count         INTEGER,            -- latest ByteCount seen (64-bit); NULL = not known yet
    added_at           TEXT    NOT NULL,
    next_poll_at       TEXT,               -- when the daemon sends the next request; NULL unless watching or downloading
    deadline_at        TEXT,               -- after this a still-processing export is timed_out
    last_polled_at     TEXT,
    finished_at        TEXT,               -- when a terminal state was reached
    attempt            INTEGER NOT NULL DEFAULT 0,  -- polls since (re-)armed
    consecutive_errors INTEGER NOT NULL DEFAULT 0,  -- requests in a row without a usable answer
    consecutive_not_found INTEGER NOT NULL DEFAULT 0, -- 404 answers in a row
    last_error         TEXT,
    admin_seq          INTEGER NOT NULL DEFAULT 0,  -- bumped by admin commands; the daemon watches it
    global_hooks       INTEGER NOT NULL DEFAULT 1 CHECK (global_hooks IN (0, 1)),
    download           INTEGER CHECK (download IN (0, 1)),  -- NULL = the account's download.enabled
    UNIQUE (client_id, access_token)
) STRICT;

INSERT INTO tokens_rebuilt (id, client_id, access_token, label, state, last_status, row_count, byte_count, added_at,
                            next_poll_at, deadline_at, last_polled_at, finished_at, attempt, consecutive_errors,
                            consecutive_not_found, last_error, admin_seq, global_hooks)
SELECT id, client_id, access_token, label, state, last_status, row_count, byte_count, added_at,
       next_poll_at, deadline_at, last_polled_at, finished_at, attempt, consecutive_errors,
       consecutive_not_found, last_error, admin_seq, global_hooks
FROM tokens;

-- Keep AUTOINCREMENT's high-water mark: ids of purged tokens are never handed out again.
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'tokens'), 0))
WHERE name = 'tokens_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'tokens_rebuilt', seq FROM sqlite_sequence
WHERE name = 'tokens' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'tokens_rebuilt');

DROP TABLE tokens;
ALTER TABLE tokens_rebuilt RENAME TO tokens;

CREATE INDEX tokens_by_state ON tokens (state, next_poll_at);
CREATE INDEX tokens_by_admin_seq ON tokens (admin_seq);
CREATE INDEX tokens_by_access_token ON tokens (access_token);
CREATE INDEX tokens_finished_by_end ON tokens (coalesce(finished_at, added_at))
    WHERE state IN ('complete', 'failed', 'download_failed', 'expired', 'retrieved', 'timed_out', 'removed');

CREATE TABLE hook_runs_rebuilt (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL,      -- stable across retries: MPREFD_EVENT_ID
    token_id        INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL
                    CHECK (event IN ('complete', 'failed', 'download_failed', 'expired', 'retrieved',
                                     'timed_out')),
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

-- One row per export the daemon (or `mprefd download`) downloads: where the file goes and the
-- checkpoint. The `.partial` file's first `bytes` bytes hold the first `records` records, with
-- `sha256_prefix` their checksum; the next page starts at `next_offset` (1-based, as the API counts).
-- A restart truncates the file to `bytes` and goes on from there.
CREATE TABLE downloads (
    token_id      INTEGER PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    file          TEXT    NOT NULL,      -- the final path: <directory>/<client ID>/<access token>.ndjson
    phase         TEXT    NOT NULL DEFAULT 'fetching'
                  CHECK (phase IN ('fetching', 'committing', 'committed', 'failed', 'expired')),
    started_at    TEXT    NOT NULL,
    next_offset   INTEGER NOT NULL DEFAULT 1 CHECK (next_offset >= 1),
    records       INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
    bytes         INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    sha256_prefix TEXT,                  -- hex sha256 of the file's first `bytes` bytes; NULL when 0 bytes
    total_results INTEGER,               -- TotalResults of the latest page; NULL before the first
    pages         INTEGER NOT NULL DEFAULT 0,  -- pages stored
    sha256        TEXT,                  -- hex sha256 of the verified, renamed file
    verified_at   TEXT,
    committed_at  TEXT,
    keep_files    INTEGER CHECK (keep_files IN (0, 1)),  -- the keepFiles sent with the commit
    last_error    TEXT,
    updated_at    TEXT    NOT NULL,
    file_deleted_at TEXT                 -- when download.retention_days removed the delivered file
) STRICT;
CREATE INDEX downloads_committed ON downloads (committed_at) WHERE phase = 'committed' AND file_deleted_at IS NULL;

-- The download's history, append-only like `polls`: one row per page or commit request.
CREATE TABLE download_requests (
    id            INTEGER PRIMARY KEY,
    token_id      INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    requested_at  TEXT    NOT NULL,
    request       TEXT    NOT NULL CHECK (request IN ('page', 'commit')),
    page_offset   INTEGER,               -- the `offset` asked for (pages)
    http_status   INTEGER,
    records       INTEGER,               -- records stored from this page
    bytes         INTEGER,               -- bytes appended to the file
    total_results INTEGER,
    latency_ms    INTEGER,
    retry_after_s REAL,
    next_delay_s  REAL,
    outcome       TEXT    NOT NULL
                  CHECK (outcome IN ('ok', 'unavailable', 'server_error', 'bad_request',
                                     'unauthorized', 'forbidden', 'not_found',
                                     'unexpected_status', 'transport_error', 'undecodable')),
    error         TEXT
) STRICT;
CREATE INDEX download_requests_by_token ON download_requests (token_id, id);
CREATE INDEX download_requests_by_time ON download_requests (requested_at);

CREATE TRIGGER download_requests_are_append_only BEFORE UPDATE ON download_requests
BEGIN
    SELECT RAISE(ABORT, 'download_requests is append-only');
END;

-- The views, as before; `download_failed` counts as failed.
CREATE VIEW token_summary AS
SELECT t.id,
       t.client_id,
       t.access_token,
       t.label,
       t.state,
       t.last_status,
       t.row_count,
       t.byte_count,
       t.added_at,
       t.finished_at,
       (SELECT count(*)        FROM polls p WHERE p.token_id = t.id) AS poll_count,
       (SELECT min(polled_at)  FROM polls p WHERE p.token_id = t.id) AS first_polled_at,
       (SELECT max(polled_at)  FROM polls p WHERE p.token_id = t.id) AS last_polled_at,
       CASE WHEN t.finished_at IS NOT NULL
            THEN round((julianday(t.finished_at) - julianday(t.added_at)) * 86400.0, 3)
       END AS duration_s
FROM tokens t;

CREATE VIEW export_durations AS
SELECT t.id                                   AS token_id,
       t.client_id,
       t.access_token,
       t.label,
       t.state,
       t.last_status,
       t.row_count,
       t.byte_count,
       t.added_at,
       t.finished_at,
       substr(t.finished_at, 1, 10)           AS finished_day,      -- 'YYYY-MM-DD' (UTC)
       round((julianday(t.finished_at) - julianday(t.added_at)) * 86400.0, 3) AS duration_s,
       (SELECT count(*) FROM polls p WHERE p.token_id = t.id) AS poll_count
FROM tokens t
WHERE t.finished_at IS NOT NULL
  AND t.state IN ('complete', 'failed', 'download_failed', 'expired', 'retrieved', 'timed_out');

CREATE VIEW poll_outcomes_hourly AS
SELECT strftime('%Y-%m-%dT%H:00:00Z', p.polled_at)           AS hour,
       t.client_id,
       count(*)                                              AS polls,
       sum(p.outcome = 'ok')                                 AS ok,
       sum(p.outcome = 'unavailable')                        AS unavailable,
       sum(p.outcome = 'server_error')                       AS server_errors,
       sum(p.outcome <> 'ok')                                AS errors,
       round(1.0 * sum(p.outcome = 'unavailable') / count(*), 4) AS unavailable_rate,
       round(1.0 * sum(p.outcome <> 'ok') / count(*), 4)     AS error_rate,
       round(avg(p.latency_ms), 1)                           AS avg_latency_ms,
       max(p.latency_ms)                                     AS max_latency_ms
FROM polls p
JOIN tokens t ON t.id = p.token_id
GROUP BY hour, t.client_id;

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

CREATE VIEW daily_volume AS
SELECT substr(t.finished_at, 1, 10)           AS day,
       t.client_id,
       count(*)                               AS finished,
       sum(t.state = 'complete')              AS complete,
       sum(t.state IN ('failed', 'download_failed', 'timed_out')) AS failed,
       sum(t.state = 'expired')               AS expired,
       sum(t.state = 'retrieved')             AS retrieved,
       CAST(total(CASE WHEN t.state = 'complete' THEN t.row_count END) AS INTEGER)  AS rows,
       CAST(total(CASE WHEN t.state = 'complete' THEN t.byte_count END) AS INTEGER) AS bytes
FROM tokens t
WHERE t.finished_at IS NOT NULL
  AND t.state IN ('complete', 'failed', 'download_failed', 'expired', 'retrieved', 'timed_out')
GROUP BY day, t.client_id;

-- New: one row per download with its progress, for `sqlite3` reporting (docs/REPORTING.md).
CREATE VIEW download_progress AS
SELECT d.token_id,
       t.client_id,
       t.access_token,
       t.label,
       t.state,
       d.phase,
       d.file,
       d.records,
       d.total_results,
       CASE WHEN d.total_results > 0 THEN round(100.0 * d.records / d.total_results, 1) END AS percent,
       d.bytes,
       d.pages,
       d.sha256,
       d.file_deleted_at,
       d.started_at,
       d.verified_at,
       d.committed_at,
       round((julianday(coalesce(d.committed_at, d.updated_at)) - julianday(d.started_at)) * 86400.0, 3) AS duration_s,
       (SELECT count(*) FROM download_requests r WHERE r.token_id = d.token_id) AS requests,
       (SELECT count(*) FROM download_requests r WHERE r.token_id = d.token_id AND r.outcome <> 'ok') AS failed_requests,
       d.last_error
FROM downloads d
JOIN tokens t ON t.id = d.token_id;
