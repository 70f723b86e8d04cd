#!/usr/bin/python3
"""Train scikit-learn's LogisticRegression through Orrery's command
trainer and write the model in the `linear` flavor, so Orrery's linear
runtime serves and evaluates it (protocol: docs/training.md).

Inputs (environment): ORRERY_TRAIN (CSV), ORRERY_TARGET, ORRERY_PARAMS
(JSON: C, max_iter), ORRERY_OUT (where the model goes), ORRERY_METRICS_FD
(JSON lines for metrics).  Numeric features only; missing values take the
training mean, like the linear trainer.  Uses Debian's python3-sklearn
(/usr/bin/python3).
"""
import csv
import json
import math
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

MISSING = {"", "NA", "NaN", "N/A", "null"}


def num(v):
    return math.nan if v in MISSING else float(v)


def label(v):
    """Class labels as Orrery formats numbers: integers without a dot."""
    f = float(v)
    return "%d" % f if f == int(f) and abs(f) < 1e15 else repr(f)


def main():
    target = os.environ["ORRERY_TARGET"]
    params = json.load(open(os.environ["ORRERY_PARAMS"]))
    out = os.environ["ORRERY_OUT"]
    metrics = os.fdopen(int(os.environ["ORRERY_METRICS_FD"]), "w",
                        buffering=1)

    with open(os.environ["ORRERY_TRAIN"], newline="") as f:
        rows = list(csv.DictReader(f))
    names = [c for c in rows[0] if c != target]
    X = np.array([[num(r[c]) for c in names] for r in rows])
    try:
        y = np.array([label(r[target]) for r in rows])
        order = sorted(set(y), key=float)
    except ValueError:
        y = np.array([r[target] for r in rows])
        order = sorted(set(y), key=lambda s: s.encode())
    if len(order) < 2:
        print(f"target '{target}' has a single class", file=sys.stderr)
        return 1

    mean = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), mean, X)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    Z = (X - mean) / scale
    yi = np.array([order.index(v) for v in y])

    clf = LogisticRegression(C=float(params.get("C", 1.0)),
                             max_iter=int(params.get("max_iter", 1000)),
                             tol=float(params.get("tol", 1e-8)))
    clf.fit(Z, yi)
    acc = float((clf.predict(Z) == yi).mean())
    print(json.dumps({"key": "train_accuracy", "value": acc, "step": 0}),
          file=metrics)
    print(json.dumps({"key": "n_iter", "value": int(clf.n_iter_[0]),
                      "step": 0}), file=metrics)

    binary = len(order) == 2
    model = {
        "format": "orrery-linear", "version": 1,
        "task": "binary" if binary else "multiclass",
        "target": target,
        "inputs": [{"name": n, "mean": float(m), "scale": float(s)}
                   for n, m, s in zip(names, mean, scale)],
        "outputs": [order[1]] if binary else order,
        "coef": clf.coef_.tolist(),
        "intercept": clf.intercept_.tolist(),
        "iterations": int(clf.n_iter_[0]), "converged": True,
        "params": {"C": float(params.get("C", 1.0))},
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(model, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "orrery-model.json"), "w") as f:
        json.dump({"flavor": "linear", "task": model["task"],
                   "n_features": len(names)}, f)
    print(f"trained on {len(rows)} rows, {len(names)} inputs: "
          f"train accuracy {acc:.4f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
