#!/usr/bin/env bash
# tests/slurm/slurm_workflow.sh ORRERY WFDIR - whole workflows through
# `orrery run` on orchestrator-slurm, against the fixture's daemons
# (SLURM_CONF set by ctest).  Checks the steps' own files, the run's
# state and the error text: a 3-step DAG (one steps row per execution),
# a DAG submitted at once (afterok), a sweep as one job array, a failing
# step (its dependent's job cancelled, the step skipped), a bad
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

# One execution, one `steps` row (the runner's), whichever process ran it.
rows() {  # rows RUN -> "name:count ..." of the run's steps rows
  python3 - "$1" <<'PY'
import sqlite3, sys
d = sqlite3.connect(".orrery/orrery.db")
q = ("select s.name, count(*) from steps s join runs r on r.id = s.run_id"
     " where r.uuid = ? group by s.name order by s.name")
print(" ".join("%s:%d" % r for r in d.execute(q, (sys.argv[1],))))
PY
}
[ "$(rows "$run")" = "extract:1 load:1 transform:1" ] && ok dag-one-row-per-step ||
  { echo "    rows: $(rows "$run")"; bad dag-one-row-per-step; }

# --- the whole DAG is submitted at once: the second job waits in Slurm
# (afterok on the first) while the first still runs -----------------------
mkdir -p gate
"$orr" run "$wf/gate.lua" --param dir="$work/gate" --json >gate.json 2>err &
pid=$!
for _ in $(seq 600); do [ -e gate/first.started ] && break; sleep 0.05; done
first=$(squeue -h -n orrery-first -o %i | head -1)
second=$(squeue -h -n orrery-second -o %i | head -1)
dep=$(scontrol show job -o "$second" 2>/dev/null | grep -o 'Dependency=[^ ]*')
[ -n "$first" ] && [ "$dep" = "Dependency=afterok:${first}_*(unfulfilled)" -o \
  "$dep" = "Dependency=afterok:${first}(unfulfilled)" ] && ok dag-submitted-at-once ||
  { echo "    first=$first second=$second $dep"; bad dag-submitted-at-once; }
touch gate/gate
wait $pid
rc=$?
[ $rc -eq 0 ] && [ "$(cat gate/second.out 2>/dev/null)" = "second got 1" ] &&
  ok dag-dependency-ran || bad dag-dependency-ran
grun=$(python3 -c "import json; print(json.load(open('gate.json'))['run_id'])")
[ "$(rows "$grun")" = "first:1 second:1" ] && ok gate-one-row-per-step ||
  { echo "    rows: $(rows "$grun")"; bad gate-one-row-per-step; }

# --- a sweep is one job array; each trial ran and wrote its own file ------
mkdir -p sw
"$orr" run "$wf/sweep.lua" --param dir="$work/sw" --json >sweep.json 2>err
rc=$?
[ $rc -eq 0 ] && [ "$(cat sw/pick.out 2>/dev/null)" = "best 40" ] &&
  [ "$(cat sw/trial-1.out sw/trial-2.out sw/trial-3.out sw/trial-4.out 2>/dev/null)" = 1234 ] &&
  ok sweep-run || bad sweep-run
# The newest array job named after the first trial has the 4 trials as
# its tasks (jobs of earlier runs stay listed for MinJobAge).
arrays=$(scontrol show job -o | grep 'JobName=orrery-sw_1_' |
         grep -o 'ArrayJobId=[0-9]* ArrayTaskId=[0-9]*')
newest=$(echo "$arrays" | cut -d' ' -f1 | sort -t= -k2 -n | tail -1)
tasks=$(echo "$arrays" | grep "^$newest " | cut -d' ' -f2 | sort | tr '\n' ' ')
[ -n "$newest" ] && [ "$tasks" = "ArrayTaskId=0 ArrayTaskId=1 ArrayTaskId=2 ArrayTaskId=3 " ] &&
  ok sweep-one-array-job || { echo "    $arrays"; bad sweep-one-array-job; }
srun_id=$(python3 -c "import json; print(json.load(open('sweep.json'))['run_id'])")
[ "$(rows "$srun_id")" = "pick:1 sw:1 sw[1]:1 sw[2]:1 sw[3]:1 sw[4]:1" ] &&
  ok sweep-one-row-per-trial || { echo "    rows: $(rows "$srun_id")"; bad sweep-one-row-per-trial; }
# The trials' output went to their own logs.
"$orr" logs "$srun_id" "sw[3]" >log.out 2>&1 && grep -qE '^[0-9a-f]{64}$' log.out &&
  ok sweep-trial-log || bad sweep-trial-log
# Run again: every trial is served from the cache, nothing is submitted.
rm -f sw/*.out
"$orr" run "$wf/sweep.lua" --param dir="$work/sw" --json >sweep2.json 2>err &&
  python3 -c "import json; d=json.load(open('sweep2.json')); assert all(s['cached'] for s in d['steps']), d" &&
  [ ! -e sw/trial-1.out ] && ok sweep-cached || bad sweep-cached

# --- a job submitted before its input ended looks itself up in the cache:
# the second run re-runs "fresh" (cache = false) but not "use" ----------
mkdir -p ec
# (the workflow of tests/orch: the same steps, on Slurm here)
ecwf=$wf/../../orch/wf/early_cache.lua
"$orr" run "$ecwf" --param dir="$work/ec" --json >ec1.json 2>err &&
  "$orr" run "$ecwf" --param dir="$work/ec" --json >ec2.json 2>err &&
  [ "$(cat ec/fresh.out)" = xx ] && [ "$(cat ec/use.out)" = y ] &&
  python3 -c "
import json; d = json.load(open('ec2.json')); s = {x['name']: x for x in d['steps']}
assert not s['fresh']['cached'] and s['use']['cached'] and s['use']['status'] == 'succeeded', s" &&
  ok early-job-cache-hit || bad early-job-cache-hit
ecrun=$(python3 -c "import json; print(json.load(open('ec2.json'))['run_id'])")
"$orr" runs show "$ecrun" --json >ec.show 2>err &&
  python3 -c "
import json; d = json.load(open('ec.show'))
assert d['metrics']['seen']['last'] == 7 and 'orrery.cached.use' in d['tags'], d" &&
  [ "$(rows "$ecrun")" = "fresh:1 use:1" ] && ok early-job-cache-metrics || bad early-job-cache-metrics

# --- a failing step: error text, dependents skipped, run failed ----------
"$orr" run "$wf/fail.lua" --param dir="$work/out" --json >fail.json 2>err
rc=$?
[ $rc -eq 1 ] && has err "boom on a compute node" && ok fail-error || bad fail-error
[ ! -e out/after.out ] && ok fail-dependent-not-run || bad fail-dependent-not-run
# "after" was submitted with afterok on "boom": it ends skipped (because
# of boom), and its Slurm job was cancelled, never run.
python3 -c "
import json; d = json.load(open('fail.json')); s = {x['name']: x for x in d['steps']}
assert s['boom']['status'] == 'failed', s
assert s['after']['status'] == 'skipped' and s['after'].get('skipped_because') == 'boom', s['after']
" && ok fail-dependent-skipped || bad fail-dependent-skipped
st=""
for _ in $(seq 200); do
  st=$(squeue -h -n orrery-after -t all -o %T | sort -u | tr '\n' ' ')
  [ "$st" = "CANCELLED " ] && break
  sleep 0.05
done
[ "$st" = "CANCELLED " ] && ok fail-dependent-job-cancelled || { echo "    squeue: $st"; bad fail-dependent-job-cancelled; }

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
