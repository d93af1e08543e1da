-- mprefd schema, migration 0002: pauses that outlive a restart.
-- scope 'host': a 503 made the whole host unavailable; subject is the base URL's scheme://host:port.
-- scope 'account': 401/403 — credentials or permissions need an operator; subject is the client ID.
CREATE TABLE pauses (
    scope         TEXT NOT NULL CHECK (scope IN ('host', 'account')),
    subject       TEXT NOT NULL,
    paused_until  TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    http_status   INTEGER,
    retry_after_s REAL,
    PRIMARY KEY (scope, subject)
) STRICT;
