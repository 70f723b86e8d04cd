#!/bin/sh
# tests/sched/test_triggers.sh - feedback-loop triggers: `orrery triggers
# apply|list|remove|run` (the triggers file in its sandbox, bad files
# refused with FILE:LINE), and `orrery scheduler` evaluating them: new
# dataset versions fire once each (the newest when several arrived), a
# schedule trigger fires at its cron time, runs are tagged with the
# trigger and the reason, a run in progress is not started twice, and a
# restart neither misses nor repeats.  Drift triggers run against a real
# monitor in tests/loop.  The clock is injected; waits poll with bounds.
# Usage: test_triggers.sh /path/to/orrery /path/to/tests/sched
ORRERY=$1
SRC=$2
. "$(dirname "$0")/../lib/checks.sh"
wait_for() {    # wait_for FILE TEXT: poll, bounded (~120 s)
    i=0
    while [ $i -lt 1200 ]; do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
tagged() {      # tagged NAME FILTER N: runs matching FILTER
    "$ORRERY" runs list --filter "$2" --json --limit 1000 >runs.txt 2>&1
    n=$(grep -c '"workflow": "consume"' runs.txt)
    if [ "$n" -eq "$3" ]; then ok "$1"; else
        bad "$1: $n runs match \"$2\", expected $3"; cat runs.txt; fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-trig-XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1
export HOME="$work" XDG_CONFIG_HOME="$work/xdg"
cp -r "$SRC/slow.lua" "$SRC/triggers" "$SRC"/toy*.csv .

# Bad triggers files: each refused with the file, the line and why.
check bad-option 1 "$ORRERY" triggers apply triggers/bad_option.lua
contains bad-option-msg err.txt "triggers/bad_option.lua:2: orrery.on_new_data: unknown option 'paramz' (options: name, params)"
check bad-cron 1 "$ORRERY" triggers apply triggers/bad_cron.lua
contains bad-cron-msg err.txt "triggers/bad_cron.lua:1: orrery.on_schedule: '0 25 * * *': cron: column 3: hour value 25 is out of range"
check missing-wf 1 "$ORRERY" triggers apply triggers/missing_wf.lua
contains missing-wf-msg err.txt "triggers/missing_wf.lua:3: orrery.on_new_data: workflow '../nowhere.lua': No such file or directory"
check dup 1 "$ORRERY" triggers apply triggers/dup.lua
contains dup-msg err.txt "triggers/dup.lua:3: orrery.on_new_data: a trigger named 'new_data:toy' is declared already (line 2)"
check threshold 1 "$ORRERY" triggers apply triggers/threshold.lua
contains threshold-msg err.txt "threshold must be in (0, 1]"
check escape 1 "$ORRERY" triggers apply triggers/escape.lua
contains escape-msg err.txt "triggers/escape.lua:1:"
contains escape-io err.txt "'io'"
check loop 1 "$ORRERY" triggers apply triggers/loop.lua
contains loop-msg err.txt "instruction limit exceeded"
check syntax 1 "$ORRERY" triggers apply triggers/syntax.lua
contains syntax-msg err.txt "triggers/syntax.lua:3:"
check module 1 "$ORRERY" triggers apply triggers/module.lua
contains module-msg err.txt "module 'os' is not available in a triggers file"
check missing-file 1 "$ORRERY" triggers apply nowhere.lua
contains missing-file-msg err.txt "cannot read triggers file nowhere.lua"
check no-file 2 "$ORRERY" triggers apply
check bad-sub 2 "$ORRERY" triggers frobnicate
check help 0 "$ORRERY" triggers --help
contains help-drift out.txt "orrery.on_drift"
check empty 0 "$ORRERY" triggers list
contains empty-msg out.txt "(no triggers)"
check nothing-stored 0 "$ORRERY" triggers list --json
contains nothing-stored-json out.txt '"triggers": []'

# Version 1 of toy exists before the trigger: it is not "new".
check data-1 0 "$ORRERY" data add toy1.csv --name toy --target y
check apply 0 "$ORRERY" triggers apply triggers/good.lua
contains apply-new out.txt "trigger 'new_data:toy' created: on new_data toy"
contains apply-cron out.txt "trigger 'nightly' created: on schedule 0 3 * * *"
contains apply-drift out.txt "trigger 'drift:toy@champion' created: on drift models:/toy@champion"
check apply-again 0 "$ORRERY" triggers apply triggers/good.lua --json
count_is apply-unchanged out.txt '"change": "unchanged"' 3
check list 0 "$ORRERY" triggers list --json
contains list-state out.txt '"version": 1'
contains list-threshold out.txt '"threshold": 0.2999'
contains list-window out.txt '"window": "500"'
contains list-cooldown out.txt '"cooldown_s": 7200'
contains list-params out.txt '"who": "drift"'
contains list-abs out.txt "\"workflow\": \"$work/slow.lua\""

# A check: nothing new; the drift trigger's model has no traffic.
check once-1 0 "$ORRERY" scheduler --once --now 2026-11-29T02:00:00Z
lacks once-1-none out.txt "started"

# Version 2: one run, with params dataset=datasets:/toy/2, tagged.
check data-2 0 "$ORRERY" data add toy2.csv --name toy --target y
check once-2 0 "$ORRERY" scheduler --once --now 2026-11-29T02:01:00Z
count_is once-2-one out.txt ": started (pid" 1
contains once-2-run out.txt "trigger 'new_data:toy' run of slow.lua (new data datasets:/toy/2): succeeded"
tagged tag-trigger "tags.orrery.trigger = 'new_data:toy'" 1
tagged tag-reason "tags.orrery.trigger.reason = 'new data datasets:/toy/2'" 1
tagged tag-kind "tags.orrery.trigger.kind = 'new_data'" 1
tagged tag-param "params.dataset = 'datasets:/toy/2' and tags.who = 'data'" 1
tagged tag-rows "tags.rows = '5'" 1
check list-2 0 "$ORRERY" triggers list --json
contains list-2-version out.txt '"version": 2'
contains list-2-fire out.txt '"last_fire": "2026-11-29T02:01:00Z"'
contains list-2-run out.txt '"last_run": "'

# The same check again (a restarted scheduler): no repeat.
check once-3 0 "$ORRERY" scheduler --once --now 2026-11-29T02:02:00Z
lacks once-3-none out.txt "started"

# Versions 3 and 4 between two checks: one run, on the newest.
check data-3 0 "$ORRERY" data add toy3.csv --name toy --target y
check data-4 0 "$ORRERY" data add toy4.csv --name toy --target y
check once-4 0 "$ORRERY" scheduler --once --now 2026-11-29T02:03:00Z
count_is once-4-one out.txt ": started (pid" 1
contains once-4-newest out.txt "versions 3-4 arrived since version 2; the newest is used"
tagged tag-v4 "params.dataset = 'datasets:/toy/4'" 1
tagged tag-v3 "params.dataset = 'datasets:/toy/3'" 0

# The schedule trigger: due at 03:00, its params, once.
check cron 0 "$ORRERY" scheduler --once --now 2026-11-29T03:00:00Z
contains cron-run out.txt "trigger 'nightly' run of slow.lua (schedule 2026-11-29T03:00:00Z): succeeded"
tagged tag-cron "tags.orrery.trigger = 'nightly' and tags.who = 'cron'" 1
check cron-again 0 "$ORRERY" scheduler --once --now 2026-11-29T03:00:40Z
lacks cron-again-none out.txt "started"
# Days later: the missed fire times are reported, not run.
check cron-missed 0 "$ORRERY" scheduler --once --now 2026-12-02T02:00:00Z
contains cron-missed-msg out.txt "trigger 'nightly' (schedule): missed 2 fire times since 2026-11-29T03:00:00Z (--catch-up starts one run)"
lacks cron-missed-none out.txt "started"

# By hand: `triggers run NAME`, with an extra param.
check by-hand 0 "$ORRERY" triggers run new_data:toy --param dataset=datasets:/toy/1
contains by-hand-start out.txt "trigger 'new_data:toy': run "
tagged tag-hand "tags.orrery.trigger.reason = 'run by hand' and params.dataset = 'datasets:/toy/1'" 1
check by-hand-unknown 1 "$ORRERY" triggers run nobody
contains by-hand-unknown-msg err.txt "no trigger named 'nobody'"

# A run in progress is not started twice: hold one with a gate file,
# add data meanwhile, release it; the next check runs the newest data.
cat >triggers/held.lua <<EOT
local orrery = require "orrery"
orrery.on_new_data("held", "../slow.lua",
                   { name = "held", params = { who = "held",
                                               gate = "$work/GATE" } })
EOT
check held-data-1 0 "$ORRERY" data add toy1.csv --name held --target y
check held-apply 0 "$ORRERY" triggers apply triggers/held.lua --prune
contains held-pruned out.txt "trigger 'nightly' removed"
check held-data-2 0 "$ORRERY" data add toy2.csv --name held --target y
"$ORRERY" scheduler --now 2026-11-29T04:00:00Z --tick-ms 50 >loop.txt 2>&1 &
pid=$!
if wait_for loop.txt "trigger 'held' run of slow.lua (new data datasets:/held/2): started"
then ok held-started; else bad held-started; cat loop.txt; fi
check held-data-3 0 "$ORRERY" data add toy3.csv --name held --target y
if wait_for loop.txt "datasets:/held/3 is new; waiting for the run in progress"
then ok held-waits; else bad held-waits; cat loop.txt; fi
touch GATE
if wait_for loop.txt "trigger 'held' run of slow.lua (new data datasets:/held/3): succeeded"
then ok held-then-3; else bad held-then-3; cat loop.txt; fi
kill -TERM "$pid"
wait "$pid"
pid=
count_is held-two-runs loop.txt ": started (pid" 2
tagged tag-held "tags.orrery.trigger = 'held'" 2

check remove 0 "$ORRERY" triggers remove held
check remove-again 1 "$ORRERY" triggers remove held
contains remove-again-msg err.txt "no trigger named 'held'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
