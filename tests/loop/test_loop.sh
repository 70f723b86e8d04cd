#!/bin/sh
# tests/loop/test_loop.sh - the continuous-training loop end to end, with
# the files of examples/continuous-training: drift is detected, a retrain
# runs, its gate moves cancer@champion, the server (following the alias)
# answers with the new version, and it is all in lineage.  The server runs
# on a free loopback port and is stopped by PID.  No timing assertions:
# every wait polls observable state with a bound.
# Usage: test_loop.sh /path/to/orrery /path/to/source
ORRERY=$1
ROOT=$2
EX="$ROOT/examples/continuous-training"
. "$(dirname "$0")/../lib/checks.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-loop-XXXXXX") || exit 1
spid=
trap '[ -n "$spid" ] && kill -TERM "$spid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1
export HOME="$work" XDG_CONFIG_HOME="$work/xdg"

# 1. The first champion, with its reference profile.
check data-train 0 "$ORRERY" data add "$ROOT/examples/data/breast_cancer.csv" \
    --name cancer-train --target malignant
check train 0 "$ORRERY" run "$EX/train.lua" \
    --param dataset=datasets:/cancer-train
contains train-champion out.txt "registered models:/cancer/1 as cancer@champion"
lacks train-profile out.txt "profile not computed"

# 2. The production stream: a new device measures sizes 30% larger.  Its
#    labelled rows become datasets:/cancer-prod/1.
check stream 0 python3 "$EX/stream.py" cancer --out prod.csv --rows 400 \
    --seed 1 --shift 1.3
check data-prod 0 "$ORRERY" data add prod.csv --name cancer-prod \
    --target malignant
prod_digest=$(sed -n 's/^datasets:\/cancer-prod\/1  //p' out.txt)
if [ -n "$prod_digest" ]; then ok prod-digest; else bad prod-digest; fi

# 3. Serve the champion, following the alias.
"$ORRERY" serve models:/cancer@champion --port 0 --poll-ms 100 \
    >serve.txt 2>&1 &
spid=$!
i=0
url=
while [ $i -lt 300 ] && [ -z "$url" ]; do
    url=$(sed -n 's/^listening on //p' serve.txt)
    kill -0 "$spid" 2>/dev/null || break
    [ -z "$url" ] && sleep 0.1
    i=$((i + 1))
done
if [ -n "$url" ]; then ok serving; else bad serving; cat serve.txt; fi

# Before any traffic: the drift trigger's window has no data, which is
# reported and fires nothing.
check apply-early 0 "$ORRERY" triggers apply "$EX/triggers.lua"
check tick-0 0 "$ORRERY" scheduler --once
contains tick-0-nodata out.txt "trigger 'drift:cancer' (drift): window"
contains tick-0-nodata-why out.txt "no_data"
lacks tick-0-none out.txt "started"

# 4. The shifted traffic with request ids, then its late labels.
check traffic 0 python3 "$EX/send.py" "$url" cancer prod.csv \
    --label malignant --prefix shifted
contains traffic-v1 out.txt "sent 400 requests (version 1: 400); posted 400 labels"

# 5. One scheduler check: drift, retrain, gate, alias.
check apply 0 "$ORRERY" triggers apply "$EX/triggers.lua"
contains apply-drift out.txt "trigger 'drift:cancer' unchanged: on drift cancer"
check tick 0 "$ORRERY" scheduler --once
contains tick-drift out.txt "trigger 'drift:cancer' run of retrain.lua (drift on cancer version 1: drift_share"
contains tick-promoted out.txt "promoted models:/cancer/2 to cancer@champion"
contains tick-ok out.txt "trigger 'drift:cancer' run of retrain.lua (drift on cancer version 1"
contains tick-succeeded out.txt "): succeeded"
check champion 0 "$ORRERY" models show cancer@champion --json
contains champion-v2 out.txt '"version": 2'

# 6. The server follows the alias: poll (bounded) until version 2 answers.
head -3 prod.csv >probe.csv
i=0
answered=
while [ $i -lt 300 ]; do
    python3 "$EX/send.py" "$url" cancer probe.csv --label malignant \
        --prefix probe-$i --labels 0 >probe.txt 2>&1
    if grep -qF "version 2: 2" probe.txt; then answered=1; break; fi
    sleep 0.1
    i=$((i + 1))
done
if [ -n "$answered" ]; then ok server-v2; else bad server-v2; cat probe.txt serve.txt; fi
kill -TERM "$spid"
wait "$spid"
src=$?
spid=
if [ "$src" -eq 0 ]; then ok server-stopped; else bad "server-stopped ($src)"; fi

# 7. Why and from what: the run is tagged with the trigger and the
#    reason; lineage of the new version reaches the production data and
#    that run.
check tagged 0 "$ORRERY" runs list --filter "tags.orrery.trigger = 'drift:cancer'" --json
run=$(python3 -c 'import json,sys; r=json.load(open("out.txt"))["runs"]; print(r[0]["id"] if len(r)==1 else "")')
if [ -n "$run" ]; then ok tagged-one; else bad tagged-one; cat out.txt; fi
check show 0 "$ORRERY" runs show "$run"
contains show-reason out.txt "orrery.trigger.reason  drift on cancer version 1: drift_share"
contains show-param out.txt "datasets:/cancer-prod/1"
check lineage 0 "$ORRERY" lineage models:/cancer/2 --up --json
contains lineage-data out.txt "$prod_digest"
contains lineage-run out.txt "$run"
check lineage-down 0 "$ORRERY" lineage "$prod_digest" --down
contains lineage-down-model out.txt "models:/cancer/2"

# 8. Nothing repeats: the next check neither retrains version 1 again
#    nor starts a run for what it already acted on.
check tick-2 0 "$ORRERY" scheduler --once
lacks tick-2-none out.txt "started"
contains tick-2-why out.txt "already acted on, waiting for newer traffic"
check tagged-2 0 "$ORRERY" runs list --filter "tags.orrery.trigger = 'drift:cancer'" --json
n=$(grep -c '"workflow": "retrain"' out.txt)
if [ "$n" -eq 1 ]; then ok one-retrain; else bad "one-retrain: $n"; fi

# 9. The gate keeps a champion that the candidate does not beat.
check keep 0 "$ORRERY" triggers run drift:cancer \
    --param dataset=datasets:/cancer-prod/1 --param min_delta=1
contains keep-msg out.txt "kept cancer@champion v2"
check champion-2 0 "$ORRERY" models show cancer@champion --json
contains champion-still-v2 out.txt '"version": 2'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
