-- mprefd schema, migration 0004: the running daemon's heartbeat, read by `mprefd status` and `mprefd wait`.
CREATE TABLE daemon (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    hostname     TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL,
    stopped_at   TEXT                      -- set on a clean shutdown
) STRICT;
