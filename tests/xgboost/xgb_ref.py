"""Train python3-xgboost on the same data and parameters as Orrery did and
compare the predictions.

    xgb_ref.py CSV TARGET PARAMS_JSON ORRERY_DUMP

ORRERY_DUMP is what workflows/dump.lua wrote: the model's inputs (numeric
column names and COLUMN=LABEL one-hot indicators), its classes and its
predictions.  The design matrix is rebuilt here from the CSV by those names
(missing values NaN), labels are class indices in the model's class order;
Orrery's predictions must equal python's to 1e-6.
"""
import csv
import json
import math
import sys

import numpy as np
import xgboost as xgb

MISSING = {"", "NA", "NaN", "N/A", "null"}

path, target, params_json, dump = sys.argv[1:5]
params = json.loads(params_json)
rounds = params.pop("num_boost_round")
lines = open(dump).read().splitlines()
task = lines[0].split("\t")[1]
inputs = lines[1].split("\t")[1:]
classes = lines[2].split("\t")[1:]
ours = np.array([[float(v) for v in l.split("\t")] for l in lines[3:]])

rows = list(csv.DictReader(open(path, newline="")))
X = np.empty((len(rows), len(inputs)))
for j, name in enumerate(inputs):
    col, label = (name.split("=", 1) + [None])[:2] if name not in rows[0] \
        else (name, None)
    for i, r in enumerate(rows):
        v = r[col]
        if v in MISSING:
            X[i, j] = math.nan
        elif label is None:
            X[i, j] = float(v)
        else:
            X[i, j] = 1.0 if v == label else 0.0


def cls(v):
    if v in classes:
        return classes.index(v)
    return classes.index("%.0f" % float(v))


y = np.array([cls(r[target]) if task != "regression" else float(r[target])
              for r in rows])
if task == "multiclass":
    params.setdefault("num_class", len(classes))
params.setdefault("objective", {"binary": "binary:logistic",
                                "multiclass": "multi:softprob",
                                "regression": "reg:squarederror"}[task])
d = xgb.DMatrix(X, label=y, missing=np.nan)
bst = xgb.train(params, d, num_boost_round=rounds)
ref = bst.predict(d).astype(np.float64).reshape(ours.shape)
diff = float(np.max(np.abs(ref - ours)))
print(f"{task}: {len(rows)} rows, {len(inputs)} inputs, max |diff| {diff:g}")
sys.exit(0 if diff <= 1e-6 else 1)
