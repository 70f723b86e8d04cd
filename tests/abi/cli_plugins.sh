#!/usr/bin/env bash
# tests/abi/cli_plugins.sh ORRERY FIXTURE_DIR
#
# `orrery plugins` as a user sees it, over the ABI fixtures: the good
# plugins and the in-tree ones are listed, every bad fixture is listed as
# refused with its file and reason, the text and --json forms agree, exit
# status is 0 (it is a report) and 2 on bad usage.
set -u
orrery=$1 fixtures=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/orr-cli-plugins-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export XDG_CONFIG_HOME=$tmp ORRERY_PLUGIN_PATH=$fixtures
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1" >&2; failed=$((failed + 1)); }

"$orrery" plugins >text.out 2>text.err; rc=$?
[ $rc -eq 0 ] && ok "exit 0 with refusals" || bad "exit 0 with refusals (got $rc)"
for want in "abi-again" "abi-major.so" "ABI major 2" "abi-nosym.so" \
            "no orr_plugin_describe symbol" "mandatory member 'get' is NULL" \
            "storage-fs"; do
  grep -qF -- "$want" text.out && ok "text lists '$want'" ||
    { cat text.out >&2; bad "text lists '$want'"; }
done

"$orrery" plugins --json >json.out 2>json.err; rc=$?
if [ $rc -eq 0 ] && python3 - json.out "$fixtures" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fixtures = sys.argv[2]
assert fixtures in doc["search_path"], doc["search_path"]
names = {p["name"] for p in doc["plugins"]}
assert "abi-again" in names and "storage-fs" in names, names
refused = {r["path"].rsplit("/", 1)[1]: r for r in doc["refused"]}
for f, why in [("abi-major.so", "ABI major 2"),
               ("abi-minor.so", "is newer than this orrery's"),
               ("abi-nosym.so", "no orr_plugin_describe symbol"),
               ("abi-noname.so", "name"),
               ("abi-nullslot.so", "mandatory member 'get' is NULL"),
               ("abi-newvt.so", "version"),
               ("abi-initfail.so", "init"),
               # Loaded in sorted order: abi-abigood-again.so took the
               # backend name first.
               ("abi-good.so", "'abigood' is already registered")]:
    assert f in refused, (f, sorted(refused))
    assert why in refused[f]["reason"], (f, refused[f])
    assert refused[f]["code"] != 0, refused[f]
# A refused plugin contributes no backend.
for p in doc["plugins"]:
    assert p["path"].rsplit("/", 1)[1] not in refused, p
PY
then ok "--json lists plugins and refusals"; else cat json.out >&2; bad "--json lists plugins and refusals"; fi

"$orrery" plugins --bogus >/dev/null 2>usage.err; rc=$?
[ $rc -eq 2 ] && ok "bad usage exits 2" || bad "bad usage exits 2 (got $rc)"
"$orrery" plugins --help >help.out 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q -- "--json" help.out && ok "--help" || bad "--help"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
