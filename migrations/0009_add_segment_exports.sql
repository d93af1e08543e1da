-- mprefd schema, migration 0009: mprefd starts exports (`mprefd export SEGMENT`, issue 15).
--
-- `exports` records each initiate before its request is sent, and its answer's access token in the
-- same transaction that starts watching it, so a crash or a lost answer in between leaves a visible
-- `sending`/`unknown` row for an operator to resolve — never a silent second export. `cursors` holds
-- each (client ID, segment)'s incremental position: the `window_end` of its newest delivered export,
-- moved by a trigger in the very transaction that makes the export's token `complete`.

-- The segment a token belongs to (set by `mprefd export`, or `add-token --segment`): its exports'
-- past durations predict when the next one completes. NULL = none.
ALTER TABLE tokens ADD COLUMN segment TEXT CHECK (segment IS NULL OR length(segment) BETWEEN 1 AND 200);
-- When the daemon warned that the export is stuck: still processing beyond polling.stuck_factor × its
-- segment's 95th percentile. One warning per run of the token (cleared when it is watched again).
ALTER TABLE tokens ADD COLUMN stuck_at TEXT;
-- The status's `Expires` (the API/3 form: when the token expires; format undocumented), verbatim,
-- from the latest answer that carried one. `status` warns when a complete export is not delivered and
-- its `Expires` (when it reads as a UTC time) is less than an hour away.
ALTER TABLE tokens ADD COLUMN expires TEXT;

CREATE TABLE exports (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id      TEXT    NOT NULL CHECK (length(client_id) BETWEEN 1 AND 128),
    segment        TEXT    NOT NULL CHECK (length(segment) BETWEEN 1 AND 200),
    label          TEXT,
    state          TEXT    NOT NULL DEFAULT 'sending'
                   CHECK (state IN ('sending', 'started', 'unknown', 'refused', 'abandoned')),
    incremental    INTEGER NOT NULL DEFAULT 0 CHECK (incremental IN (0, 1)),  -- started from the cursor
    window_start   TEXT,               -- only records changed at or after this (UTC); NULL = a full export
    window_end     TEXT    NOT NULL,   -- when the initiate request was (last) sent: the data reaches about here
    last_date_time TEXT,               -- the LastDateTime sent (window_start moved back to an x9 ms, see README)
    request_body   TEXT    NOT NULL,   -- the JSON body sent (no secrets: credentials travel in a header)
    attempts       INTEGER NOT NULL DEFAULT 0,  -- initiate requests sent (only retried when none can have started one)
    token_id       INTEGER REFERENCES tokens (id) ON DELETE SET NULL,
    access_token   INTEGER CHECK (access_token > 0),
    created_at     TEXT    NOT NULL,
    answered_at    TEXT,
    http_status    INTEGER,            -- of the last answer; NULL = none arrived
    error          TEXT,               -- why it is refused or unknown
    settled_at     TEXT,               -- when `mprefd export --resolve/--abandon` settled an unknown one
    sender_pid     INTEGER,            -- the `mprefd export` process sending it (while `sending`)
    sender_identity TEXT,              -- that process's boot_id/start time: a reused PID is not taken for it
    -- How the token is watched once known (as `add-token` would; kept for --resolve):
    deadline_s     INTEGER,            -- NULL = polling.deadline_s; 0 = none
    download       INTEGER CHECK (download IN (0, 1)),  -- NULL = the account's download.enabled
    global_hooks   INTEGER NOT NULL DEFAULT 1 CHECK (global_hooks IN (0, 1)),
    hooks          TEXT    NOT NULL DEFAULT '[]',      -- JSON [{"on_event": …, "command": …}]
    callback_id    TEXT    CHECK (callback_id IS NULL OR length(callback_id) BETWEEN 1 AND 128)  -- the id ending the CallbackURL sent (callbacks.public_url); NULL = none sent
) STRICT;

CREATE INDEX exports_by_segment ON exports (client_id, segment, id);
CREATE UNIQUE INDEX exports_by_token ON exports (token_id) WHERE token_id IS NOT NULL;
-- A callback POST names its export by this id alone (`mprefd run`'s callbacks.listen looks it up).
CREATE UNIQUE INDEX exports_by_callback_id ON exports (callback_id) WHERE callback_id IS NOT NULL;
-- At most one export per segment whose outcome is not known: a second `mprefd export` of it is refused
-- until the first is resolved or abandoned.
CREATE UNIQUE INDEX exports_one_unsettled ON exports (client_id, segment) WHERE state IN ('sending', 'unknown');

CREATE TABLE cursors (
    client_id  TEXT NOT NULL CHECK (length(client_id) BETWEEN 1 AND 128),
    segment    TEXT NOT NULL CHECK (length(segment) BETWEEN 1 AND 200),
    position   TEXT NOT NULL,          -- the next `--incremental` window starts here (minus --overlap), UTC
    export_id  INTEGER REFERENCES exports (id) ON DELETE SET NULL,  -- the delivered export that set it
    set_by     TEXT NOT NULL CHECK (set_by IN ('delivery', 'reset')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (client_id, segment)
) STRICT;

-- Delivered = the token became `complete` (with download on, only after the file is verified and
-- committed). The cursor only moves forward, and after `mprefd cursors reset` only for exports sent
-- after the reset.
CREATE TRIGGER cursor_advances_on_delivery AFTER UPDATE OF state ON tokens
WHEN NEW.state = 'complete' AND OLD.state <> 'complete'
BEGIN
    INSERT INTO cursors (client_id, segment, position, export_id, set_by, updated_at)
    SELECT e.client_id, e.segment, e.window_end, e.id, 'delivery',
           coalesce(NEW.finished_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    FROM exports e
    WHERE e.token_id = NEW.id
    ON CONFLICT (client_id, segment) DO UPDATE
    SET position = excluded.position, export_id = excluded.export_id, set_by = 'delivery', updated_at = excluded.updated_at
    WHERE excluded.position > cursors.position
      AND (cursors.set_by = 'delivery'
           OR (SELECT x.window_end FROM exports x WHERE x.id = excluded.export_id) >= cursors.updated_at);
END;

-- One row per export mprefd started, with its token's progress: what came of each window.
CREATE VIEW segment_exports AS
SELECT e.id                                    AS export_id,
       e.client_id,
       e.segment,
       e.label,
       e.state                                 AS export_state,
       e.incremental,
       e.window_start,
       e.window_end,
       e.access_token,
       t.state                                 AS token_state,
       t.last_status,
       t.row_count,
       t.byte_count,
       d.records                               AS file_records,
       d.bytes                                 AS file_bytes,
       d.file,
       t.finished_at,
       round((julianday(t.finished_at) - julianday(e.window_end)) * 86400.0, 3) AS duration_s,  -- initiate → finished
       coalesce(t.state = 'complete', 0)       AS delivered,
       e.error
FROM exports e
LEFT JOIN tokens t ON t.id = e.token_id
LEFT JOIN downloads d ON d.token_id = e.token_id AND d.phase = 'committed';

-- One row per (client ID, segment): how its exports went and where its cursor stands. Every export is
-- in exactly one of delivered, in_progress, not_delivered (its token failed, expired, timed out, was
-- retrieved elsewhere or removed), refused, abandoned (without a token) and unsettled — unless its
-- token row was purged.
CREATE VIEW segment_summary AS
SELECT s.client_id,
       s.segment,
       count(*)                                                   AS exports,
       sum(s.delivered)                                           AS delivered,
       sum(s.export_state IN ('sending', 'unknown'))              AS unsettled,
       sum(s.export_state = 'refused')                            AS refused,
       sum(s.export_state = 'abandoned' AND s.access_token IS NULL) AS abandoned,
       sum(coalesce(s.token_state IN ('failed', 'download_failed', 'expired', 'retrieved', 'timed_out', 'removed'), 0)) AS not_delivered,
       sum(coalesce(s.token_state IN ('watching', 'paused', 'downloading'), 0)) AS in_progress,
       (SELECT x.window_start FROM segment_exports x
         WHERE x.client_id = s.client_id AND x.segment = s.segment AND x.delivered
         ORDER BY x.window_end DESC LIMIT 1)                      AS last_delivered_start,
       max(CASE WHEN s.delivered THEN s.window_end END)           AS last_delivered_end,
       round(avg(CASE WHEN s.delivered THEN s.duration_s END), 3) AS mean_duration_s,
       max(CASE WHEN s.delivered THEN s.duration_s END)           AS max_duration_s,
       sum(CASE WHEN s.delivered THEN s.row_count END)            AS rows_delivered,
       sum(CASE WHEN s.delivered THEN coalesce(s.file_bytes, s.byte_count) END) AS bytes_delivered,
       c.position                                                 AS cursor,
       c.set_by                                                   AS cursor_set_by
FROM segment_exports s
LEFT JOIN cursors c ON c.client_id = s.client_id AND c.segment = s.segment
GROUP BY s.client_id, s.segment;

-- Delivered exports per segment and day (of window_end, UTC): rows and bytes over time.
CREATE VIEW segment_daily AS
SELECT client_id,
       segment,
       substr(window_end, 1, 10)               AS day,
       count(*)                                AS delivered,
       sum(row_count)                          AS rows,
       sum(coalesce(file_bytes, byte_count))   AS bytes,
       round(avg(duration_s), 3)               AS mean_duration_s
FROM segment_exports
WHERE delivered
GROUP BY client_id, segment, day;

-- Time spans no delivered window covers: between one delivered export's window_end and the next
-- delivered one's window_start (a `cursors reset --to` forward, or a `--since` later than the cursor).
CREATE VIEW segment_gaps AS
WITH delivered AS (
    SELECT client_id, segment, export_id, window_start, window_end,
           lag(window_end) OVER (PARTITION BY client_id, segment ORDER BY window_end, export_id) AS previous_end,
           lag(export_id)  OVER (PARTITION BY client_id, segment ORDER BY window_end, export_id) AS previous_export_id
    FROM segment_exports
    WHERE delivered
)
SELECT client_id,
       segment,
       previous_export_id,
       export_id,
       previous_end                            AS gap_start,
       window_start                            AS gap_end,
       round((julianday(window_start) - julianday(previous_end)) * 86400.0, 3) AS gap_s
FROM delivered
WHERE previous_end IS NOT NULL AND window_start IS NOT NULL AND window_start > previous_end;
