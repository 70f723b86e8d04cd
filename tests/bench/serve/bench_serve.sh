#!/usr/bin/env bash
# tests/bench/serve/bench_serve.sh [BUILD_DIR] - `orrery serve` under wrk on
# loopback (a benchmark, not a test: wrk is a Debian package, timings vary).
#   1. the quickstart champion (linear): 1-row and 64-row V2 JSON requests,
#      64 rows in the binary tensor extension, 16 connections; 1 row with
#      the access log on;
#   2. the HTTP floor: bench_const_reply (same libmicrohttpd setup, a
#      constant answer), 1-row and 64-row bodies;
#   3. (p99 at half the saturating load: tests/bench/serve/bench_p99.sh)
#   4. p99 while the alias moves back and forth under load (zero failures);
#   5. the issue's XGBoost model (100 trees, depth 6) with 1-row requests
#      from 64 connections, with and without --batch.
#   DURATION=10s WORKERS=2 bash tests/bench/serve/bench_serve.sh build
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
here=$root/tests/bench/serve
dur=${DURATION:-10s}
workers=${WORKERS:-2}
command -v wrk >/dev/null || { echo "bench_serve: needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins" ORRERY_REPO="$root"
cd "$tmp"

# start NAME CMD...: run CMD in the background, wait for its
# "listening on URL" line, set $url.
start() {
  local name=$1; shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  url=
  for _ in $(seq 1 400); do
    url=$(sed -n 's/^listening on //p' "$tmp/$name.out")
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  cat "$tmp/$name.err" >&2
  exit 1
}
stop_last() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }
v2() { ROWS=$1 wrk -t2 -c"${CONNS:-16}" -d"$dur" -s "$here/v2.lua" "$url" | tail -1; }

"$build/orrery" run "$root/examples/quickstart/pipeline.lua" >/dev/null
"$build/orrery" run "$root/examples/quickstart/pipeline.lua" --param C=0.1 >/dev/null
echo "== 1. orrery serve, linear champion, $workers workers, 16 connections, wrk 2 threads"
start serve "$build/orrery" serve models:/cancer@champion --port 0 --workers "$workers"
v2 1
v2 64
ROWS=64 wrk -t2 -c16 -d"$dur" -s "$here/v2bin.lua" "$url" | tail -1

echo "== 4. p99 during alias moves under load (1 row, 16 connections)"
(
  end=$((SECONDS + ${dur%s}))
  v=1; n=0
  while [ $SECONDS -lt $end ]; do
    v=$((3 - v))
    "$build/orrery" models alias set cancer champion "$v" >/dev/null
    n=$((n + 1))
    sleep 0.5
  done
  echo "   alias moved $n times"
) &
mover=$!
v2 1
wait $mover
"$build/orrery" models alias set cancer champion 1 >/dev/null
# Both versions answered (the per-version series of /metrics).
curl -s "$url/metrics" | grep '^orrery_model_requests_total' | sed 's/^/   /'
stop_last

echo "== 1b. the same with the access log on (--access-log FILE)"
start serve_log "$build/orrery" serve models:/cancer@champion --port 0 \
  --workers "$workers" --access-log "$tmp/access.log"
v2 1
stop_last
echo "   $(wc -l <"$tmp/access.log") lines logged"

echo "== 2. the HTTP floor: bench_const_reply, same libmicrohttpd setup"
start floor "$build/tests/bench/serve/bench_const_reply" 0 "$workers"
v2 1
v2 64
stop_last

echo "== 5. XGBoost, 100 trees depth 6, 1-row requests, 64 connections"
"$build/orrery" run "$here/xgb.lua" >/dev/null
start xgb "$build/orrery" serve models:/cancer_xgb@bench --port 0 --workers "$workers"
echo "   without batching:"
MODEL=cancer_xgb CONNS=64 ROWS=1 wrk -t2 -c64 -d"$dur" -s "$here/v2.lua" "$url" | tail -1
MODEL=cancer_xgb ROWS=64 wrk -t2 -c16 -d"$dur" -s "$here/v2.lua" "$url" | tail -1
MODEL=cancer_xgb ROWS=64 wrk -t2 -c16 -d"$dur" -s "$here/v2bin.lua" "$url" | tail -1
stop_last
for spec in max_rows=16,max_delay_us=200 max_rows=64,max_delay_us=500; do
  start xgbb "$build/orrery" serve models:/cancer_xgb@bench --port 0 \
    --workers "$workers" --batch "$spec"
  echo "   --batch $spec:"
  MODEL=cancer_xgb CONNS=64 ROWS=1 wrk -t2 -c64 -d"$dur" -s "$here/v2.lua" "$url" | tail -1
  MODEL=cancer_xgb CONNS=16 ROWS=1 wrk -t2 -c16 -d"$dur" -s "$here/v2.lua" "$url" | tail -1
  stop_last
done
