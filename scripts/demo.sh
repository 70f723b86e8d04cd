#!/usr/bin/env bash
# scripts/demo.sh - the main job: install what is missing, build, run the
# quickstart workflow on the embedded defaults (no site file needed), then
# serve the champion it promoted, send it a few real requests with curl,
# then a few hundred more (half of them measured by a "new device" that
# reads sizes 30% larger) with late labels for some, and end with the
# monitoring report of that traffic: drift per feature, quality on the
# labelled rows, alerts, as a terminal table and an HTML page.
#
#   scripts/demo.sh            # from anywhere; the site lives in ./demo-site
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$here/scripts/deps.sh"
orr_install_packages "${ORR_BUILD_PACKAGES[@]}" curl python3

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

# Production traffic: 200 rows as the training device measured them, then
# 200 from a new device that reads sizes and textures 30% larger (the
# generator of examples/continuous-training), each request with its own
# id; the true diagnosis of the first 150 of each arrives later as labels
# through the server's feedback endpoint.
echo
echo "orrery: sending 400 requests (200 shifted) and 300 late labels"
ct="$here/examples/continuous-training"
python3 "$ct/stream.py" cancer --out "$site/traffic-usual.csv" --rows 200 \
  --seed 11 --shift 1.0
python3 "$ct/stream.py" cancer --out "$site/traffic-shifted.csv" --rows 200 \
  --seed 12 --shift 1.3
python3 "$ct/send.py" "$url" cancer "$site/traffic-usual.csv" \
  --label malignant --prefix usual --labels 150
python3 "$ct/send.py" "$url" cancer "$site/traffic-shifted.csv" \
  --label malignant --prefix shifted --labels 150

# The monitoring window of those 400 requests against the champion's
# reference profile (written when it was registered), then the report.
echo
echo "\$ orrery monitor run cancer --window 400"
"$build/orrery" monitor run cancer --window 400
echo
echo "\$ orrery monitor report cancer"
report="$site/.orrery/reports/cancer.html"
"$build/orrery" monitor report cancer --out "$report"
echo
echo "orrery: the monitoring report of that traffic is $report"
echo "  open it in a browser:  xdg-open $report"
echo "  or serve it on loopback: python3 -m http.server --bind 127.0.0.1 \\"
echo "      -d $(dirname "$report") 8000   # then http://127.0.0.1:8000/cancer.html"
