#!/usr/bin/env bash
# tests/bench/train/bench_train.sh - datasets and trainer-linear against
# the tools a user would otherwise use.
#
#   tests/bench/train/bench_train.sh [BUILD_DIR] [CSV_ROWS] [FIT_ROWS]
#
# 1. CSV loading: a numeric CSV of CSV_ROWS x 50 columns (default
#    2,000,000 rows, ~1 GB), loaded by orr_dataset_load_csv with one
#    parser and with two parts (the default for files >= 16 MiB on two
#    CPUs), against `wc -l` on the same file and pandas.read_csv
#    (python3-pandas), each warm (the file is read once before), with max
#    RSS (/usr/bin/time).  Set CSV_ONLY=1 to stop after this part.
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
cat big.csv > /dev/null
t0=$(date +%s.%N); wc -l big.csv >/dev/null; t1=$(date +%s.%N)
echo "wc -l            $(echo "$t1 - $t0" | bc) s"
for i in 1 2; do
  m=$(rss "$drv" load big.csv 1)
  echo "orrery load, one parser   $(sed -n 's/^load_s //p' "$work/stdout") s  max RSS $m"
  m=$(rss "$drv" load big.csv)
  echo "orrery load, two parts    $(sed -n 's/^load_s //p' "$work/stdout") s  max RSS $m"
  t0=$(date +%s.%N); wc -l big.csv >/dev/null; t1=$(date +%s.%N)
  echo "wc -l                     $(echo "$t1 - $t0" | bc) s"
done
m=$(rss /usr/bin/python3 -c '
import time, pandas
t = time.time(); d = pandas.read_csv("big.csv"); print(time.time() - t)')
echo "pandas.read_csv  $(cat "$work/stdout") s  max RSS $m"
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
