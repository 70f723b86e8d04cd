#!/usr/bin/env bash
# tests/bench/orch/bench_slurm.sh ORRERY_BIN [REPEATS] - Orrery on the
# single-node Slurm of scripts/slurm.sh against Slurm's own latency.
# Needs the daemons: `bash scripts/slurm.sh start DIR` and the
# SLURM_CONF it prints (`scripts/slurm.sh env DIR`).
#   bare:   sbatch --wrap true, until the job leaves squeue; the same
#           shapes as Orrery's (a chain of 3 with afterok, an array of 4
#           and 2 jobs after it) submitted by hand: Slurm's own floor
#   orrery: `orrery run --no-cache` of 1 step, a 3-step chain (submitted
#           at once with afterok), a sweep of 4 trials (one job array) +
#           select + 1 step; and `orrery step` by hand (its start-up cost
#           on a node: load the workflow, open storage and metadata).
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
reps=${2:-3}
wf=$(cd "$(dirname "$0")/../../slurm/wf" && pwd)
[ -n "${SLURM_CONF:-}" ] || { echo "SLURM_CONF unset (scripts/slurm.sh env DIR)" >&2; exit 2; }
export ORRERY_SITE=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo 'orchestrator = { backend = "slurm", poll_interval = 50 }' > orrery.site.lua
mkdir out
t() { date +%s.%N; }
ms() { python3 -c "import sys; print('%.0f' % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }
cat > one.lua <<'LUA'
local wf = require("orrery").workflow { name = "one", params = { dir = "" } }
wf:step("only", function(ctx)
  local f = assert(io.open(ctx.params.dir .. "/only.out", "w")); f:close()
end)
return wf
LUA
series() {  # series LABEL CMD...: REPEATS wall times in ms
  local label=$1; shift
  local all=""
  for _ in $(seq "$reps"); do
    a=$(t); "$@" >/dev/null 2>&1; b=$(t)
    all="$all $(ms "$a" "$b")"
  done
  echo "$label:$all ms"
}
bare() {
  id=$(sbatch --parsable --wrap true -o /dev/null)
  while squeue -h -j "$id" -o %T 2>/dev/null | grep -q .; do sleep 0.02; done
}
bare_chain() {  # 3 jobs submitted at once, afterok on the previous one
  j1=$(sbatch --parsable --wrap true -o /dev/null)
  j2=$(sbatch --parsable --wrap true -o /dev/null --dependency=afterok:$j1)
  j3=$(sbatch --parsable --wrap true -o /dev/null --dependency=afterok:$j2)
  while squeue -h -j "$j1,$j2,$j3" -o %T 2>/dev/null | grep -q .; do sleep 0.02; done
}
bare_array() {  # an array of 4, then 2 jobs after it
  j1=$(sbatch --parsable --wrap true -o /dev/null --array=0-3)
  j2=$(sbatch --parsable --wrap true -o /dev/null --dependency=afterok:$j1)
  j3=$(sbatch --parsable --wrap true -o /dev/null --dependency=afterok:$j2)
  while squeue -h -j "$j1,$j2,$j3" -o %T 2>/dev/null | grep -q .; do sleep 0.02; done
}
series "sbatch --wrap true -> gone from squeue" bare
series "3 sbatch afterok-chained, submitted at once -> all gone" bare_chain
series "sbatch --array=0-3 + 2 afterok-chained -> all gone" bare_array
series "orrery run, 1 step" "$bin" run one.lua --param dir="$tmp/out" --no-cache
series "orrery run, chain of 3 (dag.lua)" "$bin" run "$wf/dag.lua" --param dir="$tmp/out" --no-cache
series "orrery run, sweep of 4 + select + 1 (sweep.lua)" "$bin" run "$wf/sweep.lua" --param dir="$tmp/out" --no-cache
run=$("$bin" run one.lua --param dir="$tmp/out" --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['run_id'])")
series "orrery step RUN only, by hand (no Slurm)" "$bin" step "$run" only
