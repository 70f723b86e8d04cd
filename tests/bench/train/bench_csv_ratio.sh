#!/usr/bin/env bash
# tests/bench/train/bench_csv_ratio.sh - issue #5's "within 2x of wc -l"
# target, measured over many alternating rounds.
#
#   tests/bench/train/bench_csv_ratio.sh [BUILD_DIR] [BEFORE_BUILD_DIR]
#
# The file is bench_train.sh's: 2,000,000 x 50 values written "%.6f" plus
# a 0/1 label (954 MB).  Set CSV_FILE=PATH to keep it there and reuse it
# across runs (made if missing); without, it is made in a temporary
# directory and removed at the end.  The page cache is warmed (cat), then
# ROUNDS rounds (default 11) each run, in an order that rotates from round
# to round:
#   wc    `wc -l FILE`, wall time of the process;
#   load  `bench_train load FILE` of BUILD_DIR: orr_dataset_load_csv, two
#         parts (the default), timed inside the process as bench_train.sh
#         times it (load_s: the call alone, not exec or exit);
#   prev  the same with BEFORE_BUILD_DIR's bench_train, when given;
#   floor `bench_train floor FILE`: the file mapped and read, and a table
#         of the same shape written, as the loader does, with no parsing
#         (what any loader pays on this machine before it parses a byte);
#   table `bench_train floor FILE 2000000 51 table`: that table alone, the
#         file unread (its memory: fresh pages, faulted in and written).
# CSV_REREAD=1 first drops the file's pages from the page cache (its own
# pages only: dd iflag=nocache) and reads it back from disk.  A file just
# written sits in the page cache in 4 KiB pages; read back from disk, in
# large folios (up to 2 MiB), which makes both `wc -l` and the loader's
# mapping cheaper (docs/BENCHMARKS.md, session 7): measure both states.
# Each round prints its times, the loaders' ratios to that round's wc, and
# the loader processes' whole wall time and max RSS; then the medians, the
# min and max ratios and the largest max RSS.  One slow `wc -l` (the
# host's noise moves it between 0.17 and 0.29 s) decides one round only.
# Run it under the machine's lock (flock /tmp/orr-cpu.lock ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
before=${2:+$(cd "$2" && pwd)}
rounds=${ROUNDS:-11}
drv="$build/tests/bench/train/bench_train"
prev="${before:+$before/tests/bench/train/bench_train}"
for d in "$drv" ${prev:+"$prev"}; do
  [ -x "$d" ] || { echo "no $d (build bench_train first)" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-csv-ratio-XXXXXX")
trap 'rm -rf "$work"' EXIT
file=${CSV_FILE:-$work/big.csv}
if [ ! -s "$file" ]; then
  "$drv" gen "$file" 2000000 50 1
  sync    # the new file's writeback would slow the first timed reads
fi
if [ "${CSV_REREAD:-0}" = 1 ]; then
  dd if="$file" iflag=nocache count=0 status=none
  state="read back from disk"
else
  state="as it is in the page cache"
fi
ls -l "$file" | awk -v s="$state" \
  '{printf "file %s, %.0f MB, %s\n", $9, $5 / 1e6, s}'
cat "$file" > /dev/null; cat "$file" > /dev/null      # warm

# secs CMD...: the command's wall time (bash's clock, no fork around it)
secs() {
  local t0=$EPOCHREALTIME
  "$@" > "$work/out"
  local t1=$EPOCHREALTIME
  echo "$t1 $t0" | awk '{printf "%.3f", $1 - $2}'
}
# run_load DRIVER: "load_s proc_s rss_MiB"
run_load() {
  local p
  p=$(secs /usr/bin/time -f %M -o "$work/rss" "$1" load "$file")
  local l
  l=$(sed -n 's/^load_s //p' "$work/out")
  [ -n "$l" ] || { echo "$1 load failed" >&2; exit 1; }
  echo "$l $p $(( $(cat "$work/rss") / 1024 ))"
}

names=(wc floor table load)
[ -n "$prev" ] && names+=(prev)
n=${#names[@]}
printf '%-5s %-16s %6s %6s %7s %6s %6s %7s %7s %7s\n' round order wc \
  load ratio proc RSS prev ratio proc
: > "$work/rows"
for ((r = 1; r <= rounds; r++)); do
  order=()
  for ((k = 0; k < n; k++)); do order+=("${names[(r - 1 + k) % n]}"); done
  wc_s= load= prv= fl_s= tb_s=
  for what in "${order[@]}"; do
    case $what in
      wc)   wc_s=$(secs wc -l "$file") ;;
      floor) fl_s=$("$drv" floor "$file" 2000000 51 |
                    sed -n 's/^floor_s //p') ;;
      table) tb_s=$("$drv" floor "$file" 2000000 51 table |
                    sed -n 's/^floor_s //p') ;;
      load) load=$(run_load "$drv") ;;
      prev) prv=$(run_load "$prev") ;;
    esac
  done
  read -r l_s l_p l_m <<< "$load"
  l_r=$(awk -v a="$l_s" -v b="$wc_s" 'BEGIN {printf "%.2f", a / b}')
  p_s=- p_r=- p_p=- p_m=0
  if [ -n "$prv" ]; then
    read -r p_s p_p p_m <<< "$prv"
    p_r=$(awk -v a="$p_s" -v b="$wc_s" 'BEGIN {printf "%.2f", a / b}')
  fi
  printf '%-5s %-16s %6s %6s %6sx %6s %6s %7s %6sx %7s\n' "$r" \
    "$(IFS=,; echo "${order[*]}")" "$wc_s" "$l_s" "$l_r" "$l_p" \
    "$l_m" "$p_s" "$p_r" "$p_p"
  [ -n "$fl_s" ] && [ -n "$tb_s" ] || { echo "floor failed" >&2; exit 1; }
  t_r=$(awk -v a="$tb_s" -v b="$wc_s" 'BEGIN {printf "%.2f", a / b}')
  f_r=$(awk -v a="$fl_s" -v b="$wc_s" 'BEGIN {printf "%.2f", a / b}')
  lf_r=$(awk -v a="$l_s" -v b="$fl_s" 'BEGIN {printf "%.2f", a / b}')
  printf '%-5s floor %6s  floor / wc %5sx  load / floor %5sx' "" "$fl_s" \
    "$f_r" "$lf_r"
  printf '  table %6s  table / wc %5sx\n' "$tb_s" "$t_r"
  echo "$wc_s $l_s $l_r $l_m $p_s $p_r $p_m $fl_s $f_r $lf_r $tb_s $t_r" \
    >> "$work/rows"
done

# median / min / max of column k of the rows
stat() {
  awk -v k="$1" '{print $k}' "$work/rows" | sort -g | awk '
    {v[NR] = $1}
    END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
         printf "%.3f (min %.3f, max %.3f)", m, v[1], v[NR]}'
}
echo "== $rounds rounds =="
echo "wc -l              median $(stat 1) s"
echo "load               median $(stat 2) s"
echo "load / wc -l       median $(stat 3)"
echo "floor              median $(stat 8) s"
echo "floor / wc -l      median $(stat 9)"
echo "load / floor       median $(stat 10)"
echo "table alone        median $(stat 11) s"
echo "table / wc -l      median $(stat 12)"
echo "load max RSS       $(awk '{print $4}' "$work/rows" | sort -n |
                           tail -1) MiB"
if [ -n "$prev" ]; then
  echo "before             median $(stat 5) s"
  echo "before / wc -l     median $(stat 6)"
  echo "before max RSS     $(awk '{print $7}' "$work/rows" | sort -n |
                             tail -1) MiB"
fi
