#!/usr/bin/env bash
# tests/bench/xgboost/bench_xgboost.sh BUILD_DIR [ROWS] [ROUNDS] [THREADS]
#
# XGBoost training through Orrery (trainer-xgboost via the real loader)
# vs python3-xgboost (Debian, the same libxgboost) on the same synthetic
# classification set (ROWS x 50, default 200,000) and params (max_depth 6,
# eta 0.1, hist, ROUNDS rounds, THREADS threads), then the runtime's batch
# prediction rows/s.  Fit times exclude loading the data in both.
set -euo pipefail
build=$(cd "$1" && pwd)
rows=${2:-200000}
rounds=${3:-100}
threads=${4:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ORRERY_SITE= ORRERY_PLUGIN_PATH="$build/plugins"
cd "$tmp"
/usr/bin/python3 - "$rows" > data.csv <<'PY'
import sys
import numpy as np
n, d = int(sys.argv[1]), 50
rng = np.random.default_rng(1)
X = rng.standard_normal((n, d))
w = rng.standard_normal(d)
y = (X @ w + 0.5 * X[:, 0] * X[:, 1] + rng.standard_normal(n) > 0)
out = sys.stdout
out.write(",".join(f"x{j}" for j in range(d)) + ",y\n")
np.savetxt(out, np.column_stack([X, y]), fmt="%.9g", delimiter=",")
PY
echo "== $rows x 50, $rounds rounds, $threads threads"
for i in 1 2 3; do
  "$build/tests/bench/xgboost/bench_xgboost" data.csv "$rounds" "$threads" |
    sed "s/^/orrery run $i: /"
done
/usr/bin/python3 - "$rounds" "$threads" <<'PY'
import sys, time
import numpy as np
import xgboost as xgb
rounds, threads = int(sys.argv[1]), int(sys.argv[2])
a = np.loadtxt("data.csv", delimiter=",", skiprows=1)
X, y = a[:, :-1], a[:, -1]
p = {"max_depth": 6, "eta": 0.1, "objective": "binary:logistic",
     "tree_method": "hist", "nthread": threads, "seed": 0}
for i in (1, 2, 3):
    t = time.perf_counter()
    d = xgb.DMatrix(X, label=y, missing=np.nan, nthread=threads)
    xgb.train(p, d, num_boost_round=rounds)
    t1 = time.perf_counter() - t
    t = time.perf_counter()
    d = xgb.DMatrix(X, label=y, missing=np.nan, nthread=threads)
    xgb.train(p, d, num_boost_round=rounds, evals=[(d, "train")],
              verbose_eval=False)
    t2 = time.perf_counter() - t
    print(f"python run {i}: fit_s {t1:.3f}  with train eval {t2:.3f}")
PY
