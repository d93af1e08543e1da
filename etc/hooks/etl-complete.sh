#!/bin/sh
# etl-complete.sh — an mprefd on_complete hook for an ETL host: records each finished export
# once, then runs the operator's download/load step.
#
# Usage (mprefd.yaml):
#   hooks:
#     on_complete:
#       - /etc/mprefd/hooks/etl-complete.sh                    # state in <database dir>/etl
#       - /etc/mprefd/hooks/etl-complete.sh /srv/etl/mprefd    # state there (add ReadWritePaths=)
#
# mprefd delivers each event at least once: a hook that was running when the daemon stopped, or
# whose exit status was lost, runs again with the same MPREFD_EVENT_ID. This script therefore
# dedupes on MPREFD_EVENT_ID under an exclusive flock(1): of two concurrent runs for one event,
# only one proceeds; a later run for an event already recorded exits 0 without doing anything.
#
# State directory (created 0750 if missing):
#   processed     one line per loaded export, tab-separated:
#                 event_id client_id access_token row_count byte_count finished_at loaded_at
#   lock          the flock(1) lock file
#   events/ID.json  the stdin JSON document of each event (when one was given)
#
# Exit status: 0 = loaded (or already loaded, or not a `complete` event); anything else makes
# mprefd retry later (hooks.max_attempts, then the run is `dead`).
#
# All values from mprefd are treated as data: quoted everywhere, never evaluated, never part of a
# command string. The event id is checked to be a plain identifier before it names a file.
set -eu

me=etl-complete.sh
fail() { echo "$me: $*" >&2; exit 1; }

event_id=${MPREFD_EVENT_ID:-}
[ -n "$event_id" ] || fail "MPREFD_EVENT_ID is not set; run me from mprefd (hooks.on_complete)"
case $event_id in
    *[!A-Za-z0-9._-]*) fail "unexpected characters in MPREFD_EVENT_ID" ;;
esac

if [ "${MPREFD_EVENT:-}" != complete ]; then
    echo "$me: event ${MPREFD_EVENT:-?} is not 'complete'; nothing to load"
    exit 0
fi

state_dir=${1:-}
if [ -z "$state_dir" ]; then
    [ -n "${MPREFD_DB:-}" ] || fail "no state directory given and MPREFD_DB is not set"
    state_dir=$(dirname -- "$MPREFD_DB")/etl
fi
(umask 027 && mkdir -p -- "$state_dir/events")
processed=$state_dir/processed

# Everything below runs under the lock (fd 9): check, load, record.
exec 9>>"$state_dir/lock"
flock -w 300 9 || fail "could not lock $state_dir/lock within 300 s"

touch -- "$processed"
if awk -F '\t' '$1 == ENVIRON["MPREFD_EVENT_ID"] { found = 1 } END { exit !found }' "$processed"; then
    echo "$me: event $event_id already loaded; skipping"
    exit 0
fi

# The JSON document on stdin (optional): keep it for the load step (e.g. `jq -r .row_count`).
event_json=
if [ ! -t 0 ]; then
    event_json=$state_dir/events/$event_id.json
    tmp=$event_json.tmp
    cat > "$tmp"
    if [ -s "$tmp" ]; then mv -f -- "$tmp" "$event_json"; else rm -f -- "$tmp"; event_json=; fi
fi

client_id=${MPREFD_CLIENT_ID:-}
access_token=${MPREFD_ACCESS_TOKEN:-}
rows=${MPREFD_ROW_COUNT:-}
bytes=${MPREFD_BYTE_COUNT:-}

# ---------------------------------------------------------------------------------------------
# The operator's download/load step goes here. It must be idempotent per export or fail (non-zero
# exit) before anything is committed, because a failure here is retried by mprefd. For example:
#
#   /usr/local/bin/fetch-mypreferences-export \
#       --client-id "$client_id" --access-token "$access_token" \
#       --expect-rows "$rows" --out "/srv/etl/incoming/$client_id-$access_token.csv"
#   /usr/local/bin/load-contacts "/srv/etl/incoming/$client_id-$access_token.csv"
#
# (always pass values as separate, quoted arguments, never build a command string with eval).
echo "$me: export $client_id/$access_token complete: ${rows:-?} rows, ${bytes:-?} bytes${event_json:+ (event document $event_json)}"
# ---------------------------------------------------------------------------------------------

# Record the completion only after the load succeeded. Tabs/newlines in values would break the
# line format; they cannot occur in these fields, but strip them to be safe.
clean() { printf '%s' "$1" | tr '\t\n\r' '   '; }
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$event_id" "$(clean "$client_id")" "$(clean "$access_token")" "$(clean "$rows")" "$(clean "$bytes")" \
    "$(clean "${MPREFD_FINISHED_AT:-}")" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$processed"
