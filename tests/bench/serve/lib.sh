# tests/bench/serve/lib.sh - what the serving benchmarks share; sourced,
# after `set -euo pipefail`, as
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "${1:-}"
# It sets root, build (the build directory given, else ROOT/build) and
# here, loads scripts/services.sh, makes a scratch directory that becomes
# the current one (an Orrery store of its own) and is removed on exit
# with the server started last (its PID in $pid), and points Orrery at
# the build's plugins and no site file.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
here=$root/tests/bench/serve
. "$root/scripts/services.sh"
tmp=$(mktemp -d)
pid=
bench_cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap bench_cleanup EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins" ORRERY_REPO="$root"
cd "$tmp"

# bench_needs NAME CMD...: stop with a hint unless every CMD is installed.
bench_needs() {
  local who=$1 c
  shift
  for c in "$@"; do
    command -v "$c" >/dev/null ||
      { echo "$who: needs $c (bash scripts/deps.sh bench)" >&2; exit 1; }
  done
}

# bench_body1 FILE: the 1-row V2 JSON request v2.lua sends (ROWS=1), for
# bench_loadgen.
bench_body1() {
  local vals
  vals=$(awk 'BEGIN { for (c = 1; c <= 30; c++)
    printf "%s%.4f", (c > 1 ? "," : ""), ((31 + c * 7) % 97) / 9.7 }')
  printf '{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP64","data":[%s]}]}' \
    "$vals" > "$1"
}

# bench_body_bin64 FILE: the 64-row request v2bin.lua sends, in the binary
# tensor extension; prints the JSON header's length (the value of
# Inference-Header-Content-Length).
bench_body_bin64() {
  /usr/bin/python3 - "$1" <<'PY'
import struct, sys
rows, n = 64, 64 * 30
vals = [float('%.4f' % (((r * 31 + c * 7) % 97) / 9.7))
        for r in range(1, rows + 1) for c in range(1, 31)]
hdr = ('{"inputs":[{"name":"input","shape":[%d,30],"datatype":"FP64",'
       '"parameters":{"binary_data_size":%d}}],"outputs":[{"name":"output",'
       '"parameters":{"binary_data":true}}]}' % (rows, n * 8)).encode()
open(sys.argv[1], 'wb').write(hdr + struct.pack('<%dd' % n, *vals))
print(len(hdr))
PY
}

# bench_log ON: the prediction log on (1, the default) or off (0) for the
# servers started next (site server.log_sample).
bench_log() {
  if [ "$1" = 0 ]; then
    echo 'server = { log_sample = 0 }' > orrery.site.lua
  else
    rm -f orrery.site.lua
  fi
}

# bench_up CMD...: start a server that prints "listening on URL" (orrery
# serve, bench_const_reply) in the background; wait for that line; $pid.
bench_up() {
  "$@" >server.out 2>server.err &
  pid=$!
  for _ in $(seq 1 400); do
    grep -q '^listening on' server.out && return 0
    sleep 0.05
  done
  cat server.err >&2
  exit 1
}

# bench_down: stop the server started last, by its PID.
bench_down() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
