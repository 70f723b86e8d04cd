#!/usr/bin/env bash
# scripts/demo.sh - the main job: install what is missing, build, and run
# the quickstart workflow on the embedded defaults (no site file needed).
#
#   scripts/demo.sh            # from anywhere; the site lives in ./demo-site
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/deps.sh"
orr_install_packages "${ORR_BUILD_PACKAGES[@]}"

build="$here/build-demo"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DORR_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

# The site (storage + metadata) is the current directory's .orrery/; keep
# the demo's in a folder of its own so it never mixes with a real site.
site="${ORRERY_DEMO_DIR:-$here/demo-site}"
mkdir -p "$site"
cd "$site"
echo "orrery: running examples/quickstart/pipeline.lua (site: $site/.orrery)"
ORRERY_SITE= exec "$build/orrery" run "$here/examples/quickstart/pipeline.lua" "$@"
