#!/usr/bin/env bash
# tests/command/command_test.sh - the command trainer through the real
# binary: its protocol, its failures and the scikit-learn example.
#
#   command_test.sh ORRERY_BIN REPO_ROOT CASE...
#
# Each case runs in a fresh temporary directory (a fresh site).  Prints
# one line per case and "N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$2" && pwd)
shift 2
wf="$root/tests/command/workflow.lua"
example="$root/examples/command-trainer/workflow.lua"
fake="$root/tests/command/fake.sh"
. "$root/tests/lib/cases.sh"
expect_log() { cat "$tmp/out" "$tmp/err" | grep -qF -- "$1" || fail "step log lacks: $1"; }

run_id() {
  /usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select uuid from runs order by id desc").fetchone()[0])' "$tmp/.orrery/orrery.db"
}

small_csv() {
  printf 'a,b,y\n1,3,0\n2,NA,0\n3,1,1\n4,0,1\n' > "$tmp/d.csv"
}

case_protocol() {
  small_csv
  run run "$wf" --param "prog=$fake" --param mode=ok --param "data=$tmp/d.csv"
  expect_rc 0
  expect_out "accuracy 1.0000"
  expect_log "fake: training done"
  expect_log "stdout goes to the step log"
  [ "$(count_kind model)" = 1 ] || fail "expected one model artifact"
  run metrics "$(run_id)" loss
  expect_rc 0
  expect_out "0.7"
  [ "$(grep -c '^ *[0-9]' "$tmp/out")" = 3 ] || fail "expected 3 loss steps"
  # garbage metric lines tolerated when asked
  run run "$wf" --param "prog=$fake" --param mode=garbage \
    --param "data=$tmp/d.csv" --param bad_metrics=warn
  expect_rc 0
  expect_log "ignored 2 malformed metric lines; line 2: loss=0.4"
}

case_example() {
  run run "$example"
  expect_rc 0
  expect_out "command-trainer accuracy="
  local m1
  m1=$(sed -n 's/^model //p' "$tmp/out")
  [ ${#m1} -eq 64 ] || fail "no model digest"
  /usr/bin/python3 -c 'import sys; a=float(sys.argv[1].split("accuracy=")[1].split()[0]); assert a > 0.94, a' "$out" || fail "accuracy too low"
  run metrics "$(run_id)" train_accuracy
  expect_rc 0
  # evaluate and serve-side load through the linear runtime, by digest
  run evaluate "$m1" "$root/examples/data/breast_cancer.csv" --json
  expect_rc 0
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["task"]=="binary" and d["accuracy"]>0.95, d' "$tmp/out" || fail "evaluate"
  # deterministic program: the same model digest again
  rm -rf "$tmp/.orrery"
  run run "$example"
  expect_rc 0
  [ "$(sed -n 's/^model //p' "$tmp/out")" = "$m1" ] || fail "model differs"
}

bad() {   # MODE EXPECTED...
  local mode=$1
  shift
  run run "$wf" --param "prog=$fake" --param "mode=$mode" \
    --param "data=$tmp/d.csv"
  expect_rc 1
  expect_err "step 'fit' failed"
  for want in "$@"; do expect_err "$want"; done
}

case_bad_input() {
  small_csv
  bad missing "cannot run 'no-such-program-orrery'" "No such file"
  bad string "param 'command' must be an array of arguments"
  bad crash "'bash' was killed by signal 11" "about to crash"
  bad fail "'bash' exited with status 3: fake: cannot converge on this data"
  bad garbage "2 malformed metric lines on ORRERY_METRICS_FD; line 2: loss=0.4"
  bad flavor "nosuch"
  bad badflavor "\"flavor\" must be a runtime name"
  bad nomanifest "wrote no valid ORRERY_OUT/orrery-model.json"
  bad subdir "ORRERY_OUT may hold only regular files; 'sub'"
  [ "$(count_kind model)" = 0 ] || fail "a failed fit left a model artifact"
}
run_cases "$@"
