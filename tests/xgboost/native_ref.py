"""Fixtures for test_xgb_native: models trained by python3-xgboost (Debian,
/usr/bin/python3) with their inputs and python's own predictions.

    native_ref.py REPO_ROOT OUT_DIR

For each case, OUT_DIR/CASE/ holds model.json (saved by XGBoost),
orrery-xgboost.json (the runtime's sidecar), x.bin (rows x features
float64, NaN = missing), ref.bin (python's predictions, rows x outputs
float64) and meta.txt ("rows features outputs expect" where expect is
"native" or "capi": the predictor the runtime must pick).  Cases cover the
breast cancer data (binary, with NaNs punched in), penguins (multiclass:
softprob and softmax, NA values, one-hot inputs), seattle weather
(regression with several objectives), and models the native evaluator
must leave to the C API (dart, categorical splits); gblinear is native.
"""
import csv
import json
import math
import os
import sys

import numpy as np
import xgboost as xgb

root, out = sys.argv[1], sys.argv[2]
MISSING = {"", "NA", "NaN", "N/A", "null"}


def load(path, target, drop=()):
    rows = list(csv.DictReader(open(path, newline="")))
    cols = [c for c in rows[0] if c != target and c not in drop]
    names, data = [], []
    for c in cols:
        vals = [r[c] for r in rows]
        try:
            [float(v) for v in vals if v not in MISSING]
            names.append(c)
            data.append([math.nan if v in MISSING else float(v)
                         for v in vals])
        except ValueError:
            for lab in sorted({v for v in vals if v not in MISSING}):
                names.append(f"{c}={lab}")
                data.append([math.nan if v in MISSING else
                             float(v == lab) for v in vals])
    return names, np.array(data).T, [r[target] for r in rows]


def write(case, bst, X, names, task, objective, outputs, expect,
          margin_softmax=False):
    d = os.path.join(out, case)
    os.makedirs(d, exist_ok=True)
    bst.save_model(os.path.join(d, "model.json"))
    side = {"format": "orrery-xgboost", "version": 1, "task": task,
            "objective": objective, "target": "y", "inputs": names,
            "outputs": outputs, "rounds": 0}
    json.dump(side, open(os.path.join(d, "orrery-xgboost.json"), "w"))
    bst.set_param({"nthread": 1})
    dm = xgb.DMatrix(X, missing=np.nan, feature_names=None)
    if margin_softmax:
        m = bst.predict(dm, output_margin=True).astype(np.float64)
        m = np.exp(m - m.max(axis=1, keepdims=True))
        ref = m / m.sum(axis=1, keepdims=True)
    else:
        ref = bst.predict(dm).astype(np.float64)
    ref = ref.reshape(X.shape[0], -1)
    np.ascontiguousarray(X, dtype=np.float64).tofile(os.path.join(d, "x.bin"))
    np.ascontiguousarray(ref).tofile(os.path.join(d, "ref.bin"))
    open(os.path.join(d, "meta.txt"), "w").write(
        f"{X.shape[0]} {X.shape[1]} {ref.shape[1]} {expect}\n")


def train(params, X, y, rounds, **kw):
    p = {"nthread": 1, "seed": 3}
    p.update(params)
    return xgb.train(p, xgb.DMatrix(X, label=y, missing=np.nan, **kw),
                     num_boost_round=rounds)


rng = np.random.default_rng(7)

# Breast cancer: binary, 5% of the values missing.
names, X, t = load(f"{root}/examples/data/breast_cancer.csv", "malignant")
y = np.array([float(v) for v in t])
X[rng.random(X.shape) < 0.05] = np.nan
for obj in ("binary:logistic", "reg:logistic", "binary:logitraw"):
    bst = train({"objective": obj, "max_depth": 6, "eta": 0.1}, X, y, 100)
    task = "binary" if obj == "binary:logistic" else "regression"
    write("cancer_" + obj.replace(":", "_"), bst, X, names, task, obj,
          ["1"] if task == "binary" else ["y"], "native")
# A base_score other than 0.5 and deeper, lossguide trees.
bst = train({"objective": "binary:logistic", "base_score": 0.3,
             "max_depth": 0, "max_leaves": 40, "grow_policy": "lossguide",
             "tree_method": "hist"}, X, y, 30)
write("cancer_lossguide", bst, X, names, "binary", "binary:logistic", ["1"],
      "native")
# gblinear (with missing values): also native.
bst = train({"objective": "binary:logistic", "booster": "gblinear"}, X, y,
            20)
write("cancer_gblinear", bst, X, names, "binary", "binary:logistic",
      ["1"], "native")
# dart: left to the C API.
bst = train({"objective": "binary:logistic", "booster": "dart",
             "rate_drop": 0.2, "max_depth": 3}, X, y, 20)
write("cancer_dart", bst, X, names, "binary", "binary:logistic", ["1"],
      "capi")

# Penguins: multiclass with NA values and one-hot inputs.
names, X, t = load(f"{root}/tests/data/penguins.csv", "species")
classes = sorted(set(t))
y = np.array([classes.index(v) for v in t], dtype=float)
for obj in ("multi:softprob", "multi:softmax"):
    bst = train({"objective": obj, "num_class": 3, "max_depth": 4,
                 "eta": 0.3, "subsample": 0.8}, X, y, 40)
    write("penguins_" + obj.replace(":", "_"), bst, X, names, "multiclass",
          obj, classes, "native", margin_softmax=obj == "multi:softmax")
# Twenty classes (more groups than the evaluator's blocked path takes).
Xm = rng.standard_normal((400, 6))
Xm[rng.random(Xm.shape) < 0.05] = np.nan
ym = np.floor(np.nan_to_num(Xm[:, 0]) * 4 + 10).clip(0, 19)
ym[:20] = np.arange(20)
bst = train({"objective": "multi:softprob", "num_class": 20,
             "max_depth": 3}, Xm, ym, 5)
write("synthetic_20_classes", bst, Xm, [f"f{j}" for j in range(6)],
      "multiclass", "multi:softprob", [str(c) for c in range(20)], "native")

# Categorical splits (partition splits over 12 levels): the C API.
n = 600
Xc = np.column_stack([rng.integers(0, 12, n), rng.standard_normal(n)])
yc = (np.isin(Xc[:, 0], [1, 4, 7, 10]) ^ (Xc[:, 1] > 1.2)).astype(float)
Xc[rng.random(n) < 0.05, 1] = np.nan
bst = train({"objective": "binary:logistic", "max_depth": 3,
             "tree_method": "hist", "max_cat_to_onehot": 1}, Xc, yc, 10,
            feature_types=["c", "q"], enable_categorical=True)
assert any(t["categories_nodes"] for t in json.loads(
    bst.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"])
write("synthetic_categorical", bst, Xc, ["f0", "f1"], "binary",
      "binary:logistic", ["1"], "capi")

# Seattle weather: regression of temp_max, several objectives.
names, X, t = load(f"{root}/tests/data/seattle-weather.csv", "temp_max",
                   drop=("date",))
y = np.array([float(v) for v in t])
X[rng.random(X.shape) < 0.03] = np.nan
for obj, yy in (("reg:squarederror", y), ("reg:pseudohubererror", y),
                ("reg:absoluteerror", y), ("count:poisson", np.abs(y)),
                ("reg:gamma", np.abs(y) + 1), ("reg:tweedie", np.abs(y)),
                ("reg:squaredlogerror", np.abs(y))):
    bst = train({"objective": obj, "max_depth": 5, "eta": 0.2,
                 "colsample_bytree": 0.8}, X, yy, 50)
    write("weather_" + obj.replace(":", "_"), bst, X, names, "regression",
          obj, ["y"], "native")
print("fixtures written")
