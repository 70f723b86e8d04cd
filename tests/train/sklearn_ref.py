#!/usr/bin/python3
"""Reference values from scikit-learn for tests/train (Debian's
python3-sklearn, seen by /usr/bin/python3).

  sklearn_ref.py metrics binary|multiclass|regression FILE.csv
  sklearn_ref.py logreg TRAIN.csv TEST.csv TARGET C
  sklearn_ref.py ridge TRAIN.csv TEST.csv TARGET ALPHA

Prints one JSON object.
"""
import json
import sys

import numpy as np


def metrics(kind, path):
    from sklearn import metrics as M
    from sklearn.preprocessing import label_binarize
    d = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    y = d[:, 0]
    out = {}
    if kind == "regression":
        p = d[:, 1]
        out["rmse"] = float(np.sqrt(M.mean_squared_error(y, p)))
        out["mae"] = float(M.mean_absolute_error(y, p))
        out["r2"] = float(M.r2_score(y, p))
        return out
    y = y.astype(int)
    if kind == "binary":
        p = d[:, 1]
        pred = (p > 0.5).astype(int)
        out["roc_auc"] = M.roc_auc_score(y, p)
        out["pr_auc"] = M.average_precision_score(y, p)
        out["log_loss"] = M.log_loss(y, p)
        avg = "binary"
    else:
        P = d[:, 1:]
        pred = P.argmax(axis=1)
        k = P.shape[1]
        out["roc_auc"] = M.roc_auc_score(y, P, multi_class="ovr",
                                         average="macro")
        out["pr_auc"] = M.average_precision_score(
            label_binarize(y, classes=list(range(k))), P, average="macro")
        out["log_loss"] = M.log_loss(y, P)
        avg = "macro"
    out["accuracy"] = M.accuracy_score(y, pred)
    for name, fn in (("precision", M.precision_score),
                     ("recall", M.recall_score), ("f1", M.f1_score)):
        out[name] = fn(y, pred, average=avg, zero_division=0)
        out["macro_" + name] = fn(y, pred, average="macro", zero_division=0)
        out["weighted_" + name] = fn(y, pred, average="weighted",
                                     zero_division=0)
        out["per_class_" + name] = [float(v) for v in
                                    fn(y, pred, average=None,
                                       zero_division=0)]
    out["confusion"] = M.confusion_matrix(y, pred).tolist()
    return {k: (float(v) if isinstance(v, (np.floating, float)) else v)
            for k, v in out.items()}


def load(path, target):
    import csv
    with open(path) as f:
        rows = list(csv.reader(f))
    head = rows[0]
    t = head.index(target)
    X = np.array([[float(v) for i, v in enumerate(r) if i != t]
                  for r in rows[1:]])
    y = np.array([float(r[t]) for r in rows[1:]])
    return X, y


def logreg(train, test, target, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    X, y = load(train, target)
    Xt, yt = load(test, target)
    s = StandardScaler().fit(X)
    m = LogisticRegression(C=float(C), solver="lbfgs", tol=1e-12,
                           max_iter=100000).fit(s.transform(X), y)
    p = m.predict_proba(s.transform(Xt))[:, 1]
    return {"accuracy": float((m.predict(s.transform(Xt)) == yt).mean()),
            "train_accuracy": float((m.predict(s.transform(X)) == y).mean()),
            "proba": [float(v) for v in p]}


def ridge(train, test, target, alpha):
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler
    from sklearn import metrics as M
    X, y = load(train, target)
    Xt, yt = load(test, target)
    s = StandardScaler().fit(X)
    m = Ridge(alpha=float(alpha)).fit(s.transform(X), y)
    p = m.predict(s.transform(Xt))
    return {"rmse": float(np.sqrt(M.mean_squared_error(yt, p))),
            "r2": float(M.r2_score(yt, p)), "pred": [float(v) for v in p]}


def main(argv):
    if argv[1] == "metrics":
        r = metrics(argv[2], argv[3])
    elif argv[1] == "logreg":
        r = logreg(*argv[2:6])
    else:
        r = ridge(*argv[2:6])
    json.dump(r, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv)
