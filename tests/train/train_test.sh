#!/usr/bin/env bash
# tests/train/train_test.sh - datasets, training and evaluation through the
# real binary, checked against scikit-learn where a reference exists.
#
#   train_test.sh ORRERY_BIN REPO_ROOT CASE...
#
# Each case runs in a fresh temporary directory (a fresh site).  Prints
# one line per case and "N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$2" && pwd)
shift 2
wfs="$root/tests/train/workflows"
data="$root/tests/data"
ref="$root/tests/train/sklearn_ref.py"
. "$root/tests/lib/cases.sh"

case_penguins() {
  run run "$wfs/penguins.lua" --param "data=$data/penguins.csv"
  expect_rc 0
  expect_out "penguins accuracy="
  expect_out "confusion"
  [ "$(count_kind model)" = 1 ] || fail "expected one model artifact"
  [ "$(count_kind dataset)" -ge 3 ] || fail "expected 3 dataset artifacts"
}

case_weather() {
  run run "$wfs/weather.lua" --param "data=$data/seattle-weather.csv"
  expect_rc 0
  expect_out "weather rmse="
}

# The same train/test files for both: accuracy equal to 1e-4 and the
# probabilities close (both solve the same objective to high precision).
case_cancer_vs_sklearn() {
  /usr/bin/python3 - "$root/examples/data/breast_cancer.csv" "$tmp" <<'PY' || fail "split failed"
import csv, sys, random
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
random.Random(7).shuffle(body)
n = len(body) * 4 // 5
for name, part in (("train", body[:n]), ("test", body[n:])):
    with open(f"{sys.argv[2]}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(head); w.writerows(part)
PY
  for C in 1.0 0.05; do
    run run "$wfs/cancer.lua" --param "train=$tmp/train.csv" \
      --param "test=$tmp/test.csv" --param "C=$C" --param "out=$tmp/ours.txt"
    expect_rc 0
    /usr/bin/python3 "$ref" logreg "$tmp/train.csv" "$tmp/test.csv" \
      malignant "$C" > "$tmp/ref.json" || fail "sklearn failed"
    /usr/bin/python3 - "$tmp/ours.txt" "$tmp/ref.json" <<'PY' || fail "differs from sklearn (C=$C)"
import json, sys
ours = [float(l) for l in open(sys.argv[1])]
ref = json.load(open(sys.argv[2]))
acc, proba = ours[0], ours[1:]
assert abs(acc - ref["accuracy"]) <= 1e-4, (acc, ref["accuracy"])
d = max(abs(a - b) for a, b in zip(proba, ref["proba"]))
# sklearn stops on its relative-decrease test (scipy ftol 2.2e-9),
# so probabilities agree to ~1e-4, not to the solvers' gradient tolerance.
assert len(proba) == len(ref["proba"]) and d < 1e-3, d
print("accuracy", acc, "sklearn", ref["accuracy"], "max |dp|", d)
PY
  done
}

case_data_add() {
  cp "$data/penguins.csv" "$tmp/p.csv"
  run data add "$tmp/p.csv" --name penguins --target species --json
  expect_rc 0
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["version"]==1 and d["new"] and d["rows"]==344 and d["uri"]=="datasets:/penguins/1" and d["target"]=="species", d' "$tmp/out" || fail "bad JSON"
  local d1
  d1=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$tmp/out")
  run data add "$tmp/p.csv" --name penguins --target species
  expect_rc 0
  expect_out "datasets:/penguins/1  $d1  (unchanged"
  head -100 "$data/penguins.csv" > "$tmp/p.csv"
  run data add "$tmp/p.csv" --name penguins --target species
  expect_rc 0
  expect_out "datasets:/penguins/2"
  expect_out "99 rows, 8 columns"
  run data show datasets:/penguins/1 --json
  expect_rc 0
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["rows"]==344, d' "$tmp/out" || fail "show v1"
  run data show datasets:/penguins
  expect_rc 0
  expect_out "datasets:/penguins: 99 rows"
  run data show datasets:/penguins/3
  expect_rc 1
  expect_err "dataset 'penguins' has 2 versions, not 3"
  run data show datasets:/nope
  expect_rc 1
  expect_err "no dataset named 'nope'"
  run data add "$tmp/p.csv" --name "../x"
  expect_rc 2
  run data add "$tmp/p.csv"
  expect_rc 2
  # a named version used from a workflow
  cat > "$tmp/wf.lua" <<'LUA'
local wf = require("orrery").workflow { name = "named" }
wf:step("s", function(ctx)
  local ds = ctx:dataset("datasets:/penguins/1")
  assert(ds.rows == 344 and ds.target == "species")
  print("named ok " .. ds.hash)
end)
return wf
LUA
  run run "$tmp/wf.lua"
  expect_rc 0
  expect_out "named ok $d1"
}

case_evaluate_cli() {
  run run "$wfs/train_file.lua" --param "data=$data/penguins.csv" \
    --param target=species
  expect_rc 0
  local model
  model=$(sed -n 's/^model //p' "$tmp/out")
  [ ${#model} -eq 64 ] || fail "no model digest"
  run evaluate "$model" "$data/penguins.csv" --json
  expect_rc 0
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["task"]=="multiclass" and d["rows"]==344 and d["accuracy"]>0.95 and d["classes"]==["Adelie","Chinstrap","Gentoo"] and sum(map(sum,d["confusion"]))==344 and set(d["per_class"])=={"Adelie","Chinstrap","Gentoo"} and "weighted" in d, d' "$tmp/out" || fail "bad evaluate JSON"
  run evaluate "$model" "$data/penguins.csv"
  expect_rc 0
  expect_out "multiclass, 344 rows"
  expect_out "accuracy"
  run evaluate "$model" "$data/seattle-weather.csv"
  expect_rc 1
  expect_err "no column 'species'"
  run evaluate "$model" "$data/penguins.csv" --target island
  expect_rc 1
  expect_err "is not a class the model knows"
  run evaluate 0000000000000000000000000000000000000000000000000000000000000000 "$data/penguins.csv"
  expect_rc 1
  run evaluate "$model"
  expect_rc 2
  # a registry URI is accepted wherever a model is expected
  run models register penguins --artifact "$model"
  expect_rc 0
  run evaluate models:/penguins/1 "$data/penguins.csv" --json
  expect_rc 0
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["rows"]==344 and d["accuracy"]>0.95, d' "$tmp/out" || fail "evaluate by URI"
  run evaluate models:/penguins@nope "$data/penguins.csv"
  expect_rc 1
  expect_err "has no alias 'nope'"
}

case_bad_input() {
  printf 'a,b,y\n1,2,0\n3,4\n5,6,1\n' > "$tmp/ragged.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/ragged.csv"
  expect_rc 1
  expect_err "ragged.csv:3: expected 3 fields (as in the header), found 2"
  printf '' > "$tmp/empty.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/empty.csv"
  expect_rc 1
  expect_err "empty.csv: empty file (no header line)"
  printf 'a,b,label\n1,2,0\n' > "$tmp/notarget.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/notarget.csv"
  expect_rc 1
  expect_err "notarget.csv: no column 'y' (the target)"
  printf 'a,b,y\n1,2,0\n3,x,1\n' > "$tmp/nonnum.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/nonnum.csv" \
    --param numeric=b
  expect_rc 1
  expect_err "nonnum.csv:3: column 'b': not a number: 'x'"
  printf 'a,b,y\n1,2,1\n3,4,1\n5,6,1\n' > "$tmp/oneclass.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/oneclass.csv" \
    --param target=y
  expect_rc 1
  expect_err "single class"
  printf 'a,b,y\n1,NA,0\n3,NA,1\n5,NA,1\n' > "$tmp/allna.csv"
  run run "$wfs/train_file.lua" --param "data=$tmp/allna.csv"
  expect_rc 1
  expect_err "column 'b' has no value in the training data"
  printf 'a,b,y\n1,NA,0\n3,NaN,1\n5,1,1\n' > "$tmp/nan.csv"
  # no model was registered by any failed step above
  [ "$(count_kind model)" = 0 ] || fail "a failed fit left a model artifact"
  # NaN/NA features are imputed with the training mean: this one trains
  run run "$wfs/train_file.lua" --param "data=$tmp/nan.csv"
  expect_rc 0
  [ "$(count_kind model)" = 1 ] || fail "expected one model"
  printf 'y,t\nred,1\nblue,2\n' > "$tmp/regcat.csv"
  cat > "$tmp/wf.lua" <<'LUA'
local wf = require("orrery").workflow { name = "bad" , params = { p = "" } }
wf:step("s", function(ctx)
  local ds = ctx:dataset(ctx.params.p, { target = "y" })
  ctx:train("linear", ds, { task = "regression" })
end)
return wf
LUA
  run run "$tmp/wf.lua" --param "p=$tmp/regcat.csv"
  expect_rc 1
  expect_err "needs a numeric target"
  run run "$tmp/wf.lua" --param "p=$tmp/missing.csv"
  expect_rc 1
  expect_err "cannot open"
}

case_determinism() {
  run run "$wfs/train_file.lua" --param "data=$data/penguins.csv" \
    --param target=species
  expect_rc 0
  local m1 d1
  m1=$(sed -n 's/^model //p' "$tmp/out")
  d1=$(sed -n 's/^dataset //p' "$tmp/out")
  rm -rf "$tmp/.orrery"
  run run "$wfs/train_file.lua" --param "data=$data/penguins.csv" \
    --param target=species
  expect_rc 0
  [ "$(sed -n 's/^model //p' "$tmp/out")" = "$m1" ] || fail "model differs"
  [ "$(sed -n 's/^dataset //p' "$tmp/out")" = "$d1" ] || fail "dataset differs"
}

run_cases "$@"
