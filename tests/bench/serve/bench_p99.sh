#!/usr/bin/env bash
# tests/bench/serve/bench_p99.sh [BUILD_DIR] - latency at half the
# saturating load, the issue's XGBoost model (100 trees, depth 6), 1-row
# V2 JSON requests, `orrery serve` with its prediction log on (the
# default) and off, beside the HTTP floor (bench_const_reply: the same
# libmicrohttpd setup answering a constant body), contenders in turn,
# ROUNDS rounds (default 2).  For each:
#   max    wrk -c16, no pause: the saturating load (the issue's 16
#          connections);
#   half   wrk -c16 held to half of Orrery's max (log on) by a 1 ms pause
#          after a share P of the answers, P calibrated in short runs;
#   users  wrk -c170, each connection pausing 0..8 ms (uniform) between
#          requests: about the same rate from many clients at once;
#   open   bench_loadgen (tests/bench/serve/loadgen.c): open-loop at
#          half the max, Poisson arrivals, 16 connections, latency from
#          each request's scheduled time (what wrk2 measures).
# Everything shares the 2 cores with the server.  Also printed: how late
# this machine wakes a thread from a 100 us sleep (the platform's own
# scheduling noise, idle).
#   DURATION=8 ROUNDS=2 bash tests/bench/serve/bench_p99.sh build
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
dur=${DURATION:-8}
rounds=${ROUNDS:-2}
bench_needs bench_p99 wrk
"$build/orrery" run "$here/xgb.lua" >/dev/null 2>&1
path=/v2/models/cancer_xgb/infer
bench_body1 body.json

start() {   # start CONTENDER: serve it on a free port, set $url
  local port
  port=$(orr_free_port)
  url=http://127.0.0.1:$port
  case $1 in
    orrery|orrery_nolog)
      bench_log "$([ "$1" = orrery ] && echo 1 || echo 0)"
      bench_up "$build/orrery" serve models:/cancer_xgb@bench \
        --port "$port" --workers 2 ;;
    floor)
      bench_up "$build/tests/bench/serve/bench_const_reply" "$port" 2 ;;
  esac
}
wrk1() {   # wrk1 CONNS SECONDS [VAR=VALUE...]: one 1-row run's summary
  local c=$1 d=$2
  shift 2
  env MODEL=cancer_xgb ROWS=1 "$@" \
    wrk -t2 -c"$c" -d"${d}s" -s "$here/v2.lua" "$url" | tail -1
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }   # field NAME < LINE

timer_noise() {
  cat > sleep_probe.c <<'EOF'
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
static long long ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}
int main(void)
{
    enum { N = 20000 };
    static long long late[N];
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (int i = 0; i < N; i++) {
        long long t = ns();
        struct timespec s = {0, 100000};
        nanosleep(&s, NULL);
        late[i] = ns() - t - 100000;
    }
    qsort(late, N, sizeof *late, cmp);
    printf("a 100 us sleep wakes late by: p50 %.0f us, p99 %.0f us, "
           "p99.9 %.0f us, max %.0f us\n", late[N / 2] / 1e3,
           late[N * 99 / 100] / 1e3, late[N * 999 / 1000] / 1e3,
           late[N - 1] / 1e3);
    return 0;
}
EOF
  cc -O2 -o sleep_probe sleep_probe.c && ./sleep_probe
}
timer_noise

contenders="orrery orrery_nolog floor"
: > results.txt
half=
for round in $(seq 1 "$rounds"); do
  order=$contenders
  [ $((round % 2)) -eq 0 ] && order=$(echo "$contenders" | tr ' ' '\n' | tac | tr '\n' ' ')
  # The first round measures Orrery's max first: half is half of it.
  [ -z "$half" ] && order="orrery ${order/orrery /}"
  for c in $order; do
    start "$c"
    max=$(wrk1 16 "$dur"); echo "round $round $c max    $max" | tee -a results.txt
    if [ -z "$half" ]; then
      half=$(( $(field rps <<<"$max" | cut -d. -f1) / 2 ))
      echo "half the saturating load: $half requests/s"
    fi
    # Calibrate P: 16 connections at R requests/s spend 16/R s per
    # request, a pause of P ms adds P; three 2 s runs converge.
    p=0.3
    for _ in 1 2 3; do
      r=$(wrk1 16 2 GAP_P="$p" | field rps)
      p=$(awk -v p="$p" -v r="$r" -v h="$half" 'BEGIN {
        p += 16000 / h - 16000 / r; if (p < 0) p = 0; if (p > 1) p = 1
        printf "%.4f", p }')
    done
    line=$(wrk1 16 "$dur" GAP_P="$p")
    echo "round $round $c half   $line P=$p" | tee -a results.txt
    line=$(wrk1 170 "$dur" GAP_RAND=8)
    echo "round $round $c users  $line" | tee -a results.txt
    line=$("$build/tests/bench/serve/bench_loadgen" -r "$half" -c 16 -p \
             -d "$dur" -b body.json -H 'Content-Type: application/json' \
             "$url$path" || true)
    echo "round $round $c open   $line" | tee -a results.txt
    bench_down
  done
done

echo
echo "p99 in ms, median of $rounds rounds (the runs above give each)"
printf '%-13s %10s %10s %10s %10s\n' "" max half users open
for c in $contenders; do
  printf '%-13s' "$c"
  for t in max half users open; do
    v=$(awk -v c="$c" -v t="$t" '$3 == c && $4 == t {
          for (i = 5; i <= NF; i++) if ($i ~ /^p99=/) {
            v = $i; sub(/^p99=/, "", v); sub(/ms$/, "", v); print v + 0 } }' \
          results.txt | sort -n | awk '{ a[NR] = $1 } END {
          if (NR) print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    printf ' %10s' "${v:--}"
  done
  echo
done
