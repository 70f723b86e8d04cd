#!/usr/bin/env bash
# tests/reproduce/reproduce_test.sh ORRERY_BIN SOURCE_DIR - `orrery
# reproduce`: the quickstart reproduces bit for bit from its record (even
# after the file changed), a workflow with unseeded randomness or outside
# state does not, and the report says which steps differ.
set -u
bin=$1
src=$(cd "$2" && pwd)
export ORRERY_SITE=
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1" >&2; sed 's/^/    /' out err >&2 2>/dev/null; failed=$((failed + 1)); }
run() { "$bin" "$@" >out 2>err; rc=$?; }
has() { grep -qF -- "$2" "$1"; }
run_id() { python3 -c "import json; print(json.load(open('out'))['run_id'])"; }

mkdir -p q data
cp "$src/examples/quickstart/pipeline.lua" q/
cp "$src/examples/data/breast_cancer.csv" data/

# --- the quickstart, with a non-default param, reproduces ---------------
run run q/pipeline.lua --param C=0.5 --json
[ $rc -eq 0 ] || bad quickstart-run
orig=$(run_id)
# The file changes after the run: reproduce runs the recorded script.
sed -i 's/C = 1.0, /C = 7.0, /; s/seed = 7/seed = 8/' q/pipeline.lua
run reproduce "$orig"
[ $rc -eq 0 ] && has out "every output is bit-identical" &&
  [ "$(grep -c ' same$' out)" -eq 8 ] && ok quickstart || bad quickstart
run reproduce "${orig:0:8}" --json
[ $rc -eq 0 ] && python3 - "$orig" <<'PY' && ok quickstart-json || bad quickstart-json
import json, sys
d = json.load(open("out"))
assert d["original"] == sys.argv[1] and d["reproduced"] is True, d
assert d["run_id"] != d["original"], d
assert [s["name"] for s in d["steps"]] == ["ingest", "summarise", "split",
        "train_linear", "train_xgboost", "evaluate", "gate", "report"], d
assert all(s["match"] and s["original"] == s["output"] for s in d["steps"]), d
PY
new=$(python3 -c "import json; print(json.load(open('out'))['run_id'])")
run runs show "$new" --json
[ $rc -eq 0 ] && python3 -c "
import json; r = json.load(open('out'))
assert r['tags']['orrery.reproduces'] == '$orig', r['tags']
assert r['params']['C'] == '0.5', r['params']" && ok recorded-params ||
  bad recorded-params
# the edited file itself gives another model
run run q/pipeline.lua --param C=0.5 --json
[ $rc -eq 0 ] && python3 -c "
import json; d = json.load(open('out'))
s = {x['name']: x for x in d['steps']}
assert not s['split']['cached']" && ok edited-differs || bad edited-differs

# --- unseeded randomness and outside state do not reproduce -------------
run run "$src/tests/reproduce/nondet.lua" --param counter="$tmp/count" --json
[ $rc -eq 0 ] || bad nondet-run
nd=$(run_id)
run reproduce "$nd" --json
[ $rc -eq 1 ] && python3 - <<'PY' && ok nondet || bad nondet
import json
d = json.load(open("out"))
assert d["reproduced"] is False, d
m = {s["name"]: s["match"] for s in d["steps"]}
assert m == {"stable": True, "rand": False, "counter": False,
             "after": False, "also_stable": True}, m
PY
run reproduce "$nd"
[ $rc -eq 1 ] && has out "NOT reproduced" && grep -qE '^counter .* differs$' out &&
  grep -qE '^stable .* same$' out && ok nondet-table || bad nondet-table

# --- bad input -----------------------------------------------------------
run reproduce 0123456789abcdef0123456789abcdef
[ $rc -eq 1 ] && has err "orrery reproduce: no run" && ok unknown-run ||
  bad unknown-run
run reproduce
[ $rc -eq 2 ] && ok usage || bad usage
run reproduce "$nd" --bogus
[ $rc -eq 2 ] && has err "unknown option '--bogus'" && ok bad-option ||
  bad bad-option

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
