#!/usr/bin/env bash
# tests/bench/serve/bench_logcost.sh [BUILD_DIR] - what the prediction log
# costs a saturated server, measured so that the machine's own drift
# cancels: two `orrery serve` of the issue's XGBoost model run side by
# side, one logging every prediction (the default) and one not
# (server.log_sample = 0), and wrk loads them in turn, PAIRS pairs of
# DURATION runs, the order flipped every pair.  On this VM the same
# server's saturating rate moves 3-4% between runs minutes apart, as
# much as the log's cost: a pair's runs are seconds apart.  For each
# request kind (KINDS, default "1 64 64bin": 1 row from 64 connections,
# 64 rows JSON and binary from 16) prints every pair's rates and cost
# (1 - on/off), the median and mean cost, and the records the log
# dropped (counted by the server, never waited for).
#   PAIRS=6 DURATION=5s bash tests/bench/serve/bench_logcost.sh build
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
pairs=${PAIRS:-6}
dur=${DURATION:-5s}
kinds=${KINDS:-"1 64 64bin"}
bench_needs bench_logcost wrk curl
"$build/orrery" run "$here/xgb.lua" >/dev/null 2>&1

echo 'server = { log_sample = 0 }' > off.site.lua
pids=()
start() {   # start NAME SITE: a server, its URL in url_NAME
  local port
  port=$(orr_free_port)
  ORRERY_SITE=$2 "$build/orrery" serve models:/cancer_xgb@bench \
    --port "$port" --workers 2 >"$1.out" 2>"$1.err" &
  pids+=($!)
  for _ in $(seq 1 400); do
    grep -q '^listening on' "$1.out" && break
    sleep 0.05
  done
  grep -q '^listening on' "$1.out" || { cat "$1.err" >&2; exit 1; }
  eval "url_$1=http://127.0.0.1:$port"
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; \
             wait "$p" 2>/dev/null || true; done; pids=(); }
trap 'stop_all; bench_cleanup' EXIT
start on ""
start off "$tmp/off.site.lua"

rps() {   # rps URL KIND: one wrk run's requests/s
  local script=$here/v2.lua rows=$2 conns=16
  [ "$2" = 64bin ] && { script=$here/v2bin.lua; rows=64; }
  [ "$2" = 1 ] && conns=64
  MODEL=cancer_xgb ROWS=$rows wrk -t2 -c"$conns" -d"$dur" -s "$script" "$1" |
    tail -1 | tr ' ' '\n' | sed -n 's/^rps=//p'
}
counter() {   # counter NAME: the log-on server's counter
  curl -s "$url_on/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

for kind in $kinds; do
  l0=$(counter orrery_predictions_logged_total)
  d0=$(counter orrery_predictions_dropped_total)
  : > "pairs-$kind.txt"
  for i in $(seq 1 "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then
      a=$(rps "$url_on" "$kind"); b=$(rps "$url_off" "$kind")
    else
      b=$(rps "$url_off" "$kind"); a=$(rps "$url_on" "$kind")
    fi
    echo "$a $b" >> "pairs-$kind.txt"
    awk -v k="$kind" -v i="$i" -v a="$a" -v b="$b" 'BEGIN {
      printf "%-6s pair %d  log on %8.0f  off %8.0f  cost %5.1f%%\n",
        k, i, a, b, 100 * (1 - a / b) }'
  done
  l1=$(counter orrery_predictions_logged_total)
  d1=$(counter orrery_predictions_dropped_total)
  awk '{ print 1 - $1 / $2 }' "pairs-$kind.txt" | sort -g > "cost-$kind.txt"
  awk -v k="$kind" -v l=$((l1 - l0)) -v d=$((d1 - d0)) '{
      c[NR] = $1; s += $1 }
    END {
      med = NR % 2 ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
      printf "%-6s cost: median %.1f%%, mean %.1f%% over %d pairs;" \
        " logged %d, dropped %d (%.2f%%)\n", k, 100 * med, 100 * s / NR, NR,
        l, d, l + d ? 100 * d / (l + d) : 0 }' "cost-$kind.txt"
done
