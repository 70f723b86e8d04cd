#!/usr/bin/env bash
# tests/lua/workflow_test.sh - workflow tests through the real binary.
#
#   workflow_test.sh ORRERY_BIN REPO_ROOT [CASE...]
#
# Each case runs in a fresh temporary directory (a fresh site) with
# ORRERY_SITE= (no site file unless the case writes one).  Without CASE
# every case runs.  Prints one line per case and "N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$2" && pwd)
shift 2
wfs="$root/tests/lua/workflows"
export ORRERY_SITE=

passed=0
failed=0
out="" err="" rc=0

# run ARGS... : run the binary, capturing stdout, stderr and the status.
run() {
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

fail() {
  echo "  $case: $*" >&2
  echo "  --- exit $rc; stdout:" >&2
  printf '%s\n' "$out" | sed 's/^/    /' >&2
  echo "  --- stderr:" >&2
  printf '%s\n' "$err" | sed 's/^/    /' >&2
  bad=1
}
expect_rc() { [ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"; }
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks: $1"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks: $1"; }
expect_no_out() { ! grep -qF -- "$1" "$tmp/out" || fail "stdout has: $1"; }

case_quickstart() {
  run run "$root/examples/quickstart/pipeline.lua"
  expect_rc 0
  expect_out "569 rows, 31 columns; malignant: 212 positive, 357 negative"
  expect_out "mean_radius"
  expect_out "succeeded"
  # a step's output (print and ctx:log) is captured and echoed
  expect_out "[summarise] rows=569 columns=31 malignant=212"
  # trained, evaluated, and promoted: the first model becomes the champion
  expect_out "test accuracy"
  expect_out "promoted to cancer@champion"
  # the same data set stored once more: same digest, run succeeds again
  local digest
  digest=$(sed -n 's/^dataset artifact //p' "$tmp/out")
  [ ${#digest} -eq 64 ] || fail "no dataset digest in the report"
  run run "$root/examples/quickstart/pipeline.lua" --param sample=2
  expect_rc 0
  expect_out "dataset artifact $digest"
  expect_out "mean_texture"
  expect_no_out "mean_perimeter"
  # the same model again does not beat the champion: nothing is promoted
  expect_out "kept the champion"
  expect_no_out "promoted to"
  run models show "cancer@champion" --json
  expect_rc 0
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["version"] == 1 and d["flavor"] == "linear", d' "$tmp/out" \
    || fail "cancer@champion is not version 1"
}

case_quickstart_json() {
  run run --json "$root/examples/quickstart/pipeline.lua"
  expect_rc 0
  # stdout is exactly one JSON document: the step's print() went to stderr
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="succeeded", d; assert len(d["steps"])>=3 and all(s["status"]=="succeeded" for s in d["steps"]), d; assert d["steps"][0]["artifacts"][0]["kind"]=="dataset"; assert len(d["run_id"])==32' "$tmp/out" \
    || fail "bad JSON report"
  expect_err "569 rows"
}

case_values() {
  run run "$wfs/values.lua"
  expect_rc 0
  expect_out "values ok"
}

case_params() {
  run run "$wfs/params.lua"
  expect_rc 0
  expect_out "n=2:integer ratio=0.5:float name=default:string flag=false:boolean"
  run run "$wfs/params.lua" --param n=7 --param=ratio=1e-3 \
    --param name=hello=world --param flag=true
  expect_rc 0
  expect_out "n=7:integer ratio=0.001:float name=hello=world:string flag=true:boolean"
  run run "$wfs/params.lua" --param nope=1
  expect_rc 1
  expect_err "unknown parameter 'nope'"
  expect_err "flag, n, name, ratio"
}

case_relative_paths() {
  mkdir -p "$tmp/elsewhere/deeper"
  (cd "$tmp/elsewhere/deeper" && "$bin" run "$wfs/sub/relpath.lua" \
     >"$tmp/out" 2>"$tmp/err")
  rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  expect_rc 0
  expect_out "path=$wfs/sub/data/hello.txt"
  [ -d "$tmp/elsewhere/deeper/.orrery" ] || fail "the site is not the cwd's"
  # and through a relative path to the workflow from another directory
  # (on a copy: the site is created in the cwd, never in the source tree)
  cp -r "$wfs/sub" "$tmp/sub"
  (cd "$tmp/sub/data" && "$bin" run ../relpath.lua >"$tmp/out" 2>"$tmp/err")
  rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
  expect_rc 0
  expect_out "path=$tmp/sub/data/hello.txt"
}

case_syntax_error() {
  run run "$wfs/syntax.lua"
  expect_rc 1
  expect_err "syntax.lua:5:"
  [ ! -e .orrery/orrery.db ] || fail "a syntax error must not start a run"
}

case_failing_step() {
  run run --json "$wfs/failing.lua"
  expect_rc 1
  expect_err "step 'broken' failed: "
  expect_err "failing.lua:13: attempt to index a nil value"
  expect_err "[broken] about to fail"
  python3 - "$tmp/out" >"$tmp/digest" <<'PY' || fail "bad JSON for a failed run"
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["name"]: s for s in d["steps"]}
assert d["status"] == "failed", d
assert st["first"]["status"] == "succeeded", st
assert st["broken"]["status"] == "failed", st
assert "failing.lua:13:" in st["broken"]["error"], st
assert st["after"]["status"] == "skipped", st
assert st["after"]["skipped_because"] == "broken", st
assert st["independent"]["status"] == "succeeded", st
print(st["first"]["artifacts"][0]["digest"])
PY
  local digest
  digest=$(cat "$tmp/digest")
  run run "$wfs/storage.lua" --param "digest=$digest"
  expect_rc 0
  expect_out "earlier blob present"
  # human output names the states
  run run "$wfs/failing.lua"
  expect_rc 1
  expect_out "skipped"
  expect_out "(input 'broken' failed)"
}

case_unstorable_values() {
  run run "$wfs/returns_function.lua"
  expect_rc 1
  expect_err "step 'bad' failed: returned a value that cannot be stored: a function at .model.predict"
  run run "$wfs/cyclic.lua"
  expect_rc 1
  expect_err "a cyclic table (it contains itself) at .self"
  run run "$wfs/nan.lua"
  expect_rc 1
  expect_err "NaN at .values[2]"
}

case_bad_workflows() {
  run run "$wfs/no_steps.lua"
  expect_rc 1
  expect_err "workflow 'hollow' has no steps"
  run run "$wfs/no_return.lua"
  expect_rc 1
  expect_err "did not return a workflow"
  run run "$wfs/duplicate.lua"
  expect_rc 1
  expect_err "duplicate.lua:4: duplicate step name 'a'"
  run run "$wfs/foreign_input.lua"
  expect_rc 1
  expect_err "foreign_input.lua:5: input 1 is step 'theirs' of another workflow"
  run run "$wfs/not_a_handle.lua"
  expect_rc 1
  expect_err "not_a_handle.lua:3: input 1 is not a step handle"
}

case_unknown_backend() {
  printf 'orchestrator = { backend = "warp" }\n' > orrery.site.lua
  run run "$wfs/params.lua"
  expect_rc 1
  expect_err "warp"
  expect_err "local"
}

case_missing_file() {
  run run "$tmp/nowhere.lua"
  expect_rc 1
  expect_err "no such workflow file: $tmp/nowhere.lua"
}

case_usage() {
  run run "$wfs/params.lua" --param novalue
  expect_rc 2
  expect_err "--param 'novalue' is not KEY=VALUE"
  run run
  expect_rc 2
  run run --bogus x.lua
  expect_rc 2
  run run a.lua b.lua
  expect_rc 2
  run run --help
  expect_rc 0
  expect_out "Usage: orrery run FILE.lua"
}

# A run records the code it ran: the workflow's git commit and whether
# tracked files had uncommitted changes, orrery's and the plugins' versions.
case_provenance() {
  local repo="$tmp/repo"
  mkdir -p "$repo"
  cp "$root/tests/bench/empty.lua" "$repo/wf.lua"
  git -C "$repo" init -q &&
    git -C "$repo" -c user.name=t -c user.email=t@t add wf.lua &&
    git -C "$repo" -c user.name=t -c user.email=t@t commit -qm one ||
    { fail "git setup"; return; }
  local head
  head=$(git -C "$repo" rev-parse HEAD)
  run run "$repo/wf.lua" --json
  expect_rc 0
  local id
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/out")
  run runs export "$id" --json
  python3 - "$tmp/out" "$head" 0 <<'PY' || fail "clean run provenance"
import json, sys
d = json.load(open(sys.argv[1]))
r = d.get("run", d)
assert r["git_commit"] == sys.argv[2], r
assert r["git_dirty"] == int(sys.argv[3]), r
tags = r.get("tags") or d.get("tags")
assert tags["orrery.version"], tags
assert "storage-fs" in tags["orrery.plugins"], tags
assert "orchestrator-local" in tags["orrery.plugins"], tags
PY
  echo "-- edited" >>"$repo/wf.lua"
  run run "$repo/wf.lua" --json
  expect_rc 0
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$tmp/out")
  run runs export "$id" --json
  python3 - "$tmp/out" "$head" 1 <<'PY' || fail "dirty run provenance"
import json, sys
d = json.load(open(sys.argv[1]))
r = d.get("run", d)
assert r["git_commit"] == sys.argv[2] and r["git_dirty"] == int(sys.argv[3]), r
PY
  # outside a repository nothing is recorded, and nothing fails
  cp "$root/tests/bench/empty.lua" "$tmp/plain.lua"
  run run "$tmp/plain.lua" --json
  expect_rc 0
}

case_storage() {
  run run "$wfs/storage.lua"
  expect_rc 0
  expect_out "storage ok"
}

all_cases=$(declare -F | sed -n 's/^declare -f case_//p')
[ $# -gt 0 ] || set -- $all_cases
for case in "$@"; do
  if ! declare -F "case_$case" >/dev/null; then
    echo "unknown case $case (known: $all_cases)" >&2
    failed=$((failed + 1))
    continue
  fi
  tmp=$(mktemp -d)
  bad=0
  (cd "$tmp" && "case_$case"; exit "$bad")
  bad=$?
  if [ -n "${KEEP:-}" ]; then echo "  kept $tmp" >&2; else rm -rf "$tmp"; fi
  if [ "$bad" -eq 0 ]; then
    echo "ok   $case"; passed=$((passed + 1))
  else
    echo "FAIL $case"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
