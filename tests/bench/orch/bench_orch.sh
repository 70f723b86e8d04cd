#!/usr/bin/env bash
# tests/bench/orch/bench_orch.sh ORRERY_BIN [N] - the DAG runner against
# GNU make -j2 (and Snakemake -j2 when `snakemake` is on PATH: Debian's
# package) on the same shapes: no-op steps that each touch a file.
#   chain of N, fan-out/fan-in of N, re-run with everything cached /
#   up to date, and a 10*N-step chain (linear growth check).
# Prints one line per measurement; per-step overhead = wall time / steps.
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
n=${2:-1000}
export ORRERY_SITE=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# Storage durability (fsync per blob) is measured separately in
# bench_storage; here blobs go to the page cache like make's touch.
cat > orrery.site.lua <<'LUA'
storage = { backend = "fs", fsync = false }
LUA

gen_lua() {     # gen_lua SHAPE N FILE
  cat > "$3" <<LUA
local wf = require("orrery").workflow { name = "$1-$2", params = { dir = "$tmp/out" } }
local function touch(ctx, i)
  local f = assert(io.open(ctx.params.dir .. "/" .. i, "w")); f:close()
end
local prev
local ends = {}
for i = 1, $2 do
  local inputs = {}
  if "$1" == "chain" and prev then inputs = { prev } end
  if "$1" == "fan" and i > 1 then inputs = { ends[1] } end
  local s = wf:step("s" .. i, inputs, function(ctx) touch(ctx, i) end)
  prev = s
  ends[#ends + 1] = s
end
if "$1" == "fan" then
  local all = {}
  for i = 2, #ends do all[#all + 1] = ends[i] end
  wf:step("join", all, function(ctx) touch(ctx, "join") end)
end
return wf
LUA
}

gen_make() {    # gen_make SHAPE N FILE
  {
    echo "D := $tmp/mk"
    if [ "$1" = chain ]; then
      echo "all: \$(D)/$2"
      echo "\$(D)/1: ; @mkdir -p \$(D) && touch \$@"
      for i in $(seq 2 "$2"); do echo "\$(D)/$i: \$(D)/$((i - 1)) ; @touch \$@"; done
    else
      echo "all: \$(D)/join"
      echo "\$(D)/1: ; @mkdir -p \$(D) && touch \$@"
      printf '$(D)/join:'
      for i in $(seq 2 "$2"); do printf ' $(D)/%d' "$i"; done
      echo " ; @touch \$@"
      for i in $(seq 2 "$2"); do echo "\$(D)/$i: \$(D)/1 ; @touch \$@"; done
    fi
  } > "$3"
}

gen_smk() {     # gen_smk SHAPE N FILE (Snakemake, when installed)
  # A chain is a deep recursion in Snakemake's DAG building.
  printf 'import sys\nsys.setrecursionlimit(100000)\n' > "$3"
  if [ "$1" = chain ]; then
    cat >> "$3" <<SMK
rule all:
    input: "sm/$2"
rule first:
    output: "sm/1"
    shell: "touch {output}"
rule step:
    input: lambda w: "sm/%d" % (int(w.i) - 1)
    output: "sm/{i}"
    wildcard_constraints: i="[0-9]+"
    shell: "touch {output}"
ruleorder: first > step
SMK
  else
    cat >> "$3" <<SMK
rule all:
    input: "sf/join"
rule root:
    output: "sf/1"
    shell: "touch {output}"
rule leaf:
    input: "sf/1"
    output: "sf/{i}"
    wildcard_constraints: i="[0-9]+"
    shell: "touch {output}"
ruleorder: root > leaf
rule join:
    input: expand("sf/{i}", i=range(2, $2 + 1))
    output: "sf/join"
    shell: "touch {output}"
SMK
  fi
}

ms() { python3 -c "import sys; print('%.1f' % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }
t() { date +%s.%N; }
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

mkdir -p out
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in chain fan; do
  gen_lua $shape "$n" $shape.lua
  gen_make $shape "$n" $shape.mk
  steps=$n; [ $shape = fan ] && steps=$((n + 1))
  a=$(t); "$bin" run $shape.lua --quiet --jobs 2 --no-cache >/dev/null; b=$(t)
  w=$(ms "$a" "$b")
  echo "orrery $shape of $steps: $w ms ($(python3 -c "print('%.3f' % ($w / $steps))") ms/step)"
  a=$(t); "$bin" run $shape.lua --quiet --jobs 2 >/dev/null; b=$(t)
  echo "orrery $shape of $steps, all cached: $(ms "$a" "$b") ms"
  rm -rf mk
  a=$(t); make -s -j2 -f $shape.mk; b=$(t)
  w=$(ms "$a" "$b")
  echo "make -j2 $shape of $steps: $w ms ($(python3 -c "print('%.3f' % ($w / $steps))") ms/step)"
  a=$(t); make -s -j2 -f $shape.mk >/dev/null; b=$(t)
  echo "make -j2 $shape of $steps, up to date: $(ms "$a" "$b") ms"
  if command -v snakemake >/dev/null; then
    gen_smk $shape "$n" $shape.smk
    rm -rf sm sf .snakemake
    a=$(t); snakemake -s $shape.smk -j2 --quiet >smk.log 2>&1 ||
      { echo "snakemake failed:"; tail -3 smk.log; }; b=$(t)
    w=$(ms "$a" "$b")
    echo "snakemake -j2 $shape of $steps: $w ms ($(python3 -c "print('%.3f' % ($w / $steps))") ms/step)"
    a=$(t); snakemake -s $shape.smk -j2 --quiet >/dev/null 2>&1; b=$(t)
    echo "snakemake -j2 $shape of $steps, up to date: $(ms "$a" "$b") ms"
  fi
done
for m in 1 10; do
  big=$((n * m))
  gen_lua chain $big big$m.lua
  a=$(t); kb=$(rss "$bin" run big$m.lua --quiet --jobs 2 --no-cache); b=$(t)
  echo "orrery chain of $big: $(ms "$a" "$b") ms, max RSS $kb KiB"
done
