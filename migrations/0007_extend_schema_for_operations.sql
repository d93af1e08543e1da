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
