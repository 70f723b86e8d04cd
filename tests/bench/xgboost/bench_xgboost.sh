#!/usr/bin/env bash
# tests/bench/xgboost/bench_xgboost.sh BUILD_DIR [ROWS] [ROUNDS] [THREADS] [RUNS]
#
# XGBoost training through Orrery (trainer-xgboost via the real loader)
# vs python3-xgboost (Debian, the same libxgboost) on the same synthetic
# classification set (ROWS x 50, default the issue's 1,000,000) and params
# (max_depth 6, eta 0.1, hist, ROUNDS rounds, THREADS threads), RUNS times
# each (default 2): Orrery with the per-round training metric (default)
# and with eval_train = false, python with evals=[train] and without.
# Fit times (wall) exclude loading the data in both; the contenders
# alternate run by run.  Then batch prediction rows/s on one thread for 1,
# 64 and 10,000-row batches: the runtime's native evaluator, the runtime
# through the C API, and python3-xgboost's Booster.inplace_predict (its
# fastest path), each per second of the thread's CPU time.
set -euo pipefail
build=$(cd "$1" && pwd)
rows=${2:-1000000}
rounds=${3:-100}
threads=${4:-2}
runs=${5:-2}
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
echo "== $rows x 50, $rounds rounds, $threads threads, $runs runs"
# One python process loads the data once and alternates the contenders
# run by run, so load from elsewhere on the machine hits them alike.
/usr/bin/python3 - "$rounds" "$threads" "$runs" \
    "$build/tests/bench/xgboost/bench_xgboost" <<'PY'
import subprocess, sys, time
import numpy as np
import pandas
import xgboost as xgb
rounds, threads, runs = (int(v) for v in sys.argv[1:4])
drv = sys.argv[4]
a = pandas.read_csv("data.csv", float_precision="round_trip").values
X, y = np.ascontiguousarray(a[:, :-1]), a[:, -1]
p = {"max_depth": 6, "eta": 0.1, "objective": "binary:logistic",
     "tree_method": "hist", "nthread": threads, "seed": 0}


def orrery(eval_train):
    out = subprocess.run([drv, "data.csv", str(rounds), str(threads),
                          eval_train], check=True, capture_output=True,
                         text=True).stdout
    return out


def py(evals):
    t = time.perf_counter()
    d = xgb.DMatrix(X, label=y, missing=np.nan, nthread=threads)
    bst = xgb.train(p, d, num_boost_round=rounds,
                    evals=[(d, "train")] if evals else (),
                    verbose_eval=False)
    return time.perf_counter() - t, bst


last = ""
for i in range(1, runs + 1):
    out = orrery("1")
    o1 = float(out.split("fit_s ")[1].split()[0])
    last = out
    p1, _ = py(True)
    o0 = float(orrery("0").split("fit_s ")[1].split()[0])
    p0, bst = py(False)
    print(f"run {i}: train eval every round: orrery {o1:.2f} s, python "
          f"{p1:.2f} s ({100 * (o1 / p1 - 1):+.1f}%);  no train eval: "
          f"orrery (eval_train = false) {o0:.2f} s, python {p0:.2f} s "
          f"({100 * (o0 / p0 - 1):+.1f}%)", flush=True)
print("orrery batch prediction, one thread (rows/s of thread CPU time):")
print("".join("  " + l + "\n" for l in last.splitlines() if "predict" in l),
      end="")
# python3-xgboost's fastest path, one thread, thread CPU time as well.
bst.set_param({"nthread": 1})
for B in (1, 64, 10000):
    n = min(len(X), 20000 if B == 1 else 200000)
    t = time.thread_time()
    for r in range(0, n - B + 1, B):
        bst.inplace_predict(X[r:r + B])
    print(f"  python inplace_predict_{B} "
          f"{n // B * B / (time.thread_time() - t):.0f} rows/s")
PY
