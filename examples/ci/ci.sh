#!/bin/sh
# examples/ci/ci.sh [--param KEY=VALUE ...] - the CI job: train, register
# a candidate, and promote it to cancer@champion only when the gate says
# it is at least as good as the champion on the same held-out data.
#
# Any CI system runs it (a GitHub Actions workflow that does is beside it).
# Environment:
#   ORRERY      the orrery binary            (default: orrery on PATH)
#   MIN_DELTA   the margin the candidate must beat the champion by
#               (default 0.0: at least as good)
#   METRIC      the metric the gate compares  (default roc_auc)
#   ORRERY_SITE the site (metadata store + artifacts) that keeps the
#               registry between CI runs; see examples/ci/README.md
#
# Exit status: 0 the pipeline ran (promoted or not: the output says which),
# 1 training or the gate failed to run, 2 bad usage.
set -eu

orrery=${ORRERY:-orrery}
min_delta=${MIN_DELTA:-0.0}
metric=${METRIC:-roc_auc}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for a in "$@"; do
  case $a in
    --param|--param=*|*=*) ;;
    *) echo "ci.sh: unexpected argument '$a' (only --param KEY=VALUE)" >&2
       exit 2 ;;
  esac
done

echo "== train and register a candidate"
"$orrery" run "$here/train.lua" --param version_file="$work/version" "$@" ||
  { echo "ci.sh: training failed" >&2; exit 1; }
version=$(cat "$work/version")

echo "== gate: cancer/$version against cancer@champion on $metric"
set +e
"$orrery" models gate cancer --candidate "$version" --metric "$metric" \
  --min-delta "$min_delta"
gate=$?
set -e
case $gate in
  0)
    "$orrery" models alias set cancer champion "$version" \
      --reason "ci: gate passed on $metric (${GITHUB_SHA:-local build})"
    echo "PROMOTED cancer/$version to cancer@champion" ;;
  1)
    echo "KEPT the champion: cancer/$version did not pass the gate" ;;
  *)
    echo "ci.sh: the gate could not run (exit $gate)" >&2
    exit 1 ;;
esac
