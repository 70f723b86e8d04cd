#!/usr/bin/env bash
# tests/bench/serve/bench_cost.sh [BUILD_DIR] - the server's CPU per
# request at a fixed rate: what each part of `orrery serve` costs, free of
# the closed-loop effects that make saturation figures swing (a server
# slower than its client pays for waking it on every answer).
# bench_loadgen offers RATE requests/s (default 30,000; open loop, 16
# connections) of 1-row V2 JSON, and `perf stat` (task-clock) reads the
# server's CPU time over 5 s; printed: microseconds of server CPU per
# request (all its threads, kernel included), the prediction-log writer
# thread's share (with its checkpoint thread's), context switches per
# request and the rate reached (latency: bench_p99.sh; here perf and
# /proc reads share the cores).
# Contenders, ROUNDS rounds (default 2): the HTTP floor (bench_const_reply),
# the quickstart's linear model and the issue's XGBoost model (100 trees,
# depth 6), each with the prediction log off and on.
# BIN64=1: 64-row requests in the binary tensor extension instead (the
# prediction log's heaviest case; use a lower RATE, e.g. 10000).
#   RATE=30000 ROUNDS=2 bash tests/bench/serve/bench_cost.sh build
# NOFLOOR=1 and NOLINEAR=1 leave the floor and the linear model out.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
rate=${RATE:-30000}
rounds=${ROUNDS:-2}
command -v perf >/dev/null ||
  { echo "bench_cost: needs perf (apt-get install linux-perf)" >&2; exit 1; }
"$build/orrery" run "$root/examples/quickstart/pipeline.lua" >/dev/null 2>&1
"$build/orrery" run "$here/xgb.lua" >/dev/null 2>&1
if [ -n "${BIN64:-}" ]; then
  hdr=$(bench_body_bin64 body.bin)
  load_args=(-b body.bin -H 'Content-Type: application/octet-stream'
             -H "Inference-Header-Content-Length: $hdr")
else
  bench_body1 body.json
  load_args=(-b body.json -H 'Content-Type: application/json')
fi

# ticks PID NAME: CPU clock ticks of PID's threads called NAME
ticks() {
  local t sum=0 f
  for t in /proc/"$1"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
    f=($(sed 's/.*) //' "$t/stat"))
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}

one() {   # one LABEL LOG(0|1) MODEL|floor
  local port model=${3%%@*}
  port=$(orr_free_port)
  bench_log "$2"
  if [ "$3" = floor ]; then
    bench_up "$build/tests/bench/serve/bench_const_reply" "$port" 2
    model=x
  else
    bench_up "$build/orrery" serve "models:/$3" --port "$port" --workers 2
  fi
  # The load runs 0.5 s of warm-up, then 6 s; perf reads 5 s within.
  "$build/tests/bench/serve/bench_loadgen" -r "$rate" -c 16 -d 6 -w 0.5 \
    "${load_args[@]}" \
    "http://127.0.0.1:$port/v2/models/$model/infer" > load.txt &
  local lg=$!
  sleep 1
  local w0 w1
  w0=$(( $(ticks "$pid" orrery-plog) + $(ticks "$pid" orrery-ckpt) ))
  perf stat -e task-clock,context-switches -p "$pid" -o stat.txt -- sleep 5
  w1=$(( $(ticks "$pid" orrery-plog) + $(ticks "$pid" orrery-ckpt) ))
  wait "$lg" || true
  bench_down
  local cpu cs hz
  cpu=$(awk '/task-clock/ { gsub(",", "", $1); print $1 }' stat.txt)
  cs=$(awk '/context-switches/ { gsub(",", "", $1); print $1 }' stat.txt)
  hz=$(getconf CLK_TCK)
  awk -v l="$1" -v cpu="$cpu" -v cs="$cs" -v r="$rate" -v w=$((w1 - w0)) \
      -v hz="$hz" -v load="$(cat load.txt)" 'BEGIN {
    n = r * 5
    match(load, /rps=[0-9]+/)
    printf "%-12s server %6.2f us/req  (log writer %5.2f)  %4.2f switches/req  %s\n",
      l, cpu * 1000 / n, w * 1e6 / hz / n, cs / n, substr(load, RSTART, RLENGTH) }'
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round, $rate requests/s"
  [ -z "${NOFLOOR:-}" ] && one floor 0 floor
  [ -z "${NOLINEAR:-}" ] && one linear 0 cancer@champion
  [ -z "${NOLINEAR:-}" ] && one linear+log 1 cancer@champion
  one xgboost 0 cancer_xgb@bench
  one xgboost+log 1 cancer_xgb@bench
done
