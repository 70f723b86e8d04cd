#!/usr/bin/env bash
# tests/bench/serve/bench_serve.sh [BUILD_DIR] - requests/s and p99 of
# `orrery serve` (the linear quickstart champion) under wrk: 1-row and
# 64-row KServe V2 JSON requests, 16 connections, loopback only.  A
# benchmark, not a test: wrk (Debian package) is needed, timings vary.
#   DURATION=10s WORKERS=2 bash tests/bench/serve/bench_serve.sh build
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
command -v wrk >/dev/null || { echo "bench_serve: needs wrk (apt-get install wrk)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins"
cd "$tmp"
"$build/orrery" run "$root/examples/quickstart/pipeline.lua" >/dev/null
"$build/orrery" serve models:/cancer@champion --port 0 \
  --workers "${WORKERS:-2}" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 200); do
  grep -q '^listening on' "$tmp/out" && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$tmp/out")
[ -n "$url" ] || { cat "$tmp/err" >&2; exit 1; }
echo "orrery serve ($url), ${WORKERS:-2} workers, 16 connections, wrk 2 threads"
for rows in 1 64; do
  ROWS=$rows wrk -t2 -c16 -d"${DURATION:-10s}" -s "$root/tests/bench/serve/v2.lua" \
    "$url" | tail -1
done
