-- mprefd schema, migration 0007: what a week in production asked for (issue 17).

-- Admin commands name tokens by access token alone (`mprefd remove 123`, `wait`, `show`, `pause`):
-- one set-based lookup through this index instead of a scan of `tokens` per token.
CREATE INDEX tokens_by_access_token ON tokens (access_token);

-- The process group of a hook run's last start (its leader's PID) and the leader's identity
-- ('boot_id/starttime' from /proc), recorded when the hook starts. A daemon restarted after a crash
-- ends a group still alive before it runs the event again, so no two runs of one event overlap.
ALTER TABLE hook_runs ADD COLUMN pgid INTEGER;
ALTER TABLE hook_runs ADD COLUMN pgid_leader_identity TEXT;

-- Retention (retention.finished_tokens_days): finished and removed tokens by when they ended.
CREATE INDEX tokens_finished_by_end ON tokens (coalesce(finished_at, added_at))
    WHERE state IN ('complete', 'failed', 'expired', 'retrieved', 'timed_out', 'removed');

-- `mprefd hooks retry` re-arms a dead run with the full number of attempts again while
-- MPREFD_ATTEMPT keeps counting: the run is dead once attempt - attempts_before_retry reaches
-- hooks.max_attempts.
ALTER TABLE hook_runs ADD COLUMN attempts_before_retry INTEGER NOT NULL DEFAULT 0;

-- daily_volume, replaced: sum() fails the whole query with "integer overflow" once one absurd
-- RowCount or ByteCount pushes a day past 2^63; total() never fails. The sums are cast back to
-- INTEGER (exact up to 2^53, saturating at 9223372036854775807 beyond).
DROP VIEW daily_volume;
CREATE VIEW daily_volume AS
SELECT substr(t.finished_at, 1, 10)           AS day,
       t.client_id,
       count(*)                               AS finished,
       sum(t.state = 'complete')              AS complete,
       sum(t.state IN ('failed', 'timed_out')) AS failed,
       sum(t.state = 'expired')               AS expired,
       sum(t.state = 'retrieved')             AS retrieved,
       CAST(total(CASE WHEN t.state = 'complete' THEN t.row_count END) AS INTEGER)  AS rows,
       CAST(total(CASE WHEN t.state = 'complete' THEN t.byte_count END) AS INTEGER) AS bytes
FROM tokens t
WHERE t.finished_at IS NOT NULL
  AND t.state IN ('complete', 'failed', 'expired', 'retrieved', 'timed_out')
GROUP BY day, t.client_id;
