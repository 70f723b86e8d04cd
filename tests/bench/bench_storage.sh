#!/usr/bin/env bash
# tests/bench/bench_storage.sh - storage-fs throughput against the tools a
# user would otherwise use.
#
#   tests/bench/bench_storage.sh [BUILD_DIR] [SIZE_MIB]      (default 1024)
#
# On one file of SIZE_MIB random bytes, in a temporary directory inside
# BUILD_DIR (same disk as the store), measures in the same run:
#   baseline   `sha256sum file` + `cp file copy` (the sum of both times)
#   put        storage-fs put_file of the file (hash, copy, fsync, rename)
#   get        storage-fs get_file of the blob (copy, verify, fsync, rename)
#   put/get (stream)  the same through the streaming callbacks
#   (openssl dgst -sha256 + cp: a SHA-NI-speed hash, for reference)
# Each 3 times; the median is reported with MB/s, the ratio to the
# baseline, and the maximum RSS (/usr/bin/time).  Nothing is dropped from
# the page cache: the file is read once beforehand so every contender
# starts warm, and `sync` runs before each measurement so nobody pays for
# an earlier one's dirty pages.  The target is put and get >= 0.8x the
# baseline with flat memory.  Note that put and get fsync their result,
# which the baseline's cp does not.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
size_mib=${2:-1024}
driver="$build/tests/bench/bench_storage_driver"
plugin="$build/plugins/storage-fs.so"
. "$here/scripts/deps.sh"
orr_install_packages time
for f in "$driver" "$plugin"; do
  [ -e "$f" ] || { echo "missing $f: build first" >&2; exit 1; }
done

work=$(mktemp -d "$build/bench-storage.XXXXXX")
trap 'rm -rf "$work"' EXIT
file="$work/file"
head -c $((size_mib << 20)) /dev/urandom >"$file"
cat "$file" >/dev/null

# timed CMD... : run once after a sync; sets T (seconds) and RSS (KiB).
timed() {
  sync
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >"$work/out"
  t1=$(date +%s%N)
  T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
  RSS=$(tail -n 1 "$work/rss")
}

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
maxof() { printf '%s\n' "$@" | sort -g | tail -n 1; }
mbps() { awk -v s="$size_mib" -v t="$1" 'BEGIN { printf "%.0f", s * 1.048576 / t }'; }

base_t=() base_rss=() ossl_t=() ossl_rss=()
put_t=() put_rss=() get_t=() get_rss=()
sput_t=() sput_rss=() sget_t=() sget_rss=()
for run in 1 2 3; do
  rm -f "$work/copy"
  timed sha256sum "$file"; a=$T; ra=$RSS
  timed cp "$file" "$work/copy"; b=$T; rb=$RSS
  base_t+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print a + b }')")
  base_rss+=("$(maxof "$ra" "$rb")")
  rm -f "$work/copy"
  if command -v openssl >/dev/null; then
    timed openssl dgst -sha256 "$file"; a=$T; ra=$RSS
    timed cp "$file" "$work/copy"; b=$T; rb=$RSS
    ossl_t+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print a + b }')")
    ossl_rss+=("$(maxof "$ra" "$rb")")
    rm -f "$work/copy"
  fi

  rm -rf "$work/store"
  timed "$driver" "$plugin" "$work/store" put "$file"
  put_t+=("$T"); put_rss+=("$RSS"); digest=$(cat "$work/out")
  rm -f "$work/out.bin"
  timed "$driver" "$plugin" "$work/store" get "$digest" "$work/out.bin"
  get_t+=("$T"); get_rss+=("$RSS")
  cmp -s "$file" "$work/out.bin" || { echo "get returned other bytes" >&2; exit 1; }
  rm -f "$work/out.bin"

  rm -rf "$work/store"
  timed "$driver" "$plugin" "$work/store" put-stream "$file"
  sput_t+=("$T"); sput_rss+=("$RSS")
  timed "$driver" "$plugin" "$work/store" get-stream "$digest" "$work/out.bin"
  sget_t+=("$T"); sget_rss+=("$RSS")
  rm -f "$work/out.bin"
done
rm -rf "$work/store"

bt=$(median3 "${base_t[@]}")
report() { # name times... -- rss...
  local name=$1 t r
  shift
  t=$(median3 "$1" "$2" "$3"); r=$(maxof "$4" "$5" "$6")
  printf '%-22s %7.3f s %6s MB/s  %5.2fx baseline  max RSS %6d KiB\n' \
    "$name" "$t" "$(mbps "$t")" "$(awk -v a="$bt" -v b="$t" 'BEGIN { print a / b }')" "$r"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "disk:    $(df -T "$work" | awk 'NR==2 { print $2 " on " $1 }'); file ${size_mib} MiB; median of 3"
echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
report "sha256sum + cp" "${base_t[@]}" "${base_rss[@]}"
[ ${#ossl_t[@]} -eq 3 ] &&
  report "(openssl sha256 + cp)" "${ossl_t[@]}" "${ossl_rss[@]}"
report "storage-fs put" "${put_t[@]}" "${put_rss[@]}"
report "storage-fs get" "${get_t[@]}" "${get_rss[@]}"
report "put (stream callbacks)" "${sput_t[@]}" "${sput_rss[@]}"
report "get (stream callbacks)" "${sget_t[@]}" "${sget_rss[@]}"
