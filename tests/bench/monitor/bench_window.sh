#!/usr/bin/env bash
# tests/bench/monitor/bench_window.sh [BUILD_DIR] [N] - monitoring a window
# of N (default 1,000,000) logged predictions with 30 features, end to end:
# wall time of `orrery monitor run cancer --window N` with the reference
# profile already stored (the quickstart registers cancer/1 and the site's
# monitor backend, monitor-drift, profiles it at registration).  The log
# is filled by bench_window_gen in the binary format of the server's
# writer.  A benchmark, not a test: timings vary.
#   bash tests/bench/monitor/bench_window.sh build 1000000
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
n=${2:-1000000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins"
cd "$tmp"
"$build/orrery" run "$root/examples/quickstart/pipeline.lua" >/dev/null
db=$tmp/.orrery/orrery.db
t0=$(date +%s.%N)
"$build/tests/bench/monitor/bench_window_gen" "$db" \
  "$root/examples/data/breast_cancer.csv" "$n" cancer 1
t1=$(date +%s.%N)
echo "filled $n logged predictions in $(echo "$t1 - $t0" | bc) s" \
     "($(du -m "$db" | cut -f1) MB database," \
     "$(du -sm "$tmp/.orrery/predictions" 2>/dev/null | cut -f1) MB of" \
     "segment files)"
# Warm the page cache once, as a monitor running every few minutes sees it.
"$build/orrery" monitor run cancer --window "$n" >/dev/null
if command -v hyperfine >/dev/null; then
  hyperfine -w 1 -r "${RUNS:-5}" -N \
    "$build/orrery monitor run cancer --window $n" 2>&1 | sed -n '1,4p'
else
  for _ in 1 2 3; do
    /usr/bin/time -f "%e s, %M KB max RSS" \
      "$build/orrery" monitor run cancer --window "$n" >/dev/null
  done
fi
"$build/orrery" monitor run cancer --window "$n"
