#!/usr/bin/env bash
# tests/orch/orch_test.sh ORRERY_BIN WORKFLOW_DIR - the DAG runner through
# the real binary.  Synchronisation through files and FIFOs only.
set -u
bin=$1
wfs=$(cd "$2" && pwd)
export ORRERY_SITE=
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1" >&2; sed 's/^/    /' out err >&2 2>/dev/null; failed=$((failed + 1)); }
run() { "$bin" "$@" >out 2>err; rc=$?; }
has() { grep -qF -- "$2" "$1"; }
wait_file() { local i=0; while [ ! -e "$1" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done; }
json() { python3 -c "import json,sys; d=json.load(open('out')); $1" ; }

# --- caching: a second run executes nothing; editing c re-runs c and d ---
cp "$wfs/diamond.lua" d.lua
run run d.lua --param trace="$tmp/t1" --json
[ $rc -eq 0 ] && [ "$(sort t1 | tr -d '\n')" = "abcd" ] && ok first-run || bad first-run
run run d.lua --param trace="$tmp/t1" --json
[ $rc -eq 0 ] && [ "$(wc -l <t1)" -eq 4 ] &&
  json 'assert all(s["cached"] for s in d["steps"]), d' && ok all-cached || bad all-cached
sed -i 's/return x + 10 end/return x + 20 end/' d.lua
run run d.lua --param trace="$tmp/t1" --json
[ $rc -eq 0 ] && [ "$(tail -n +5 t1 | sort | tr -d '\n')" = "cd" ] &&
  json 's={x["name"]:x for x in d["steps"]}; assert s["a"]["cached"] and s["b"]["cached"] and not s["c"]["cached"] and not s["d"]["cached"], s' &&
  ok edit-one-step || bad edit-one-step
run run d.lua --param trace="$tmp/t1" --no-cache --json
[ $rc -eq 0 ] && [ "$(wc -l <t1)" -eq 10 ] && ok no-cache || bad no-cache
# a changed param changes every key
run run d.lua --param trace="$tmp/t2"
[ $rc -eq 0 ] && [ "$(wc -l <t2)" -eq 4 ] && ok param-change || bad param-change
# step output is echoed and stored as a log
run run d.lua --param trace="$tmp/t3" --json
id=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
has err "d got 2 21" && ok echo || bad echo
run logs "$id" d
[ $rc -eq 0 ] && has out "d got 2 21" && ok logs || bad logs
run logs "$id"
[ $rc -eq 0 ] && has out "== d (succeeded) ==" && ok logs-all || bad logs-all
# orrery step: run one step of the recorded run here
run step "$id" d
[ $rc -eq 0 ] && tail -1 out | grep -qE '^[0-9a-f]{64}$' && has out "d got 2 21" &&
  [ "$(tail -1 t3)" = d ] && ok step || bad step
run step "$id" nope
[ $rc -eq 1 ] && has err "has no step 'nope'" && ok step-unknown || bad step-unknown

# --- bad input ----------------------------------------------------------
mkdir -p b && mkfifo b/fifo
ORR_MODE=exit run run "$wfs/bad.lua" --param dir="$tmp/b" --json
[ $rc -eq 1 ] && has err "step 'risky' failed: exit code 3" &&
  json 's={x["name"]:x for x in d["steps"]}; assert s["ok"]["status"]=="succeeded" and s["risky"]["status"]=="failed"' &&
  ok exit-code || bad exit-code
# Under AddressSanitizer a crash or an address-space limit ends the
# process through ASan's own handler (exit 1): only the state is checked.
asan=0
ldd "$bin" 2>/dev/null | grep -q libasan && asan=1
ORR_MODE=crash run run "$wfs/bad.lua" --param dir="$tmp/b"
[ $rc -eq 1 ] && { [ $asan -eq 1 ] || has err "step 'risky' failed: crashed (signal 11"; } &&
  has err "step 'risky' failed: " && ok segfault || bad segfault
ORR_MODE=flaky run run "$wfs/bad.lua" --param dir="$tmp/b" --json
[ $rc -eq 0 ] && json 's={x["name"]:x for x in d["steps"]}; assert s["risky"]["attempts"]==3, s' &&
  has err "will retry: " && ok retries || bad retries
rm -f b/count
ORR_MODE=unstorable run run "$wfs/bad.lua" --param dir="$tmp/b"
[ $rc -eq 1 ] && has err "step 'risky' failed: returned a value that cannot be stored: a function at .f" && ok unstorable || bad unstorable
ORR_MODE=timeout run run "$wfs/bad.lua" --param dir="$tmp/b"
[ $rc -eq 1 ] && has err "step 'risky' failed: timed out: killed after 1 s" && ok timeout || bad timeout
ORR_MODE=oom run run "$wfs/bad.lua" --param dir="$tmp/b"
[ $rc -eq 1 ] && has err "step 'risky' failed: " &&
  { [ $asan -eq 1 ] || { has err "out of memory" && has err "memory limit 64 MiB"; }; } && ok oom || bad oom
cat > opt.lua <<'LUA'
local wf = require("orrery").workflow { name = "o" }
wf:step("x", function() end, { retries = -1 })
return wf
LUA
run run opt.lua
[ $rc -eq 1 ] && has err "opt.lua:2: step 'x': option 'retries' must be a non-negative integer" && ok bad-option || bad bad-option
cat > opt.lua <<'LUA'
local wf = require("orrery").workflow { name = "o" }
wf:step("x", function() end, { memory = "lots" })
return wf
LUA
run run opt.lua
[ $rc -eq 1 ] && has err "option 'memory' must be a positive size" && ok bad-memory || bad bad-memory

# --- kill -9 of the runner, then --resume finishes the run ----------------
mkdir -p k && mkfifo k/fifo
"$bin" run "$wfs/slow.lua" --param dir="$tmp/k" --json >out 2>err &
pid=$!
wait_file k/marker
kill -9 $pid
wait $pid 2>/dev/null
id=$(sed -n 's/.*run \([0-9a-f]\{32\}\) started.*/\1/p' err | head -1)
[ ${#id} -eq 32 ] && ok killed || bad killed
rm -f k/marker
"$bin" run --resume "$id" --json >out 2>err &
rpid=$!
wait_file k/marker
echo "go" > k/fifo
wait $rpid
rc=$?
[ $rc -eq 0 ] && [ "$(cat k/first)" = x ] &&
  json 's={x["name"]:x for x in d["steps"]}; assert d["run_id"]=="'"$id"'"; assert s["first"]["cached"] and s["last"]["status"]=="succeeded" and d["status"]=="succeeded", d' &&
  ok resume || bad resume
run run --resume "$id"
[ $rc -eq 1 ] && has err "nothing to resume" && ok resume-done || bad resume-done

# --- SIGTERM cancels: the step's process group is gone, run cancelled ----
rm -f k/marker
"$bin" run "$wfs/slow.lua" --param dir="$tmp/k" --no-cache --json >out 2>err &
pid=$!
wait_file k/marker
wpid=$(pgrep -f "run $wfs/slow.lua" | grep -v "^$pid$" | tail -1)
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] && has err "the run was cancelled" && ok cancel || bad cancel
[ -z "$wpid" ] || ! kill -0 "$wpid" 2>/dev/null && ok cancel-killed || bad cancel-killed

# --- the quickstart: a second run is served from the cache ---------------
root=$(cd "$wfs/../../.." && pwd)
run run "$root/examples/quickstart/pipeline.lua" --json
run run "$root/examples/quickstart/pipeline.lua" --json
# Every step but the gate (cache = false: it reads the registry) is cached.
[ $rc -eq 0 ] && json 'assert all(s["cached"] == (s["name"] != "gate") for s in d["steps"]), d' && ok quickstart-cached || bad quickstart-cached

# --- a step's declared cpus reach its ctx (and trainers' thread count) ---
cat >cpus_check.lua <<'LUA'
local orrery = require "orrery"
local wf = orrery.workflow { name = "cpus-check" }
local a = wf:step("a", function(ctx) return ctx.cpus end, { cpus = 3 })
wf:step("b", { a }, function(ctx, n)
  assert(n == 3, "ctx.cpus was " .. tostring(n))
  assert(ctx.cpus == nil, "a step without cpus sees none")
end)
return wf
LUA
run run cpus_check.lua
[ $rc -eq 0 ] && ok cpus-in-ctx || bad cpus-in-ctx

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
