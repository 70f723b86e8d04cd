#!/usr/bin/env bash
# tests/sdk/sdk_test.sh BUILD_DIR TEMPLATE_DIR CMAKE CC
#
# The out-of-tree plugin story, end to end:
#   1. `cmake --install` this build into a temporary prefix;
#   2. configure and build sdk/template against it with only
#      CMAKE_PREFIX_PATH=<prefix> (find_package(OrrerySDK));
#   3. check pkg-config: --variable=plugindir and --cflags (a plain cc
#      build of the template with those flags);
#   4. `cmake --install` the template: it lands in the prefix's plugindir;
#   5. the installed `orrery plugins --json`, with ORRERY_PLUGIN_PATH set
#      to the template's build dir, lists trainer-mean and refuses nothing
#      there.
# Prints "N passed, N failed" like the C tests.
set -u

build=$1 template=$2 cmake=$3 cc=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/orr-sdk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0 failed=0

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1" >&2; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
# run NAME CMD...: run CMD with its output in a log shown on failure.
run() {
    local name=$1; shift
    if "$@" >"$tmp/log" 2>&1; then ok "$name"; return 0; fi
    cat "$tmp/log" >&2; bad "$name"; return 1
}

run install "$cmake" --install "$build" --prefix "$prefix" || finish

cfgdir=$(dirname "$(find "$prefix" -name OrrerySDKConfig.cmake | head -n1)")
if [ -f "$cfgdir/OrrerySDKConfigVersion.cmake" ] &&
   [ -f "$cfgdir/OrreryPlugin.cmake" ] &&
   [ -f "$cfgdir/OrrerySDKTargets.cmake" ] &&
   [ -f "$prefix/include/orrery/orrery.h" ]; then
    ok "package files installed"
else
    bad "package files installed"; finish
fi

# 2. CMake package, out of tree.  Installs into the prefix's plugindir.
run configure "$cmake" -S "$template" -B "$tmp/build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" || finish
run build "$cmake" --build "$tmp/build" || finish
so=$tmp/build/trainer-mean.so
if [ -f "$so" ] &&
   nm -D --defined-only "$so" | grep -q ' orr_plugin_describe$' &&
   [ "$(nm -D --defined-only "$so" | grep -c ' T ')" -eq 1 ]; then
    ok "exports exactly orr_plugin_describe"
else
    nm -D --defined-only "$so" >&2; bad "exports exactly orr_plugin_describe"
fi

# 3. pkg-config.
pcdir=$(dirname "$(find "$prefix" -name orrery-sdk.pc | head -n1)")
export PKG_CONFIG_PATH=$pcdir
plugindir=$(pkg-config --variable=plugindir orrery-sdk)
want=$(realpath -m "$prefix/lib/orrery/plugins")
if [ -n "$plugindir" ] && [ "$(realpath -m "$plugindir")" = "$want" ]; then
    ok "pkg-config plugindir"
else
    echo "plugindir '$plugindir', expected '$want'" >&2
    bad "pkg-config plugindir"
fi
mkdir -p "$tmp/pc"
# shellcheck disable=SC2046
run "cc with pkg-config --cflags" "$cc" -std=c17 -Wall -Wextra -Werror \
    -fPIC -shared -fvisibility=hidden $(pkg-config --cflags orrery-sdk) \
    "$template/mean.c" -o "$tmp/pc/trainer-mean.so"

# 4. The template installs into the SDK's plugin directory.
run "install template" "$cmake" --install "$tmp/build"
if [ -f "$want/trainer-mean.so" ]; then
    ok "installed into plugindir"
else
    bad "installed into plugindir"
fi

# 5. The installed orrery loads it.  Run from an empty directory so no
#    site file is picked up.
mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && env -u ORRERY_SITE XDG_CONFIG_HOME="$tmp/cwd" \
    ORRERY_PLUGIN_PATH="$tmp/build" "$prefix/bin/orrery" plugins --json \
    >"$tmp/plugins.json" 2>"$tmp/plugins.err")
rc=$?
if [ $rc -eq 0 ] && python3 - "$tmp/plugins.json" "$so" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
so = sys.argv[2]
mine = [p for p in doc["plugins"] if p["path"] == so]
assert len(mine) == 1, "trainer-mean not listed: %r" % doc
p = mine[0]
assert p["name"] == "trainer-mean" and p["license"] == "Apache-2.0", p
assert p["abi"] == "1.2", p
b = p["backends"]
assert [(x["kind"], x["name"]) for x in b] == [("trainer", "mean")], b
assert not [r for r in doc["refused"] if r["path"] == so], doc["refused"]
assert so.rsplit("/", 1)[0] in doc["search_path"], doc["search_path"]
EOF
then
    ok "orrery plugins lists trainer-mean"
else
    cat "$tmp/plugins.json" "$tmp/plugins.err" >&2
    bad "orrery plugins lists trainer-mean"
fi

# 6. The install is relocatable: the installed binary finds the plugins
#    installed beside it (no ORRERY_PLUGIN_PATH) and runs a workflow.
cat >"$tmp/cwd/one.lua" <<'LUA'
local orrery = require "orrery"
local wf = orrery.workflow { name = "relocated" }
wf:step("answer", function(ctx) return { answer = 42 } end)
return wf
LUA
if (cd "$tmp/cwd" && env -u ORRERY_SITE -u ORRERY_PLUGIN_PATH \
        XDG_CONFIG_HOME="$tmp/cwd" "$prefix/bin/orrery" run one.lua \
        >"$tmp/run.out" 2>&1) &&
   (cd "$tmp/cwd" && env -u ORRERY_SITE -u ORRERY_PLUGIN_PATH \
        XDG_CONFIG_HOME="$tmp/cwd" "$prefix/bin/orrery" plugins --json) |
   python3 -c '
import json, sys
doc = json.load(sys.stdin)
want = sys.argv[1]
names = {p["name"]: p["path"] for p in doc["plugins"]}
assert names["storage-fs"].startswith(want + "/"), names
assert names["orchestrator-local"].startswith(want + "/"), names
' "$want"
then
    ok "relocated install finds its own plugins"
else
    cat "$tmp/run.out" >&2
    bad "relocated install finds its own plugins"
fi

finish
