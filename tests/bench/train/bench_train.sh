#!/usr/bin/env bash
# tests/bench/train/bench_train.sh - datasets and trainer-linear against
# the tools a user would otherwise use.
#
#   tests/bench/train/bench_train.sh [BUILD_DIR] [CSV_ROWS] [FIT_ROWS]
#
# 1. CSV loading: a numeric CSV of CSV_ROWS x 50 columns + a 0/1 label
#    (default 2,000,000 rows, ~954 MB, values written "%.6f"), loaded by
#    orr_dataset_load_csv (two parts, the default for files >= 16 MiB on
#    two CPUs; best of 3), with one parser, and with every byte through
#    libcsv (the fast path off), read() into a buffer instead of mapped
#    (two parts), against `wc -l` on the same file (best of
#    3, in the same run) and pandas.read_csv (python3-pandas), all warm
#    (the file is read once before), with max RSS (/usr/bin/time); and
#    two parts with the column arrays on huge pages (ORR_BENCH_HUGE=1).  Set
#    CSV_ONLY=1 to stop after this part, SKIP_PANDAS=1 to leave pandas out.
#    (The "within 2x of wc -l" target is measured over many alternating
#    rounds by bench_csv_ratio.sh.)
# 2. Logistic regression on FIT_ROWS x 50 (default 1,000,000) with C = 1:
#    trainer-linear (L-BFGS, 2 threads) against scikit-learn's
#    LogisticRegression(lbfgs) on the same standardised data, time (fit
#    only) and training accuracy.
# 3. Batch prediction through the linear runtime: rows/s for batches of
#    1, 64 and 10,000 rows.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:-$here/build}" && pwd)
csv_rows=${2:-2000000}
fit_rows=${3:-1000000}
drv="$build/tests/bench/train/bench_train"
export ORRERY_PLUGIN_PATH="$build/plugins" ORRERY_SITE=
work=$(mktemp -d "$build/bench-train-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
rss() { /usr/bin/time -f "%M" -o "$work/rss" "$@" >"$work/stdout"; \
        echo "$(( $(cat "$work/rss") / 1024 )) MiB"; }

echo "== CSV loading: $csv_rows x 50 =="
"$drv" gen big.csv "$csv_rows" 50 1
ls -l big.csv | awk '{printf "file %.0f MB\n", $5 / 1e6}'
sync    # the new file's writeback would slow the first timed reads
cat big.csv > /dev/null
best() { sort -n | head -1; }
for i in 1 2 3; do
  t0=$(date +%s.%N); wc -l big.csv >/dev/null; t1=$(date +%s.%N)
  echo "$t1 $t0" | awk '{printf "%.3f\n", $1 - $2}'
done > wc.txt
for i in 1 2 3; do
  m=$(rss "$drv" load big.csv)
  echo "$(sed -n 's/^load_s //p' "$work/stdout") $m"
done > two.txt
wc_s=$(best < wc.txt)
load_s=$(cut -d' ' -f1 two.txt | best)
echo "wc -l                      $wc_s s (best of 3)"
echo "orrery load, two parts     $load_s s (best of 3: $(cut -d' ' -f1 two.txt | tr '\n' ' '))  max RSS $(cut -d' ' -f2 two.txt | sort -n | tail -1) MiB"
echo "ratio load / wc -l         $(echo "scale=2; $load_s / $wc_s" | bc)"
# The same with the column arrays on transparent huge pages (off by
# default: see core/data/colmem.h for why).
for i in 1 2 3; do
  ORR_BENCH_HUGE=1 "$drv" load big.csv | sed -n 's/^load_s //p'
done > huge.txt
echo "orrery load, huge pages    $(best < huge.txt) s (best of 3: $(tr '\n' ' ' < huge.txt))"
# What any loader pays before parsing: reading the file mapped and writing
# the table (rows x 51 doubles, every value), on two threads.
for i in 1 2 3; do
  "$drv" floor big.csv "$csv_rows" 51 | sed -n 's/^floor_s //p'
done > floor.txt
floor_s=$(best < floor.txt)
echo "floor: map + read + table  $floor_s s (best of 3) = $(echo "scale=2; $floor_s / $wc_s" | bc) x wc -l"
m=$(rss "$drv" load big.csv 1)
echo "orrery load, one parser    $(sed -n 's/^load_s //p' "$work/stdout") s  max RSS $m"
m=$(rss "$drv" load big.csv 2 libcsv)
echo "orrery load, libcsv only   $(sed -n 's/^load_s //p' "$work/stdout") s  max RSS $m"
m=$(rss "$drv" load big.csv 2 read)
echo "orrery load, read() no map $(sed -n 's/^load_s //p' "$work/stdout") s  max RSS $m"
if [ "${SKIP_PANDAS:-0}" != 1 ]; then
  m=$(rss /usr/bin/python3 -c '
import time, pandas
t = time.time(); d = pandas.read_csv("big.csv"); print(time.time() - t)')
  echo "pandas.read_csv            $(cat "$work/stdout") s  max RSS $m"
fi
rm big.csv
[ "${CSV_ONLY:-0}" = 1 ] && exit 0

echo "== logistic regression: $fit_rows x 50, C = 1 =="
"$drv" gen fit.csv "$fit_rows" 50 2
"$drv" fit fit.csv 1.0 2 > out.txt
echo "orrery linear    fit $(sed -n 's/^fit_s //p' out.txt) s  train accuracy $(sed -n 's/^train_accuracy //p' out.txt)"
/usr/bin/python3 - <<'PY'
import time, numpy as np, pandas
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
d = pandas.read_csv("fit.csv")
y = d.pop("y").values
X = StandardScaler().fit_transform(d.values)
t = time.time()
m = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-6, max_iter=1000).fit(X, y)
print("sklearn lbfgs    fit %.3f s  train accuracy %.6f  (%d iterations)"
      % (time.time() - t, (m.predict(X) == y).mean(), m.n_iter_[0]))
PY

echo "== batch prediction (linear runtime, 50 inputs) =="
"$drv" predict fit.csv | grep predict_
