-- mprefd schema, migration 0006: host and account pauses lifted early by an operator
-- (`mprefd resume --host URL` / `--account CLIENT_ID`), so a running daemon polls again at once.
-- The lift deletes the `pauses` row and logs it here with the next admin_sequence value; the daemon
-- reads rows above its high-water mark, as it does for `purged_tokens`. Rows older than a day are
-- pruned by later lifts.
CREATE TABLE pause_lifts (
    scope      TEXT    NOT NULL CHECK (scope IN ('host', 'account')),
    subject    TEXT    NOT NULL,          -- as in pauses.subject: scheme://host:port, or the client ID
    admin_seq  INTEGER NOT NULL,
    lifted_at  TEXT    NOT NULL
) STRICT;
CREATE INDEX pause_lifts_by_admin_seq ON pause_lifts (admin_seq);
