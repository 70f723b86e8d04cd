#!/usr/bin/env bash
# tests/bench/monitor/bench_window_plog.sh [BUILD_DIR] - the cost of the
# prediction log beside a loaded server: `orrery serve` of the quickstart
# champion under wrk (1-row V2 JSON requests, 16 connections), with
# server.log_sample = 0 (no log) and 1 (every prediction logged), three
# times each, alternating; prints requests/s, the server's CPU per
# request (and the log writer thread's share of it) and the log's
# written/dropped counters.  Then a monitor window over what was logged runs beside the
# loaded server (logging + monitoring).  A benchmark, not a test.
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
# orrery-plog.
wticks() {
  local t n=0
  for t in /proc/"$pid"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = orrery-plog ] &&
      n=$((n + $(awk '{print $14 + $15}' "$t/stat")))
  done
  echo "$n"
}
hz=$(getconf CLK_TCK)
for round in 1 2 3; do
  for sample in 0 1; do
    serve "$sample"
    c0=$(ticks)
    out=$(ROWS=1 wrk -t2 -c16 -d"$dur" -s "$root/tests/bench/serve/v2.lua" \
          "$url")
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
    echo "round $round log_sample=$sample: $res req/s, $us us server CPU" \
         "per request, of which the log writer $wus" \
         "(logged ${logged:-0}, dropped ${dropped:-0})"
    stop
  done
done
n=$(sqlite3 .orrery/orrery.db "SELECT (SELECT count(*) FROM predictions) + (SELECT coalesce(sum(n), 0) FROM prediction_chunks)" 2>/dev/null ||
    echo "?")
echo "rows in the log: $n"

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
