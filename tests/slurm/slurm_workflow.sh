#!/usr/bin/env bash
# tests/slurm/slurm_workflow.sh ORRERY WFDIR - whole workflows through
# `orrery run` on orchestrator-slurm, against the fixture's daemons
# (SLURM_CONF set by ctest).  Checks the steps' own files, the run's
# state and the error text: a 3-step DAG, a failing step, a bad
# partition, cancel (scancel), the controller down.
set -uo pipefail
orr=$1 wf=$2
pass=0 fail=0
ok()  { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); [ -f err ] && sed 's/^/    /' err | head -20; }
has() { grep -q -- "$2" "$1"; }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit $?; }

[ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ] || { bad "SLURM_CONF unset: the slurm_daemons fixture did not run"; finish; }
work=$(mktemp -d "${ORRERY_SLURM_TEST_DIR:-/tmp}/wf.XXXXXX")
cd "$work" || exit 1
site() {
  cat >orrery.site.lua <<LUA
orchestrator = { backend = "slurm", poll_interval = 50, $1 }
LUA
}
site ""

# --- a 3-step DAG: every step ran on Slurm and its output exists ---------
mkdir out
"$orr" run "$wf/dag.lua" --param dir="$work/out" >run.out 2>err
rc=$?
[ $rc -eq 0 ] && ok dag-run || { cat err >&2; bad dag-run; }
[ "$(cat out/extract.out 2>/dev/null)" = extracted ] &&
  [ "$(cat out/transform.out 2>/dev/null)" = rows=3 ] &&
  [ "$(cat out/load.out 2>/dev/null)" = rows=6 ] && ok dag-outputs || bad dag-outputs
run=$(grep -o '[0-9a-f]\{32\}' run.out | tail -1)
"$orr" runs show "$run" >show.out 2>&1 && has show.out succeeded && ok dag-recorded || bad dag-recorded
# The second run is served from the cache: nothing is submitted.
rm -f out/*.out
"$orr" run "$wf/dag.lua" --param dir="$work/out" >run2.out 2>err &&
  [ ! -e out/extract.out ] && ok dag-cached || bad dag-cached

# --- a failing step: error text, dependents skipped, run failed ----------
"$orr" run "$wf/fail.lua" --param dir="$work/out" >run.out 2>err
rc=$?
[ $rc -eq 1 ] && has err "boom on a compute node" && ok fail-error || bad fail-error
[ ! -e out/after.out ] && ok fail-dependent-not-run || bad fail-dependent-not-run

# --- a bad partition: Slurm's own words, the run failed ------------------
site 'partition = "nope"'
"$orr" run "$wf/dag.lua" --param dir="$work/out" --no-cache >run.out 2>err
rc=$?
[ $rc -eq 1 ] && has err "Invalid partition name specified" && ok bad-partition || bad bad-partition

# --- cancel: SIGTERM to the runner scancels the job ----------------------
site ""
"$orr" run "$wf/slow.lua" --param dir="$work/out" >run.out 2>err &
pid=$!
for _ in $(seq 600); do [ -e out/started.out ] && break; sleep 0.05; done
[ -e out/started.out ] && ok cancel-started || bad cancel-started
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] && has err "cancelled" && ok cancel-run || bad cancel-run
# scancel is asynchronous: wait (bounded) for the controller's verdict.
st=""
for _ in $(seq 200); do
  st=$(squeue -h -n orrery-slow -t all -o %T | sort -u | tr '\n' ' ')
  [ "$st" = "CANCELLED " ] && break
  sleep 0.05
done
[ "$st" = "CANCELLED " ] && [ ! -e out/finished.out ] && ok cancel-scancelled || { echo "    squeue: $st"; bad cancel-scancelled; }

# --- the controller down: a clear error naming Slurm's message -----------
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" >down.conf
printf 'MessageTimeout=1\nTCPTimeout=1\n' >>down.conf
SLURM_CONF=$work/down.conf "$orr" run "$wf/dag.lua" --param dir="$work/out" --no-cache >run.out 2>err
rc=$?
[ $rc -eq 1 ] && has err "Unable to contact slurm controller" && ok controller-down || bad controller-down

finish
