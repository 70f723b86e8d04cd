#!/bin/sh
# tests/bench/tracking/bench_tracking.sh [BUILD_DIR] - print the tracking
# figures (docs/BENCHMARKS.md, docs/tracking.md).  Uses a scratch dir.
BUILD=${1:-build}
exec "$BUILD/tests/bench/tracking/bench_tracking" "${TMPDIR:-/tmp}"
