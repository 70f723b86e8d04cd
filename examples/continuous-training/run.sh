#!/bin/sh
# examples/continuous-training/run.sh - the whole loop, once, in a fresh
# site folder: train and serve a champion, send it shifted traffic with
# late labels, let one scheduler check detect the drift and retrain, and
# watch the server answer with the new version.  Then the weather model:
# a new labelled batch retrains it.
#
#   examples/continuous-training/run.sh [path/to/orrery] [site-folder]
#
# Needs python3 (standard library only).  The server listens on a free
# loopback port and is stopped at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
orrery=${1:-$here/../../build/orrery}
orrery=$(cd "$(dirname "$orrery")" && pwd)/$(basename "$orrery")
site=${2:-$(mktemp -d "${TMPDIR:-/tmp}/orrery-loop-XXXXXX")}
mkdir -p "$site"
cd "$site"
export ORRERY_SITE=
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. the first champions (site: $site)"
"$orrery" data add "$here/../data/breast_cancer.csv" --name cancer-train \
  --target malignant | head -1
"$orrery" run "$here/train.lua" --param dataset=datasets:/cancer-train \
  --quiet
"$orrery" models show cancer@champion | head -1
# The weather model, on 2012-2014.
python3 "$here/stream.py" weather --years 2012-2014 --out weather-1.csv
"$orrery" data add weather-1.csv --name weather --target temp_max | head -1
"$orrery" run "$here/train.lua" --param dataset=datasets:/weather/1 \
  --param model=weather --quiet
"$orrery" models show weather@champion | head -1

say "2. serve cancer@champion, following the alias"
"$orrery" serve models:/cancer@champion --port 0 --poll-ms 200 \
  >serve.log 2>&1 &
spid=$!
trap 'kill "$spid" 2>/dev/null || true' EXIT
url=
for _ in $(seq 1 100); do
  url=$(sed -n 's/^listening on //p' serve.log)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat serve.log; exit 1; }
echo "$url"

say "3. production: a new device measures sizes 30% larger"
python3 "$here/stream.py" cancer --out prod.csv --rows 400 --seed 1 \
  --shift 1.3
python3 "$here/send.py" "$url" cancer prod.csv --label malignant \
  --prefix prod
# The labelled batch, as the labelling pipeline would file it.
"$orrery" data add prod.csv --name cancer-prod --target malignant | head -1

say "4. the triggers, and one check of the scheduler"
"$orrery" triggers apply "$here/triggers.lua"
"$orrery" scheduler --once

say "5. the server now answers with the new champion"
sleep 1     # one alias poll
head -3 prod.csv >probe.csv
python3 "$here/send.py" "$url" cancer probe.csv --label malignant \
  --prefix probe --labels 0
"$orrery" runs list --filter "tags.orrery.trigger = 'drift:cancer'"
"$orrery" lineage models:/cancer@champion --up --depth 4

say "6. weather: a new labelled batch (2015) retrains it"
python3 "$here/stream.py" weather --years 2015 --out weather-2.csv
"$orrery" data add weather-2.csv --name weather --target temp_max | head -1
"$orrery" scheduler --once

say "done: $site"
echo "orrery triggers list; orrery monitor report cancer  (in $site)"
