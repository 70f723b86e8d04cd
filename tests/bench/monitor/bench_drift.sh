#!/usr/bin/env bash
# tests/bench/monitor/bench_drift.sh - drift tests on large windows:
# monitor-drift (profile read + analyze) against the plain C floor and
# SciPy/NumPy, issue 7's performance target.
#
#   tests/bench/monitor/bench_drift.sh [BUILD_DIR] [F] [N_REF] [N_CUR] [REPEATS]
#
# Defaults: F = 20 features, 1,000,000 reference and 1,000,000 current
# values, best of 3 (1 for the Python peer, whose run takes ~10 s).
# Figures are ms per feature.  Orrery's reference side is the stored
# profile (written once by `profile`, as at registration); every analyze
# opens a fresh instance so it pays for reading and parsing that profile.
# The target: KS + PSI at least 10x faster than SciPy/NumPy and no slower
# than the C floor (radix sort of both sides + merge + binning).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
F=${2:-20}
N1=${3:-1000000}
N2=${4:-1000000}
REPS=${5:-3}
driver="$build/tests/drift/bench_drift_driver"
[ -x "$driver" ] || { echo "missing $driver: build first" >&2; exit 1; }
[ -e "$build/plugins/monitor-drift.so" ] || {
  echo "missing $build/plugins/monitor-drift.so: build first" >&2; exit 1; }
echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== Orrery monitor-drift and the C floor"
ORRERY_PLUGIN_PATH="$build/plugins" "$driver" "$F" "$N1" "$N2" "$REPS"
echo "== SciPy / NumPy (/usr/bin/python3)"
/usr/bin/python3 "$here/tests/bench/monitor/bench_drift_peer.py" "$F" "$N1" "$N2" 1
