-- mprefd schema, migration 0007: what a week in production asked for (issue 17).

-- Admin commands name tokens by access token alone (`mprefd remove 123`, `wait`, `show`, `pause`):
-- one set-based lookup through this index instead of a scan of `tokens` per token.
CREATE INDEX tokens_by_access_token ON tokens (access_token);
