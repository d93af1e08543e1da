-- mprefd schema, migration 0001: watched access tokens and their poll history.
-- A released migration is never edited; add a new file instead.
-- Timestamps are TEXT in UTC, 'YYYY-MM-DDTHH:MM:SS.sssZ', so sqlite3's date functions work on them.

-- One row per watched export: an access token of one MyPreferences client ID.
CREATE TABLE tokens (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a purge
    client_id          TEXT    NOT NULL CHECK (length(client_id) BETWEEN 1 AND 128),
    access_token       INTEGER NOT NULL CHECK (access_token > 0),
    label              TEXT,
    state              TEXT    NOT NULL DEFAULT 'watching'
                       CHECK (state IN ('watching', 'paused', 'complete', 'failed', 'expired',
                                        'retrieved', 'timed_out', 'removed')),
    last_status        TEXT,               -- the API's Status, verbatim
    row_count          INTEGER,            -- latest RowCount seen; NULL = not known yet
    byte_count         INTEGER,            -- latest ByteCount seen (64-bit); NULL = not known yet
    added_at           TEXT    NOT NULL,
    next_poll_at       TEXT,               -- when the daemon polls next; NULL unless watching
    deadline_at        TEXT,               -- after this a still-processing export is timed_out
    last_polled_at     TEXT,
    finished_at        TEXT,               -- when a terminal state was reached
    attempt            INTEGER NOT NULL DEFAULT 0,  -- polls since (re-)armed
    consecutive_errors INTEGER NOT NULL DEFAULT 0,  -- polls in a row without a usable status
    consecutive_not_found INTEGER NOT NULL DEFAULT 0, -- 404 answers in a row
    last_error         TEXT,
    admin_seq          INTEGER NOT NULL DEFAULT 0,  -- bumped by admin commands; the daemon watches it
    UNIQUE (client_id, access_token)
) STRICT;

CREATE INDEX tokens_by_state ON tokens (state, next_poll_at);
CREATE INDEX tokens_by_admin_seq ON tokens (admin_seq);

-- The admin change counter: only ever increases (tokens.admin_seq takes its values), so the daemon's
-- high-water mark stays valid when rows are purged.
CREATE TABLE admin_sequence (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;
INSERT INTO admin_sequence (id, value) VALUES (1, 0);

-- Tokens deleted by `mprefd remove --purge`, so a running daemon stops polling them.
-- Rows older than a day are pruned by later purges.
CREATE TABLE purged_tokens (
    token_id   INTEGER NOT NULL,
    admin_seq  INTEGER NOT NULL,
    purged_at  TEXT    NOT NULL
) STRICT;
CREATE INDEX purged_tokens_by_admin_seq ON purged_tokens (admin_seq);

-- The history: one row per poll attempt, append-only.
CREATE TABLE polls (
    id            INTEGER PRIMARY KEY,
    token_id      INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    polled_at     TEXT    NOT NULL,        -- when the request was sent
    http_status   INTEGER,                 -- NULL when no response arrived
    status        TEXT,                    -- Status, verbatim, when the body was decoded
    row_count     INTEGER,
    byte_count    INTEGER,
    latency_ms    INTEGER,                 -- request sent → whole body read, milliseconds
    retry_after_s REAL,                    -- the server's Retry-After hint, seconds
    next_delay_s  REAL,                    -- the delay chosen after this poll, seconds
    outcome       TEXT    NOT NULL
                  CHECK (outcome IN ('ok', 'unavailable', 'server_error', 'bad_request',
                                     'unauthorized', 'forbidden', 'not_found',
                                     'unexpected_status', 'transport_error', 'undecodable')),
    error         TEXT
) STRICT;

CREATE INDEX polls_by_token ON polls (token_id, id);
CREATE INDEX polls_by_time ON polls (polled_at);

CREATE TRIGGER polls_are_append_only BEFORE UPDATE ON polls
BEGIN
    SELECT RAISE(ABORT, 'polls is append-only');
END;

-- One row per token: the questions analysts ask first.
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
