#!/usr/bin/env bash
# scripts/demo.sh - the main job: install what is missing, build, run the
# quickstart workflow on the embedded defaults (no site file needed), then
# serve the champion it promoted and send it a few real requests with curl.
#
#   scripts/demo.sh            # from anywhere; the site lives in ./demo-site
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/deps.sh"
orr_install_packages "${ORR_BUILD_PACKAGES[@]}" curl

build="$here/build-demo"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DORR_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

# The site (storage + metadata) is the current directory's .orrery/; keep
# the demo's in a folder of its own so it never mixes with a real site.
site="${ORRERY_DEMO_DIR:-$here/demo-site}"
mkdir -p "$site"
cd "$site"
export ORRERY_SITE=
echo "orrery: running examples/quickstart/pipeline.lua (site: $site/.orrery)"
"$build/orrery" run "$here/examples/quickstart/pipeline.lua" "$@"

# Serve the champion on a free loopback port and ask it about three real
# patients (the first rows of the data set, label dropped).
echo
echo "orrery: serving models:/cancer@champion"
log=$(mktemp)
"$build/orrery" serve models:/cancer@champion --port 0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' "$log")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  cat "$log" >&2
  echo "orrery: the server did not start" >&2
  exit 1
fi
cat "$log"
data="$here/examples/data/breast_cancer.csv"
for row in 2 3 21; do
  values=$(sed -n "${row}p" "$data" | awk -F, -v OFS=, '{NF--; print}')
  label=$(sed -n "${row}p" "$data" | awk -F, '{print $NF}')
  body="{\"id\": \"row-$row\", \"inputs\": [{\"name\": \"x\", \"shape\": [1, 30], \"datatype\": \"FP64\", \"data\": [$values]}]}"
  echo "\$ curl -s $url/v2/models/cancer/infer -d '{\"id\": \"row-$row\", ...}'   # malignant=$label"
  curl -s -H 'Content-Type: application/json' -d "$body" "$url/v2/models/cancer/infer"
  echo
done
