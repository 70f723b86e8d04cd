#!/bin/sh
# tests/sched/test_sched_loop.sh - the scheduler's minute loop, beyond
# --once: `orrery scheduler --now T --tick-ms MS` runs in the background
# on a simulated clock (one minute per check), each due fire time starts
# exactly one run, a second scheduler on the site is refused (or waits
# with --wait), SIGTERM stops it after its runs end, and a restart does
# not repeat a fire time.  Stopped by PID; no timing assertions: every
# wait polls observable state with a bound.
# Usage: test_sched_loop.sh /path/to/orrery /path/to/tests/sched
ORRERY=$1
SRC=$2
. "$(dirname "$0")/../lib/checks.sh"
# wait_for FILE TEXT: poll (bounded: ~120 s) until TEXT is in FILE.
wait_for() {
    i=0
    while [ $i -lt 1200 ]; do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
# stop PID: SIGTERM, then wait for it (it waits for its own runs).
stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-sched-loop-XXXXXX") || exit 1
pids=
trap 'for p in $pids; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
cd "$work" || exit 1
export HOME="$work" XDG_CONFIG_HOME="$work/xdg"
cp "$SRC/nightly.lua" .

check tick-needs-now 2 "$ORRERY" scheduler --tick-ms 10
contains tick-needs-now-msg err.txt "--tick-ms needs --now"
check tick-not-once 2 "$ORRERY" scheduler --once --now 2026-11-29T03:00:00Z \
    --tick-ms 10
check tick-bad 2 "$ORRERY" scheduler --now 2026-11-29T03:00:00Z --tick-ms 0

# Every two minutes, and nightly at 03:00, both made at 02:55.
check add-every2 0 "$ORRERY" schedule add nightly.lua --name every2 \
    --cron "*/2 * * * *" --param who=two --now 2026-11-29T02:55:00Z
check add-nightly 0 "$ORRERY" schedule add nightly.lua --name nightly \
    --cron "0 3 * * *" --param who=night --now 2026-11-29T02:55:00Z

# The loop from 02:58, one simulated minute every 50 ms.
"$ORRERY" scheduler --now 2026-11-29T02:58:00Z --tick-ms 50 >loop1.txt \
    2>loop1.err &
p1=$!
pids="$p1"
if wait_for loop1.txt "scheduler started (pid $p1)"; then ok started; else
    bad started; cat loop1.txt loop1.err; fi

# A second scheduler on the same site is refused, naming the first.
check second 1 "$ORRERY" scheduler
contains second-msg err.txt "another scheduler (pid $p1) is running"
contains second-hint err.txt "--wait"
check second-once 1 "$ORRERY" scheduler --once

# With --wait, a third one waits its turn.
"$ORRERY" scheduler --wait --now 2026-11-29T03:30:00Z --tick-ms 50 \
    >loop2.txt 2>loop2.err &
p2=$!
pids="$p1 $p2"
if wait_for loop2.txt "waiting for the scheduler (pid $p1)"; then
    ok waiting; else bad waiting; cat loop2.txt loop2.err; fi

# Let the simulated clock pass 03:10 (every2 fired at 02:58 ... 03:10).
if wait_for loop1.txt "schedule 'every2' scheduled run for 2026-11-29T03:10:00Z: succeeded"
then ok reached-0310; else bad reached-0310; cat loop1.txt loop1.err; fi
stop "$p1"
rc1=$?
if [ "$rc1" -eq 0 ]; then ok stopped; else bad "stopped (exit $rc1)"; fi
contains stopping loop1.txt "scheduler stopping (signal 15)"

# Each fire time started exactly one run; none was started twice.
grep -o "schedule '[a-z0-9]*' scheduled run for [0-9TZ:-]*: started" \
    loop1.txt | sort >fired.txt
dups=$(uniq -d fired.txt | wc -l)
if [ "$dups" -eq 0 ]; then ok no-duplicate-fire; else
    bad "no-duplicate-fire: $dups fire times started twice"; cat loop1.txt; fi
for t in 02:58 03:00 03:02 03:04 03:06 03:08 03:10; do
    n=$(grep -cF "schedule 'every2' scheduled run for 2026-11-29T$t:00Z: started" loop1.txt)
    if [ "$n" -eq 1 ]; then ok "every2-$t"; else
        bad "every2-$t: started $n times"; cat loop1.txt; fi
done
lacks every2-odd loop1.txt "every2' scheduled run for 2026-11-29T02:59"
n=$(grep -cF "schedule 'nightly' scheduled run for 2026-11-29T03:00:00Z: started" loop1.txt)
if [ "$n" -eq 1 ]; then ok nightly-once; else
    bad "nightly-once: $n"; cat loop1.txt; fi
contains missed-0256 loop1.txt "schedule 'every2' (id 1): missed 1 run"
started=$(grep -c "^schedule .*: started (pid" loop1.txt)
finished=$(grep -cE "^schedule .*: (succeeded|failed \()" loop1.txt)
if [ "$started" -eq "$finished" ]; then ok all-reaped; else
    bad "all-reaped: $started started, $finished ended"; cat loop1.txt; fi

# The waiting scheduler took over when the first stopped.
if wait_for loop2.txt "scheduler started (pid $p2)"; then ok took-over; else
    bad took-over; cat loop2.txt loop2.err; fi
if wait_for loop2.txt "schedule 'every2' scheduled run for 2026-11-29T03:32:00Z: succeeded"
then ok second-fires; else bad second-fires; cat loop2.txt; fi
stop "$p2"
if [ $? -eq 0 ]; then ok stopped-2; else bad stopped-2; fi
pids=
# It reported the fire times missed between the two, not re-run them.
contains second-missed loop2.txt "schedule 'every2' (id 1): missed"
lacks second-no-repeat loop2.txt "run for 2026-11-29T03:10:00Z"

# Every run started by either scheduler is in the store, once.
started2=$(grep -c "^schedule .*: started (pid" loop2.txt)
check runs 0 "$ORRERY" runs list --json --limit 1000
n=$(grep -cF '"workflow": "nightly"' out.txt)
if [ "$n" -eq $((started + started2)) ]; then ok runs-match; else
    bad "runs-match: $n runs, $started + $started2 started"; fi
check runs-night 0 "$ORRERY" runs list --filter "tags.who = 'night'"
n=$(grep -c nightly out.txt)
if [ "$n" -eq 1 ]; then ok runs-night-1; else bad "runs-night-1: $n"; fi

# A scheduler killed outright leaves no stale lock: the kernel drops it.
"$ORRERY" scheduler --now 2026-11-29T05:00:00Z --tick-ms 50 >loop3.txt \
    2>&1 &
p3=$!
pids="$p3"
if wait_for loop3.txt "scheduler started (pid $p3)"; then ok started-3; else
    bad started-3; cat loop3.txt; fi
kill -KILL "$p3"
wait "$p3" 2>/dev/null
pids=

# A restart at an earlier time repeats nothing.
check restart 0 "$ORRERY" scheduler --once --now 2026-11-29T03:00:00Z
lacks restart-none out.txt "started"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
