-- mprefd schema, migration 0005: views for the questions analysts ask (see docs/REPORTING.md).
-- Views only: they hold no data and cost nothing until queried. Timestamps stay TEXT UTC
-- 'YYYY-MM-DDTHH:MM:SS.sssZ'; durations are computed with julianday() and given in seconds.

-- One row per export that reached a terminal state (complete, failed, expired, retrieved,
-- timed_out): how long it took from `add-token` to the poll that saw it finish.
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
  AND t.state IN ('complete', 'failed', 'expired', 'retrieved', 'timed_out');

-- Poll outcomes per UTC hour and client ID: how many polls, how many were 503 (unavailable),
-- how many had no usable status (anything but 'ok'), and the latency seen.
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

-- Hook runs that failed: `failed` (a retry is scheduled at next_attempt_at) and `dead` (gave up
-- after hooks.max_attempts; `mprefd hooks retry` re-queues them), with the export they were for.
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

-- Exports finished per UTC day and client ID, by outcome, with the rows and bytes delivered.
CREATE VIEW daily_volume AS
SELECT substr(t.finished_at, 1, 10)           AS day,
       t.client_id,
       count(*)                               AS finished,
       sum(t.state = 'complete')              AS complete,
       sum(t.state IN ('failed', 'timed_out')) AS failed,
       sum(t.state = 'expired')               AS expired,
       sum(t.state = 'retrieved')             AS retrieved,
       coalesce(sum(CASE WHEN t.state = 'complete' THEN t.row_count END), 0)  AS rows,
       coalesce(sum(CASE WHEN t.state = 'complete' THEN t.byte_count END), 0) AS bytes
FROM tokens t
WHERE t.finished_at IS NOT NULL
  AND t.state IN ('complete', 'failed', 'expired', 'retrieved', 'timed_out')
GROUP BY day, t.client_id;
