#!/bin/sh
# log-event.sh — an mprefd hook that appends one line per event with its facts.
#
# Usage (in mprefd.yaml, any of hooks.on_complete / on_failure / on_expired / on_retrieved / on_stuck):
#   - /etc/mprefd/hooks/log-event.sh                        # → events.log beside the database
#   - /etc/mprefd/hooks/log-event.sh /var/lib/mprefd/x.log  # → that file
#   - /etc/mprefd/hooks/log-event.sh syslog                 # → logger(1), tag mprefd-hook (the journal)
#
# The line is logfmt, one event per line, e.g.
#   ts=2026-11-02T10:00:03Z event=complete event_id=… client_id=ACME_Co access_token=42 status="Complete" rows=1000 bytes=123456 …
#
# Facts come from the MPREFD_* environment mprefd sets (the daemon passes only those plus PATH,
# HOME, LANG, TZ — so the log file is chosen by the argument, not by an environment variable).
# Values are data: they are only ever printed, quoted and escaped, never run or spliced into a
# command. The JSON document on stdin is not needed here and is left unread.
# Exit status: 0 when the line was written; non-zero (so mprefd retries) when it could not be.
set -eu

# Quotes a value for logfmt: backslash and double quote escaped; newlines, CR and tabs become spaces.
quote() {
    printf '"%s"' "$(printf '%s' "$1" | tr '\n\r\t' '   ' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

db=${MPREFD_DB:-}
target=${1:-}
if [ -z "$target" ]; then
    if [ -z "$db" ]; then
        echo "log-event.sh: no log file given and MPREFD_DB is not set; run me from mprefd or pass a path" >&2
        exit 64
    fi
    target=$(dirname -- "$db")/events.log
fi

line="ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
line="$line event=$(quote "${MPREFD_EVENT:-}")"
line="$line event_id=$(quote "${MPREFD_EVENT_ID:-}")"
line="$line client_id=$(quote "${MPREFD_CLIENT_ID:-}")"
line="$line access_token=$(quote "${MPREFD_ACCESS_TOKEN:-}")"
line="$line label=$(quote "${MPREFD_LABEL:-}")"
line="$line status=$(quote "${MPREFD_STATUS:-}")"
line="$line rows=$(quote "${MPREFD_ROW_COUNT:-}")"
line="$line bytes=$(quote "${MPREFD_BYTE_COUNT:-}")"
line="$line added_at=$(quote "${MPREFD_ADDED_AT:-}")"
line="$line finished_at=$(quote "${MPREFD_FINISHED_AT:-}")"
line="$line attempt=$(quote "${MPREFD_ATTEMPT:-}")"

if [ "$target" = syslog ]; then
    logger -t mprefd-hook -- "$line"
else
    # One write of one line with O_APPEND: concurrent hooks don't interleave their lines.
    printf '%s\n' "$line" >> "$target"
fi
