#!/usr/bin/env bash
# tests/bench/monitor/bench_window_plog.sh [BUILD_DIR] - the cost of the
# prediction log beside a loaded server: `orrery serve` of the quickstart
# champion under wrk (V2 JSON requests of 1 and of 64 rows, ROWS_SET,
# default "1 64"; 16 connections), with server.log_sample = 0 (no log)
# and 1 (every prediction logged), three rounds each, alternating; prints
# requests/s, their means and ratio, the server's CPU per request (and
# the log writer thread's share of it) and the log's logged/dropped
# counters.  Then a monitor window over what was logged runs beside the
# loaded server (logging + monitoring).  INLINE=1 keeps the payload in
# SQLite (the layout before schema 8) for comparison.  A benchmark, not
# a test.
#   DURATION=10s bash tests/bench/monitor/bench_window_plog.sh build
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
dur=${DURATION:-10s}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins"
cd "$tmp"
"$build/orrery" run "$root/examples/quickstart/pipeline.lua" >/dev/null 2>&1
# INLINE=1: the payload stays in SQLite as before schema 8 (a file where
# the segment directory would be makes the writer fall back to inline
# chunks), for a comparison on the same machine.
if [ "${INLINE:-0}" = 1 ]; then
  rm -rf .orrery/predictions && touch .orrery/predictions
  echo "payload inline in SQLite (INLINE=1)"
else
  echo "payload in segment files (schema 8)"
fi

serve() {   # serve SAMPLE: start with that log sample, set $url
  printf 'server = { log_sample = %s, log_queue = 65536 }\n' "$1" \
    > orrery.site.lua
  "$build/orrery" serve models:/cancer@champion --port 0 --workers 2 \
    > serve.out 2> serve.err &
  pid=$!
  url=
  for _ in $(seq 1 400); do
    url=$(sed -n 's/^listening on //p' serve.out)
    [ -n "$url" ] && return 0
    sleep 0.05
  done
  cat serve.err >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
counter() { curl -s "$url/metrics" | sed -n "s/^$1 //p" | head -1; }

# The server's CPU time (user + system, all threads, clock ticks) from
# /proc: CPU per request does not depend on what else the machine runs,
# requests/s does.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# The log writer's own share: the thread core/serve/plog.c names
# orrery-plog, and the checkpoint thread it starts (orrery-ckpt).
wticks() {
  local t n=0 c
  for t in /proc/"$pid"/task/*; do
    c=$(cat "$t/comm" 2>/dev/null) || continue
    if [ "$c" = orrery-plog ] || [ "$c" = orrery-ckpt ]; then
      n=$((n + $(awk '{print $14 + $15}' "$t/stat")))
    fi
  done
  echo "$n"
}
hz=$(getconf CLK_TCK)
# measure ROWS: three rounds of log_sample 0 and 1 (the order swapped
# every round, so a drift of the machine's load weighs on both), then
# the mean req/s of each and their ratio.
measure() {
  local rows=$1 round sample order sum0=0 sum1=0
  for round in 1 2 3; do
    order="0 1"; [ $((round % 2)) -eq 0 ] && order="1 0"
    for sample in $order; do
      serve "$sample"
      c0=$(ticks)
      out=$(ROWS=$rows wrk -t2 -c16 -d"$dur" \
            -s "$root/tests/bench/serve/v2.lua" "$url")
      c1=$(ticks)
      res=$(grep Requests/sec <<<"$out" | awk '{print $2}')
      reqs=$(grep "requests in" <<<"$out" | awk '{print $1}')
      # Let the writer finish what was queued: its CPU counts too.
      sleep 1
      c2=$(ticks)
      w=$(wticks)
      logged=$(counter orrery_predictions_logged_total)
      dropped=$(counter orrery_predictions_dropped_total)
      us=$(echo "scale=2; ($c2 - $c0) * 1000000 / $hz / $reqs" | bc)
      wus=$(echo "scale=2; $w * 1000000 / $hz / $reqs" | bc)
      echo "rows=$rows round $round log_sample=$sample: $res req/s," \
           "$us us server CPU per request, of which the log writer $wus" \
           "(logged ${logged:-0}, dropped ${dropped:-0})"
      if [ "$sample" = 0 ]; then sum0=$(echo "$sum0 + $res" | bc)
      else sum1=$(echo "$sum1 + $res" | bc); fi
      stop
    done
  done
  echo "rows=$rows mean: log_sample=0 $(echo "scale=0; $sum0 / 3" | bc)" \
       "req/s, log_sample=1 $(echo "scale=0; $sum1 / 3" | bc) req/s," \
       "ratio $(echo "scale=3; $sum1 / $sum0" | bc)" \
       "(logging costs $(echo "scale=1; 100 - 100 * $sum1 / $sum0" | bc)%)"
}
# ROWS_SET: the request sizes measured (V2 JSON, 30 features a row).
for rows in ${ROWS_SET:-1 64}; do
  measure "$rows"
done
n=$(sqlite3 .orrery/orrery.db "SELECT (SELECT count(*) FROM predictions) + (SELECT coalesce(sum(n), 0) FROM prediction_chunks)" 2>/dev/null ||
    echo "?")
echo "rows in the log: $n ($(du -sm .orrery/predictions 2>/dev/null |
  cut -f1 || echo 0) MB of segment files, $(du -m .orrery/orrery.db | cut -f1) MB" \
  "database)"

# Logging plus monitoring beside the loaded server: a monitor window of
# the newest 100000 rows every second while wrk runs.
"$build/orrery" monitor run cancer --window 100000 >/dev/null
serve 1
( end=$((SECONDS + ${dur%s})); while [ $SECONDS -lt $end ]; do
    "$build/orrery" monitor run cancer --window 100000 >/dev/null; sleep 1
  done ) &
mon=$!
res=$(ROWS=1 wrk -t2 -c16 -d"$dur" -s "$root/tests/bench/serve/v2.lua" \
      "$url" | grep Requests/sec | awk '{print $2}') || cat serve.err >&2
wait $mon || true
echo "log_sample=1 + monitor run (window 100000) every second: $res req/s"
stop
