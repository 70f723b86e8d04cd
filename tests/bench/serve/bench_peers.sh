#!/usr/bin/env bash
# tests/bench/serve/bench_peers.sh [BUILD_DIR] - `orrery serve` against the
# Python servers of the issue's table, in one run on one machine, serving
# the same model: the issue's XGBoost (100 trees, depth 6, breast cancer,
# tests/bench/serve/xgb.lua), the peers loading the model.json Orrery
# registered (tests/bench/serve/peer_app.py).  wrk on loopback sharing the
# 2 cores, the same V2 JSON requests for all: 1 row from 64 connections,
# 64 rows from 16; Orrery also with binary tensors (64 rows) and with its
# prediction log off (site server.log_sample = 0; on, the default, every
# prediction is logged), and the HTTP floor (bench_const_reply: the same
# libmicrohttpd setup answering a constant body; Orrery's share of it is
# printed).  ROUNDS rounds (default 2), the contenders in
# turn, the order reversed every round; prints each run and the best of
# each with its ratio to FastAPI + uvicorn with 2 workers.
#   DURATION=8s ROUNDS=2 bash tests/bench/serve/bench_peers.sh build
# CONTENDERS="orrery orrery_nolog" runs only those (the summary then
# lacks the ratios to the peers left out).
# Needs wrk, python3-xgboost, python3-fastapi, uvicorn, gunicorn,
# python3-flask (Debian; `bash scripts/deps.sh bench` installs them).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
dur=${DURATION:-8s}
rounds=${ROUNDS:-2}
bench_needs bench_peers wrk uvicorn gunicorn
"$build/orrery" run "$here/xgb.lua" >/dev/null 2>&1
# The registered artifact is a manifest naming model.json by digest.
blob() { echo ".orrery/blobs/sha256/${1:0:2}/$1"; }
manifest=$("$build/orrery" models show cancer_xgb@bench --json |
           /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["artifact"])')
model_digest=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"]["model.json"])' "$(blob "$manifest")")
export PEER_MODEL=$tmp/$(blob "$model_digest")

# up CMD...: start a server on $port (CMD uses it), wait until it
# answers a V2 request, set $url.
up() {
  "$@" >"$tmp/server.out" 2>"$tmp/server.err" &
  pid=$!
  url=http://127.0.0.1:$port
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null -H 'Content-Type: application/json' \
         -d '{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP64","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]}]}' \
         "$url/v2/models/cancer_xgb/infer"; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/server.err" >&2
  exit 1
}

start() {   # start CONTENDER
  port=$(orr_free_port)
  case $1 in
    orrery|orrery_nolog)
      bench_log "$([ "$1" = orrery ] && echo 1 || echo 0)"
      up "$build/orrery" serve models:/cancer_xgb@bench --port "$port" \
        --workers 2 ;;
    fastapi1)
      up uvicorn --app-dir "$here" --host 127.0.0.1 --port "$port" \
        --log-level warning --no-access-log peer_app:fastapi_app ;;
    fastapi2)
      # gunicorn managing uvicorn workers, as FastAPI's deployment guide
      # does: Debian's uvicorn 0.17 with --workers answered every request
      # 44 ms late (1,400 rps from 64 connections, 20 from one).
      up gunicorn --chdir "$here" -b "127.0.0.1:$port" -w 2 \
        -k uvicorn.workers.UvicornWorker --log-level warning \
        peer_app:fastapi_app ;;
    flask2)
      up gunicorn --chdir "$here" -b "127.0.0.1:$port" -w 2 \
        --log-level warning peer_app:flask_app ;;
    floor)
      # The HTTP floor: the same libmicrohttpd setup answering a constant.
      up "$build/tests/bench/serve/bench_const_reply" "$port" 2 ;;
  esac
}

v2() {   # v2 ROWS CONNS [binary]: one wrk run, its summary line
  local script=$here/v2.lua
  [ "${3:-}" = binary ] && script=$here/v2bin.lua
  MODEL=cancer_xgb ROWS=$1 wrk -t2 -c"$2" -d"$dur" -s "$script" "$url" |
    tail -1
}

contenders=${CONTENDERS:-"orrery orrery_nolog floor fastapi2 fastapi1 flask2"}
: > results.txt
for round in $(seq 1 "$rounds"); do
  order=$contenders
  [ $((round % 2)) -eq 0 ] && order=$(echo "$contenders" | tr ' ' '\n' | tac | tr '\n' ' ')
  for c in $order; do
    start "$c"
    one=$(v2 1 64); echo "round $round $c 1row64c  $one" | tee -a results.txt
    b64=$(v2 64 16); echo "round $round $c 64rows  $b64" | tee -a results.txt
    if [ "${c#orrery}" != "$c" ]; then
      bin=$(v2 64 16 binary)
      echo "round $round $c 64bin   $bin" | tee -a results.txt
      # A log that cannot keep up drops records (counted, never waited
      # for): its cost is only what it is with nothing dropped.
      curl -s "$url/metrics" | awk '/^orrery_predictions_(logged|dropped)_total/ {
        printf "   %s %s", $1, $2 } END { print "" }'
    fi
    bench_down
  done
done

best() {   # best CONTENDER TEST: the highest rps of its runs
  awk -v c="$1" -v t="$2" '$3 == c && $4 == t {
      for (i = 5; i <= NF; i++) if ($i ~ /^rps=/) { v = substr($i, 5) + 0;
        if (v > b) b = v } } END { print b + 0 }' results.txt
}
echo
echo "best of $rounds, requests/s (ratio to FastAPI + uvicorn, 2 workers, JSON)"
for t in 1row64c 64rows; do
  ref=$(best fastapi2 "$t")
  for c in $contenders; do
    v=$(best "$c" "$t")
    printf '%-8s %-13s %8s rps  %sx\n' "$t" "$c" "$v" \
      "$(echo "scale=1; $v / $ref" | bc)"
  done
done
for c in orrery orrery_nolog; do
  printf '%-8s %-13s %8s%%  of the floor\n' 1row64c "$c" \
    "$(echo "scale=1; 100 * $(best "$c" 1row64c) / $(best floor 1row64c)" | bc)"
done
for c in orrery orrery_nolog; do
  v=$(best "$c" 64bin)
  printf '%-8s %-13s %8s rps  %sx\n' 64bin "$c" "$v" \
    "$(echo "scale=1; $v / $(best fastapi2 64rows)" | bc)"
done
