#!/usr/bin/env bash
# tests/bench/bench_startup.sh - start-up cost of the CLI.
#
#   tests/bench/bench_startup.sh [BUILD_DIR]
#
# Prints the median wall time of:
#   orrery version            (target: < 5 ms; mlflow --version ~ 1.45 s)
#   orrery run empty.lua      (one no-op step, fresh site; target < 20 ms)
#   orrery plugins            (loads every plugin; reported)
# Needs hyperfine (Debian package), installed if missing when root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
bin="$build/orrery"
. "$here/scripts/deps.sh"
orr_install_packages hyperfine

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export ORRERY_SITE=

median() { # command... -> median ms
  hyperfine -N --warmup 10 --runs "${RUNS:-200}" --export-json "$work/h.json" "$@" >/dev/null 2>&1
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f ms (min %.2f, max %.2f, %d runs)" % (r["median"]*1e3, r["min"]*1e3, r["max"]*1e3, len(r["times"])))' "$work/h.json"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
echo "orrery version:        $(median "$bin version")"
"$bin" run "$here/tests/bench/empty.lua" >/dev/null   # create the site once
echo "orrery run empty.lua:  $(RUNS=100 median "$bin run $here/tests/bench/empty.lua")"
echo "orrery plugins:        $(median "$bin plugins")"
echo "plugins loaded by 'orrery plugins': $("$bin" plugins --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["plugins"]))')"
