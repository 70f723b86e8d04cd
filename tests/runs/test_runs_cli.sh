#!/bin/sh
# tests/runs/test_runs_cli.sh - `orrery runs` and `orrery metrics` on runs
# made by a real workflow; bad input; SIGTERM during a run.
# Usage: test_runs_cli.sh /path/to/orrery /path/to/tests/runs
ORRERY=$1
SRC=$2
. "$(dirname "$0")/../lib/checks.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/orr-cli-runs-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export HOME="$work" XDG_CONFIG_HOME="$work/xdg"
cp "$SRC/track.lua" "$SRC/hang.lua" .

check run 0 "$ORRERY" run track.lua --json
id=$(sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' out.txt)
[ ${#id} -eq 32 ] && ok run-id || bad "run-id '$id'"
check run2 0 "$ORRERY" run track.lua --param depth=6 --json
id2=$(sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' out.txt)
short=$(echo "$id" | cut -c1-8)

check list 0 "$ORRERY" runs list
contains list-id out.txt "$(echo "$id" | cut -c1-12)"
check list-filter 0 "$ORRERY" runs list --filter "params.depth = 6 and tags.team = 'risk' and metrics.auc > 0.9" --json
contains list-filter-id out.txt "$id2"
grep -qF "$id\"" out.txt && bad "list-filter excludes depth 4" || ok "list-filter excludes depth 4"
check list-order 0 "$ORRERY" runs list --order-by params.depth asc --limit 1 --json
contains list-order-first out.txt "$id\""
contains list-order-cursor out.txt '"next_cursor": "'
cur=$(sed -n 's/.*"next_cursor": "\([0-9a-f]*\)".*/\1/p' out.txt)
check list-page2 0 "$ORRERY" runs list --order-by params.depth asc --limit 1 --cursor "$cur" --json
contains list-page2-id out.txt "$id2"
contains list-page2-end out.txt '"next_cursor": null'
check bad-filter 1 "$ORRERY" runs list --filter "metrics.auc > "
contains bad-filter-msg err.txt "filter: column 15: expected a value after '>'"
contains bad-filter-caret err.txt "                ^"
check bad-order 1 "$ORRERY" runs list --order-by "colour"
check inject 0 "$ORRERY" runs list --filter "tags.team = 'risk'' or 1=1 --'"
contains inject-none out.txt "(no runs match the filter)"
check bad-limit 2 "$ORRERY" runs list --limit 0
check bad-cursor 1 "$ORRERY" runs list --cursor zz

check show 0 "$ORRERY" runs show "$short"
contains show-param out.txt "optimizer"
contains show-inf-max out.txt " inf "
contains show-inf out.txt "-inf"
contains show-artifact out.txt "model.txt"
check show-json 0 "$ORRERY" runs show "$id" --json
contains show-json-inf out.txt '"-Infinity"'
check show-unknown 1 "$ORRERY" runs show 00000000
contains show-unknown-msg err.txt "no run 00000000"
check show-notid 1 "$ORRERY" runs show "x'; drop"
check show-usage 2 "$ORRERY" runs show

check compare 0 "$ORRERY" runs compare "$id" "$id2"
contains compare-diff out.txt "* depth"
contains compare-metric out.txt "auc.max"
check compare-json 0 "$ORRERY" runs compare "$id" "$id2" --json
contains compare-json-diff out.txt '"depth"'
check compare-one 2 "$ORRERY" runs compare "$id"

check metrics 0 "$ORRERY" metrics "$short" loss
contains metrics-step out.txt "        49"
check metrics-json 0 "$ORRERY" metrics "$id" weird --json
contains metrics-json-inf out.txt '"-Infinity"'
COLUMNS=60 check metrics-plot 0 "$ORRERY" metrics "$id" loss --plot
contains metrics-plot-axis out.txt "step"
contains metrics-plot-max out.txt "1 ┤"
check metrics-nokey 1 "$ORRERY" metrics "$id" nosuch
contains metrics-nokey-msg err.txt "has no metric 'nosuch'"
long=$(printf '%0300d' 0)
check metrics-longkey 1 "$ORRERY" metrics "$id" "$long"
contains metrics-longkey-msg err.txt "the limit is 250"

# Round trip through another site.
check export 0 "$ORRERY" runs export "$id"
cp out.txt export1.json
mkdir other
cat > other/orrery.site.lua <<'LUA'
metadata = { path = "meta.db" }
LUA
(cd other && "$ORRERY" runs import ../export1.json >../out.txt 2>../err.txt)
[ $? -eq 0 ] && ok import || { bad import; cat err.txt; }
(cd other && "$ORRERY" runs export "$id" >../export2.json 2>../err.txt)
cmp -s export1.json export2.json && ok round-trip || bad round-trip
(cd other && "$ORRERY" runs import ../export1.json >../out.txt 2>../err.txt)
[ $? -eq 1 ] && ok import-again || bad import-again
contains import-again-msg err.txt "exists already"
echo '{"nope": 1}' > junk.json
check import-junk 1 "$ORRERY" runs import junk.json
contains import-junk-msg err.txt "not an Orrery run export"
echo '{' > broken.json
check import-broken 1 "$ORRERY" runs import broken.json

# SIGTERM in the middle of a step: points committed, run cancelled.
"$ORRERY" run hang.lua --param ready="$work/ready" >hang.out 2>hang.err &
pid=$!
i=0
while [ ! -f ready ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
kill -TERM $pid
wait $pid
st=$?
[ $st -eq 143 ] && ok "sigterm-status" || bad "sigterm-status ($st)"
check hang-list 0 "$ORRERY" runs list --filter "workflow = 'hang'" --json
contains hang-cancelled out.txt '"status": "cancelled"'
hid=$(sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' out.txt | head -1)
check hang-points 0 "$ORRERY" runs show "$hid" --json
contains hang-500 out.txt '"n": 500'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
