#!/usr/bin/env bash
# tests/registry/registry_cli.sh - `orrery models`, `orrery lineage` and
# `orrery gc` through the real binary, in a fresh site.
#   registry_cli.sh ORRERY_BIN TEST_DIR
# Prints one line per check and "N passed, N failed".
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$2" && pwd)
passed=0
failed=0
ok()  { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }
# check NAME WANT_STATUS ARGS...: run orrery ARGS, compare the status.
check() {
  local name=$1 want=$2
  shift 2
  "$bin" "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" -eq "$want" ]; then ok "$name"; else
    bad "$name (exit $got, expected $want)"; cat out.txt err.txt; fi
}
has()  { if grep -qF -- "$3" "$2"; then ok "$1"; else
           bad "$1: '$3' not in $2"; cat "$2"; fi; }
lacks() { if grep -qF -- "$3" "$2"; then bad "$1: '$3' in $2"; cat "$2";
          else ok "$1"; fi; }
pyjson() {   # pyjson NAME EXPR: EXPR over d = json of out.txt is true
  if python3 -c "import json,sys; d=json.load(open('out.txt')); \
assert $2, d" 2>err.py; then ok "$1"; else bad "$1"; cat err.py out.txt; fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-registry-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export ORRERY_SITE= HOME="$work" USER=tester

# --help everywhere, usage errors exit 2
for c in "models" "models register" "models list" "models show" \
         "models alias" "models delete-version" "models gate" "lineage" \
         "gc"; do
  # shellcheck disable=SC2086
  check "help $c" 0 $c --help
  has "help text $c" out.txt "Usage: orrery"
done
check "models no args" 2 models
check "models unknown" 2 models frobnicate
has "models unknown msg" err.txt "unknown command 'frobnicate'"
check "register no artifact" 2 models register m1
has "register no artifact msg" err.txt "--artifact DIGEST is required"
check "gate no metric" 2 models gate m1 --candidate 1
check "gate bad delta" 2 models gate m1 --candidate 1 --metric auc \
  --min-delta abc
check "alias set bad version" 2 models alias set m1 champion x
check "lineage no target" 2 lineage
check "gc bad grace" 2 gc --grace 5y

# An empty site
check "list empty" 0 models list
has "list empty msg" out.txt "no models registered"
check "show unknown empty" 1 models show nope
has "unknown model hint" err.txt "no model 'nope' (no model is registered yet"

# Runs to register from: the gate workflow, twice (0.9 then 0.95)
cp "$here/gate.lua" "$here/orphan.lua" .
check "run gate 1" 0 run gate.lua --param score=0.9
has "first promotion" out.txt "promoted models:/gatemodel/1"
has "lineage in Lua" out.txt "lineage ok"
check "run gate 2" 0 run gate.lua --param score=0.95
has "second promotion" out.txt "promoted models:/gatemodel/2"
check "run gate 3" 0 run gate.lua --param score=0.5
lacks "no promotion when worse" out.txt "promoted"

run1=$(sqlite3 .orrery/orrery.db "select uuid from runs order by id limit 1" 2>/dev/null)
if [ -z "$run1" ]; then
  run1=$(python3 -c "import sqlite3; print(sqlite3.connect('.orrery/orrery.db').execute('select uuid from runs order by id limit 1').fetchone()[0])")
fi
ds=$(python3 -c "import sqlite3; print(sqlite3.connect('.orrery/orrery.db').execute(\"select digest from artifacts where kind='dataset'\").fetchone()[0])")
mdl=$(python3 -c "import sqlite3; print(sqlite3.connect('.orrery/orrery.db').execute(\"select digest from artifacts where kind='model' order by id limit 1\").fetchone()[0])")

# register / list / show
check "register" 0 models register cancer --run "${run1:0:8}" \
  --artifact "${mdl:0:12}" --dataset "${ds:0:8}" --flavor linear \
  --alias champion --reason "first model"
has "register says" out.txt "registered models:/cancer/1"
check "register json" 0 models register cancer --run "$run1" \
  --artifact "$mdl" --json
pyjson "register json doc" "d['version']==2 and d['uri']=='models:/cancer/2' and d['run_id']=='$run1' and d['flavor'] is None"
check "register bad name" 1 models register "bad/name" --artifact "$mdl"
check "register bad alias" 1 models register cancer --artifact "$mdl" \
  --alias "has space"
has "bad alias msg" err.txt "character 4 is not allowed"
check "register unknown artifact" 1 models register cancer \
  --artifact abcdef0123
has "unknown artifact msg" err.txt "no artifact digest matching 'abcdef0123'"
check "register unknown run" 1 models register cancer --run 0000aaaa \
  --artifact "$mdl"
has "unknown run msg" err.txt "no run id matching '0000aaaa'"
check "register short prefix" 1 models register cancer --artifact ab
has "short prefix msg" err.txt "too short"
check "list" 0 models list
has "list cancer" out.txt "cancer"
check "list json" 0 models list --json --limit 1
pyjson "list page 1" "len(d['models'])==1 and d['models'][0]['name']=='cancer' and d['next_cursor']=='cancer'"
check "list page 2" 0 models list --json --limit 1 --cursor cancer
pyjson "list page 2 doc" "[m['name'] for m in d['models']]==['gatemodel'] and d['next_cursor'] is None"
check "show model" 0 models show cancer
has "show versions" out.txt "model cancer: 2 versions"
has "show alias" out.txt "@champion             -> 1"
has "show history" out.txt "by tester: first model"
check "show version" 0 models show models:/cancer/1
has "show datasets" out.txt "trained on   $ds"
has "show metric" out.txt "metric       auc = 0.9"
check "show alias uri" 0 models show cancer@champion --json
pyjson "show alias json" "d['version']==1 and d['datasets']==['$ds'] and abs(d['metrics']['auc']-0.9)<1e-12"
check "show latest" 0 models show models:/cancer --json
pyjson "latest is 2" "d['version']==2"
check "show bad uri" 1 models show "models:cancer/1"
has "bad uri msg" err.txt "is not a model URI"
check "show no version" 1 models show cancer/7
has "no version msg" err.txt "model 'cancer' has no version 7 (versions: 2, 1)"
check "show no alias" 1 models show cancer@prod
has "no alias msg" err.txt "has no alias 'prod' (aliases: champion)"
check "show unknown" 1 models show nope
has "known models" err.txt "no model 'nope' (known: "

# aliases and their audit trail
check "alias move" 0 models alias set cancer champion 2 --reason "better auc"
check "alias same" 0 models alias set cancer champion 2
check "alias challenger" 0 models alias set cancer challenger 1
check "alias bad chars" 1 models alias set cancer 'a;b' 1
has "alias bad chars msg" err.txt "is not allowed (use letters, digits"
check "alias latest reserved" 1 models alias set cancer latest 1
check "alias unknown version" 1 models alias set cancer champion 9
check "alias delete" 0 models alias delete cancer challenger --reason done
check "alias delete again" 1 models alias delete cancer challenger
check "history json" 0 models show cancer --json
pyjson "history" "[(e['alias'],e['old_version'],e['new_version'],e['user'],e['reason']) for e in d['alias_history']]==[('challenger',1,None,'tester','done'),('challenger',None,1,'tester',None),('champion',1,2,'tester','better auc'),('champion',None,1,'tester','first model')]"

# the gate: cancer/1 and cancer/2 come from the same run (auc 0.9);
# gatemodel/2 (0.95) is @champion, gatemodel/1 has 0.9, /3 0.5
check "gate pass" 0 models gate gatemodel --candidate 2 --metric auc \
  --min-delta 0
has "gate pass line" out.txt "pass: v2 auc 0.95 vs @champion v2 0.95"
check "gate fail" 1 models gate gatemodel --candidate 1 --metric auc \
  --min-delta 0.002
has "gate fail line" out.txt "fail: v1 auc 0.9 vs @champion v2 0.95"
check "gate lower" 0 models gate gatemodel --candidate 3 --metric auc \
  --lower-is-better --min-delta 0.2
check "gate json" 1 models gate gatemodel --candidate 3 --metric auc --json
pyjson "gate json doc" "d['pass'] is False and d['champion']==2 and abs(d['candidate_value']-0.5)<1e-12"
check "gate no champion" 0 models gate cancer --candidate 1 --metric auc \
  --alias prod
has "gate first" out.txt "has no @prod yet"
check "gate unknown metric" 1 models gate gatemodel --candidate 1 \
  --metric loss
has "gate metric msg" err.txt "has no metric 'loss' (it has: auc)"

# delete-version
check "delete aliased" 1 models delete-version cancer 2
has "delete aliased msg" err.txt "is @champion: move or delete the alias"
check "delete force" 0 models delete-version cancer 2 --force --reason gone
check "deleted" 1 models show cancer/2
check "alias went too" 0 models show cancer --json
pyjson "force audit" "d['aliases']==[] and d['alias_history'][0]['reason']=='version 2 deleted: gone' and d['alias_history'][0]['new_version'] is None"
check "register after delete" 0 models register cancer --artifact "$mdl" --json
pyjson "numbers not reused" "d['version']==3"

# lineage
check "lineage model up" 0 lineage models:/cancer/1 --up
has "up dataset" out.txt "trained on: dataset data.csv"
has "up script" out.txt "code: script gate.lua"
has "up params" out.txt '"score":"0.9'
check "lineage dataset down" 0 lineage "${ds:0:10}" --down
has "down step" out.txt "input: step train"
has "down model" out.txt "models:/cancer/1"
check "lineage json" 0 lineage "gatemodel@champion" --json
pyjson "lineage json doc" "d['root']=='model:gatemodel/2' and any(n['kind']=='run' and n['params']['score'].startswith('0.9') for n in d['nodes']) and any(e['label']=='registered from' for e in d['edges'])"
check "lineage dot" 0 lineage "run:$run1" --dot --depth 2
has "dot header" out.txt "digraph lineage {"
has "dot edge" out.txt '-> "step:'
check "lineage run prefix" 0 lineage "${run1:0:10}" --down --depth 1
check "lineage unknown" 1 lineage deadbeefdead
has "lineage unknown msg" err.txt "no artifact or run matches 'deadbeefdead'"
check "lineage bad uri" 1 lineage "models:/x y"
check "lineage bad depth" 2 lineage "$ds" --depth 0

# gc: orphan blobs (stored, never recorded) and a deleted version's model
check "orphans" 0 run orphan.lua
orphan=$(sed -n 's/^orphan //p' out.txt)
byhand=$(sed -n 's/^modelblob //p' out.txt)
check "register by hand" 0 models register handmade --artifact "$byhand"
check "gc dry run, default grace" 0 gc --dry-run --json
pyjson "grace keeps fresh" "d['deleted']==0 and d['kept_by_grace']>=1"
check "delete handmade" 0 models delete-version handmade 1
check "gc dry run" 0 gc --dry-run --grace 0 --json
pyjson "dry run lists" "sorted(b['digest'] for b in d['blobs'])==sorted(['$orphan','$byhand']) and d['dry_run'] is True"
[ -n "$(find .orrery/blobs -type f -name "*$orphan*" 2>/dev/null)" ] || \
  [ -n "$(find .orrery/blobs -type f 2>/dev/null | grep "${orphan:2}")" ] \
  && ok "dry run deleted nothing" || bad "dry run deleted the orphan"
check "gc" 0 gc --grace 0
has "gc report" out.txt "deleted 2 blobs"
check "gc again" 0 gc --grace 0 --json
pyjson "nothing left" "d['deleted']==0 and d['scanned']==d['referenced']"
check "kept model still readable" 0 models show cancer/1
check "lineage still" 0 lineage models:/cancer/1 --up

# Datasets as values or strings; a wrong type registers nothing.
check "register dataset options" 0 run "$here/dataset_opts.lua"
has "wrong type refused" out.txt "wrong type: false orrery.models.register: reference: expected a dataset or a string, got number"
has "wrong type registered nothing" out.txt "wrongtype registered: false"
has "dataset values accepted" out.txt "registered models:/byvalue/1"
prof=$(python3 -c "import sqlite3; print(sqlite3.connect('.orrery/orrery.db').execute(\"select count(*) from model_versions v join registered_models m on m.id = v.model_id where m.name = 'byvalue' and v.profile_artifact_id is not null\").fetchone()[0])")
if [ "$prof" = 1 ]; then ok "profile from dataset values"; else
  bad "profile from dataset values ($prof)"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
