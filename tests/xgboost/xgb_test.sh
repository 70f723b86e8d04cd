#!/usr/bin/env bash
# tests/xgboost/xgb_test.sh - the xgboost trainer through the real binary,
# checked against python3-xgboost (Debian, /usr/bin/python3).
#
#   xgb_test.sh ORRERY_BIN REPO_ROOT CASE...
#
# Each case runs in a fresh temporary directory (a fresh site).  Prints
# one line per case and "N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$2" && pwd)
shift 2
wfs="$root/tests/xgboost/workflows"
data="$root/tests/data"
ref="$root/tests/xgboost/xgb_ref.py"
. "$root/tests/lib/cases.sh"

cancer="$root/examples/data/breast_cancer.csv"

case_cancer() {
  run run "$wfs/cancer.lua" --param "data=$cancer"
  expect_rc 0
  expect_out "cancer auc="
  [ "$(count_kind model)" = 1 ] || fail "expected one model artifact"
  # per-round metrics of both sets reached the run
  local id
  id=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select uuid from runs").fetchone()[0])' "$tmp/.orrery/orrery.db")
  run metrics "$id" valid-auc
  expect_rc 0
  [ "$(grep -c '^ *[0-9]' "$tmp/out")" -ge 10 ] || fail "few valid-auc rounds"
  run metrics "$id" train-logloss
  expect_rc 0
  expect_out "0.6"
  run metrics "$id" test_roc_auc
  expect_rc 0
}

# eval_train = false: the validation metrics only, and the same model
# (evaluating never changes training).
case_eval_train() {
  run run "$wfs/cancer.lua" --param "data=$cancer" --param eval_train=false
  expect_rc 0
  expect_out "cancer auc="
  local id m1
  m1=$(sed -n 's/^model //p' "$tmp/out")
  id=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select uuid from runs").fetchone()[0])' "$tmp/.orrery/orrery.db")
  run metrics "$id" valid-auc
  expect_rc 0
  [ "$(grep -c '^ *[0-9]' "$tmp/out")" -ge 10 ] || fail "few valid-auc rounds"
  run metrics "$id" valid-logloss
  [ "$(grep -c '^ *[0-9]' "$tmp/out")" -ge 10 ] || fail "few valid-logloss"
  run metrics "$id" train-logloss
  [ "$(grep -c '^ *[0-9]' "$tmp/out")" = 0 ] || fail "train metrics logged"
  rm -rf "$tmp/.orrery"
  run run "$wfs/cancer.lua" --param "data=$cancer"
  expect_rc 0
  [ "$(sed -n 's/^model //p' "$tmp/out")" = "$m1" ] ||
    fail "eval_train changed the model"
  # without a validation set nothing is evaluated, and the fit works
  echo 'return { max_depth = 3, num_boost_round = 5, eval_train = false }' > "$tmp/p.lua"
  run run "$wfs/dump.lua" --param "data=$cancer" --param target=malignant \
    --param "params=$tmp/p.lua"
  expect_rc 0
}

case_penguins() {
  run run "$wfs/penguins.lua" --param "data=$data/penguins.csv"
  expect_rc 0
  expect_out "penguins accuracy="
}

case_weather() {
  run run "$wfs/weather.lua" --param "data=$data/seattle-weather.csv"
  expect_rc 0
  expect_out "weather rmse="
}

# The same data, params and seed through python3-xgboost: predictions
# equal to 1e-6 (the same library: they agree to float32 rounding).
compare() {   # CSV TARGET CATEGORICAL LUA_PARAMS JSON_PARAMS
  echo "return { $4 }" > "$tmp/p.lua"
  run run "$wfs/dump.lua" --param "data=$1" --param "target=$2" \
    --param "categorical=$3" --param "params=$tmp/p.lua" \
    --param "out=$tmp/dump.txt"
  expect_rc 0
  /usr/bin/python3 "$ref" "$1" "$2" "$5" "$tmp/dump.txt" >>"$tmp/.log" 2>&1 ||
    fail "differs from python3-xgboost ($2)"
  rm -rf "$tmp/.orrery"
}

case_vs_python() {
  compare "$cancer" malignant "" \
    'max_depth = 4, eta = 0.1, num_boost_round = 100, objective = "binary:logistic", seed = 5' \
    '{"max_depth": 4, "eta": 0.1, "num_boost_round": 100, "objective": "binary:logistic", "seed": 5, "nthread": 1}'
  compare "$data/penguins.csv" species year \
    'max_depth = 3, eta = 0.3, num_boost_round = 30, subsample = 0.7, seed = 9' \
    '{"max_depth": 3, "eta": 0.3, "num_boost_round": 30, "subsample": 0.7, "seed": 9, "nthread": 1}'
  compare "$data/seattle-weather.csv" temp_max "" \
    'max_depth = 5, eta = 0.2, num_boost_round = 50, colsample_bytree = 0.8, seed = 4' \
    '{"max_depth": 5, "eta": 0.2, "num_boost_round": 50, "colsample_bytree": 0.8, "seed": 4, "nthread": 1}'
  grep -q "multiclass: 344 rows" "$tmp/.log" || fail "penguins not compared"
}

bad_fit() {   # LUA_PARAMS CSV TARGET EXPECTED...
  local p=$1 csv=$2 target=$3
  shift 3
  n=$((n + 1))
  echo "return { num_boost_round = 5, $p }" > "$tmp/bad$n.lua"
  run run "$wfs/dump.lua" --param "data=$csv" --param "target=$target" \
    --param "params=$tmp/bad$n.lua"
  expect_rc 1
  expect_err "step 'fit' failed"
  for want in "$@"; do expect_err "$want"; done
}

case_bad_input() {
  n=0
  bad_fit 'max_depth = 3, max_dept = 4' "$cancer" malignant \
    "unknown XGBoost parameter(s): max_dept"
  bad_fit 'objective = "reg:nonsense"' "$cancer" malignant \
    "Unknown objective function: \`reg:nonsense\`" \
    "parameter 'objective' = 'reg:nonsense'"
  bad_fit 'objective = "binary:hinge"' "$cancer" malignant \
    "objective 'binary:hinge' does not predict probabilities"
  bad_fit 'max_depth = "deep"' "$cancer" malignant \
    "max_depth expect int but value='deep'"
  bad_fit 'eval_metric = "nope"' "$cancer" malignant "nope"
  bad_fit 'early_stopping_rounds = 5' "$cancer" malignant \
    "early_stopping_rounds needs a validation set"
  printf 'a,b,y\n1,2,1\n3,4,1\n5,6,1\n' > "$tmp/oneclass.csv"
  bad_fit 'objective = "binary:logistic"' "$tmp/oneclass.csv" y \
    "target 'y' has a single class ('1')"
  printf 'a,y\n1,red\n2,blue\n' > "$tmp/cat.csv"
  bad_fit 'objective = "reg:squarederror"' "$tmp/cat.csv" y \
    "needs a numeric target; 'y' is categorical"
  printf 'a,b,y\n1,2,0\n3,1e999,1\n5,6,0\n7,-1e999,1\n' > "$tmp/inf.csv"
  bad_fit 'max_depth = 2' "$tmp/inf.csv" y \
    "training data, column 'b', row 2: infinite value"
  [ "$(count_kind model)" = 0 ] || fail "a failed fit left a model artifact"
}

# Same data, params and seed: the same model digest (subsampling and
# column sampling make the seed matter).
case_determinism() {
  echo 'return { max_depth = 4, num_boost_round = 30, subsample = 0.7, colsample_bytree = 0.6, seed = 12, threads = 2 }' > "$tmp/p.lua"
  run run "$wfs/dump.lua" --param "data=$cancer" --param target=malignant \
    --param "params=$tmp/p.lua"
  expect_rc 0
  local m1
  m1=$(sed -n 's/^model //p' "$tmp/out")
  [ ${#m1} -eq 64 ] || fail "no model digest"
  rm -rf "$tmp/.orrery"
  run run "$wfs/dump.lua" --param "data=$cancer" --param target=malignant \
    --param "params=$tmp/p.lua"
  expect_rc 0
  [ "$(sed -n 's/^model //p' "$tmp/out")" = "$m1" ] || fail "model differs"
  # another seed, another model
  rm -rf "$tmp/.orrery"
  sed -i 's/seed = 12/seed = 13/' "$tmp/p.lua"
  run run "$wfs/dump.lua" --param "data=$cancer" --param target=malignant \
    --param "params=$tmp/p.lua"
  expect_rc 0
  [ "$(sed -n 's/^model //p' "$tmp/out")" != "$m1" ] || fail "seed ignored"
}
run_cases "$@"
