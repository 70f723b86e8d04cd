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
rows() {  # rows RUN -> "name:count ..." of the run's steps rows
  python3 - "$1" <<'PY'
import sqlite3, sys
d = sqlite3.connect(".orrery/orrery.db")
q = ("select s.name, count(*) from steps s join runs r on r.id = s.run_id"
     " where r.uuid = ? group by s.name order by s.name")
print(" ".join("%s:%d" % r for r in d.execute(q, (sys.argv[1],))))
PY
}

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
run logs "$id" --json
[ $rc -eq 0 ] && json 's = {x["step"]: x for x in d["steps"]}
assert d["run"] == "'"$id"'" and sorted(s) == ["a", "b", "c", "d"], d
assert s["d"]["status"] == "succeeded" and s["d"]["log"] == "d got 2 21\n", d
assert s["a"]["log"] == "", d' && ok logs-json || bad logs-json
run logs "$id" d --json
[ $rc -eq 0 ] && json 'assert [x["step"] for x in d["steps"]] == ["d"], d' &&
  ok logs-json-step || bad logs-json-step
run logs "$id" --json --follow
[ $rc -eq 2 ] && has err "cannot --follow" && ! [ -s out ] &&
  ok logs-json-follow || bad logs-json-follow
run logs nope --json
[ $rc -eq 1 ] && has err "no run nope" && ! [ -s out ] &&
  ok logs-json-unknown || bad logs-json-unknown
# bytes that are not UTF-8 in a log: U+FFFD in the JSON, valid UTF-8 kept
cat > bytes.lua <<'LUA'
local orrery = require "orrery"
local wf = orrery.workflow { name = "bytes" }
wf:step("raw", function(ctx)
  io.write("ok \255\254 \195\169 \237\160\128 end\n"); io.flush(); return 1
end)
return wf
LUA
run run bytes.lua --json
bid=$(python3 -c "import json; print(json.load(open('out'))['run_id'])" 2>/dev/null)
run logs "$bid" raw --json
[ $rc -eq 0 ] && json 'l = d["steps"][0]["log"]
assert l == "ok \ufffd\ufffd \u00e9 \ufffd\ufffd\ufffd end\n", repr(l)' &&
  ok logs-json-bytes || bad logs-json-bytes
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

# --- a cached step's metrics and params are logged into the new run -----
run run "$wfs/metrics.lua" --json
id1=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
run run "$wfs/metrics.lua" --json
id2=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
[ $rc -eq 0 ] && json 'assert all(s["cached"] for s in d["steps"]), d' &&
  run runs show "$id2" --json && json '
m, t = d["metrics"], d["tags"]
assert m["loss"]["n"] == 3 and m["loss"]["last_step"] == 3 and m["loss"]["max"] == 1.0, m
assert m["acc"]["last"] == 0.75 and m["acc"]["n"] == 1, m
assert d["params"]["lr"] == "0.1", d["params"]
assert t["orrery.cached.train"] == "'"$id1"'", t
assert "orrery.cached.quiet" not in t, t' && ok cached-metrics || bad cached-metrics
run runs show "$id2"
[ $rc -eq 0 ] && has out "orrery.cached.train  $id1" && ok cached-metrics-shown || bad cached-metrics-shown
# A third run re-logs the same points once, not twice.
run run "$wfs/metrics.lua" --json
id3=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
run runs show "$id3" --json
json 'assert d["metrics"]["loss"]["n"] == 3, d["metrics"]' && ok cached-metrics-once || bad cached-metrics-once

# --- a step queued behind its input in the same worker (no round trip
# through the runner) is looked up in the cache by that worker ----------
mkdir -p ec
run run "$wfs/early_cache.lua" --param dir="$tmp/ec" --json
run run "$wfs/early_cache.lua" --param dir="$tmp/ec" --json
[ $rc -eq 0 ] && [ "$(cat ec/fresh.out)" = xx ] && [ "$(cat ec/use.out)" = y ] &&
  json 's={x["name"]:x for x in d["steps"]}; assert not s["fresh"]["cached"] and s["use"]["cached"], s' &&
  ok queued-step-cache-hit || bad queued-step-cache-hit
ecid=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
run runs show "$ecid" --json
json 'assert d["metrics"]["seen"]["last"] == 7 and "orrery.cached.use" in d["tags"], d' &&
  ok queued-step-cache-metrics || bad queued-step-cache-metrics
# A chain runs back to back in one worker; its records stay one per step.
run run "$wfs/diamond.lua" --param trace="$tmp/t5" --no-cache --json
did=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
[ $rc -eq 0 ] && [ "$(rows "$did")" = "a:1 b:1 c:1 d:1" ] && ok queued-one-row-per-step ||
  { echo "    $(rows "$did")"; bad queued-one-row-per-step; }

# --- one execution, one steps row: `orrery step` with the runner's row ---
run run "$wfs/metrics.lua" --no-cache --json
id=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
[ "$(rows "$id")" = "quiet:1 train:1" ] && ok one-row-per-step || { echo "    $(rows "$id")"; bad one-row-per-step; }
# A row the runner began and left running (as for a submitted job): the
# step records into it instead of adding one.
sid=$(python3 - "$id" <<'PY'
import sqlite3, sys, time
d = sqlite3.connect(".orrery/orrery.db")
rid = d.execute("select id from runs where uuid = ?", (sys.argv[1],)).fetchone()[0]
c = d.execute("insert into steps (run_id, name, status, start_ms) values (?, 'quiet', 'running', ?)",
              (rid, int(time.time() * 1000)))
d.commit()
print(c.lastrowid)
PY
)
run step "$id" quiet --step-id "$sid"
[ $rc -eq 0 ] && [ "$(rows "$id")" = "quiet:2 train:1" ] &&
  python3 -c "
import sqlite3; d = sqlite3.connect('.orrery/orrery.db')
assert d.execute('select status from steps where id = $sid').fetchone()[0] == 'succeeded'
assert d.execute(\"select step_id from orch_steps where run_uuid = '$id' and name = 'quiet'\").fetchone()[0] == $sid" &&
  ok step-adopts-row || { echo "    $(rows "$id")"; bad step-adopts-row; }
run step "$id" quiet --step-id "$sid"
[ $rc -eq 1 ] && has err "is succeeded, not a running execution" && ok step-row-not-running || bad step-row-not-running
run step "$id" train --step-id "$sid"
[ $rc -eq 1 ] && has err "is step 'quiet', not 'train'" && ok step-row-other-step || bad step-row-other-step
run step "$id" quiet --step-id 99999999
[ $rc -eq 1 ] && has err "has no step row 99999999" && ok step-row-unknown || bad step-row-unknown
run step "$id" quiet --step-id x
[ $rc -eq 2 ] && has err "--step-id wants 1 positive row id" && ok step-id-bad || bad step-id-bad
# An array's task picks its step by index; without an index it refuses.
run step "$id" train quiet
[ $rc -eq 2 ] && has err "ORRERY_ARRAY_INDEX" && ok step-array-no-index || bad step-array-no-index
ORRERY_ARRAY_INDEX=1 run step "$id" train quiet
[ $rc -eq 0 ] && tail -1 out | grep -qE '^[0-9a-f]{64}$' && [ "$(rows "$id")" = "quiet:3 train:1" ] &&
  ok step-array-index || { echo "    $(rows "$id")"; bad step-array-index; }

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
