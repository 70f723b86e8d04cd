#!/bin/sh
# tests/sched/test_sched_cli.sh - `orrery schedule add|list|remove` and
# `orrery scheduler --once --now T`: due runs start (and show in `orrery
# runs list`), missed fire times are reported, --catch-up starts one run,
# bad input is refused.  The clock is always injected: no sleeping.
# Usage: test_sched_cli.sh /path/to/orrery /path/to/tests/sched
ORRERY=$1
SRC=$2
. "$(dirname "$0")/../lib/checks.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-sched-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HOME="$work" XDG_CONFIG_HOME="$work/xdg"
cp "$SRC/nightly.lua" .

# Bad input.
check bad-cron 2 "$ORRERY" schedule add nightly.lua --cron "0 25 * * *"
contains bad-cron-msg err.txt \
    "cron: column 3: hour value 25 is out of range (0-23)"
contains bad-cron-caret err.txt "    ^"
check bad-fields 2 "$ORRERY" schedule add nightly.lua --cron "0 3 * *"
contains bad-fields-msg err.txt "expected 5 fields"
check no-cron 2 "$ORRERY" schedule add nightly.lua
check bad-param 2 "$ORRERY" schedule add nightly.lua --cron "0 3 * * *" \
    --param novalue
check no-file 1 "$ORRERY" schedule add missing.lua --cron "0 3 * * *"
contains no-file-msg err.txt "missing.lua"
check bad-now 2 "$ORRERY" scheduler --once --now "yesterday"
check tick-needs-now 2 "$ORRERY" scheduler --tick-ms 100
check bad-sub 2 "$ORRERY" schedule frobnicate
check help 0 "$ORRERY" schedule --help
contains help-utc out.txt "UTC"
check empty-list 0 "$ORRERY" schedule list
contains empty-list-msg out.txt "(no schedules)"

# Three schedules: nightly at 03:00 (made three days ago: 3 missed + 1
# due at the check), weekdays at 04:30 (not due on a Sunday), hourly at
# :30 (made at 01:00: missed 01:30 and 02:30, not due at 03:00).
check add 0 "$ORRERY" schedule add nightly.lua --cron "0 3 * * *" \
    --param who=alice --now 2026-11-26T02:00:00Z
contains add-msg out.txt "next run 2026-11-26T03:00:00Z"
check add-dup 1 "$ORRERY" schedule add nightly.lua --cron "0 4 * * *"
contains add-dup-msg err.txt "a schedule named 'nightly' exists already"
check add-json 0 "$ORRERY" schedule add nightly.lua --name weekday \
    --cron "30 4 * * MON-FRI" --param who=bob --json \
    --now 2026-11-29T00:00:00Z
contains add-json-next out.txt '"next_fire": "2026-11-30T04:30:00Z"'
contains add-json-params out.txt '"who": "bob"'
check add-hourly 0 "$ORRERY" schedule add nightly.lua --name hourly \
    --cron "30 * * * *" --param "who=it's; rm -rf /" \
    --now 2026-11-29T01:00:00Z
check add-gone 0 "$ORRERY" schedule add nightly.lua --name gone \
    --cron "* * * * *"
check remove 0 "$ORRERY" schedule remove gone
check remove-again 1 "$ORRERY" schedule remove gone
contains remove-again-msg err.txt "no schedule with id or name 'gone'"

check list 0 "$ORRERY" schedule list --now 2026-11-29T03:00:00Z
contains list-nightly out.txt "2026-11-30T03:00:00Z"
lacks list-gone out.txt "gone"
check list-json 0 "$ORRERY" schedule list --json
count_is list-json-n out.txt '"cron":' 3

# The check at 03:00 on Sunday: exactly one due run, misses reported.
check once 0 "$ORRERY" scheduler --once --now 2026-11-29T03:00:00Z
contains once-missed out.txt "schedule 'nightly' (id 1): missed 3 runs"
contains once-hourly-missed out.txt "schedule 'hourly' (id 3): missed 2 runs"
contains once-hint out.txt "(--catch-up starts one run)"
count_is once-started out.txt ": started (pid" 1
contains once-due out.txt \
    "schedule 'nightly' scheduled run for 2026-11-29T03:00:00Z: succeeded"
lacks once-weekday out.txt "weekday"
check runs-1 0 "$ORRERY" runs list --json
count_is runs-1-n out.txt '"workflow": "nightly"' 1

# The same minute again: nothing new is due or missed.
check again 0 "$ORRERY" scheduler --once --now 2026-11-29T03:00:30Z
lacks again-started out.txt "started"
lacks again-missed out.txt "missed"

# The next morning at 05:00: hourly missed 03:30 and 04:30; --catch-up
# starts exactly one run for it (with its param, passed as one argv
# word, not through a shell), nightly is quiet.
check catchup 0 "$ORRERY" scheduler --once --catch-up \
    --now 2026-11-29T05:00:00Z
contains catchup-missed out.txt "schedule 'hourly' (id 3): missed 2 runs"
contains catchup-start out.txt "starting one catch-up run"
count_is catchup-one out.txt ": started (pid" 1
contains catchup-done out.txt \
    "schedule 'hourly' catch-up run for 2026-11-29T04:30:00Z: succeeded"
check runs-2 0 "$ORRERY" runs list --json
count_is runs-2-n out.txt '"workflow": "nightly"' 2
check runs-tag 0 "$ORRERY" runs list --filter "tags.who = 'it''s; rm -rf /'"
count_is runs-tag-n out.txt "nightly" 1
check list-last 0 "$ORRERY" schedule list --json
contains list-last-fire out.txt '"last_fire": "2026-11-29T04:30:00Z"'

# Monday 04:30: the weekday schedule is due; remove by id works.
check monday 0 "$ORRERY" scheduler --once --now 2026-11-30T04:30:00Z
contains monday-due out.txt \
    "schedule 'weekday' scheduled run for 2026-11-30T04:30:00Z: succeeded"
check remove-id 0 "$ORRERY" schedule remove 2
check list-after 0 "$ORRERY" schedule list
lacks list-after-weekday out.txt "weekday"

# Years of every-minute fire times missed: counting stops, the report
# says so, and the latest fire time is still the one recorded.
check add-dense 0 "$ORRERY" schedule add nightly.lua --name dense \
    --cron "* * * * *" --now 2020-01-01T00:00:00Z
check dense 0 "$ORRERY" scheduler --once --now 2026-11-30T04:31:10Z
contains dense-many out.txt \
    "schedule 'dense' (id 4): missed at least 1000000 runs"
contains dense-due out.txt \
    "schedule 'dense' scheduled run for 2026-11-30T04:31:00Z: succeeded"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
