#!/usr/bin/env bash
# tests/ci/ci_test.sh ORRERY_BIN SOURCE_DIR - examples/ci/ci.sh in a
# temporary site: the first run promotes (no champion yet), a worse
# candidate is kept out, a margin the same model cannot beat keeps it out.
set -u
bin=$1
src=$(cd "$2" && pwd)
export ORRERY_SITE= ORRERY="$bin"
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1" >&2; sed 's/^/    /' out err >&2 2>/dev/null; failed=$((failed + 1)); }
ci() { sh "$src/examples/ci/ci.sh" "$@" >out 2>err; rc=$?; }
has() { grep -qF -- "$2" "$1"; }
champion() { "$bin" models show cancer --json |
  python3 -c "import json,sys
print([a['version'] for a in json.load(sys.stdin)['aliases']
       if a['alias'] == 'champion'][0])"; }

ci
[ $rc -eq 0 ] && has out "PROMOTED cancer/1 to cancer@champion" &&
  [ "$(champion)" = 1 ] && ok first-promotes || bad first-promotes
ci --param C=0.0001
[ $rc -eq 0 ] && has out "KEPT the champion: cancer/2" &&
  has out "fail: v2 roc_auc" && [ "$(champion)" = 1 ] &&
  ok worse-kept || bad worse-kept
MIN_DELTA=0.001 ci
[ $rc -eq 0 ] && has out "KEPT the champion: cancer/3" &&
  [ "$(champion)" = 1 ] && ok margin-kept || bad margin-kept
"$bin" models show cancer >out 2>err
has out "ci: gate passed on roc_auc (local build)" && ok audit || bad audit
ci --bogus
[ $rc -eq 2 ] && has err "unexpected argument '--bogus'" && ok usage ||
  bad usage
ci --param nope=1
[ $rc -eq 1 ] && has err "training failed" && ok train-fails ||
  bad train-fails

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
