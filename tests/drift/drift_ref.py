#!/usr/bin/python3
"""Reference values for tests/drift: SciPy 1.10 and NumPy implementations
of Evidently's drift formulas (evidently/calculations/stattests), so the C
tests compare monitor-drift with what a Python user would compute.

    drift_ref.py numeric REF CUR       one number per line ("nan" missing)
    drift_ref.py categorical REF CUR   one label per line ("" missing)

Prints "key value" lines (values with 17 significant digits).
"""
import sys
import warnings

import numpy as np
from scipy import stats
from scipy.spatial import distance


def binned(ref, cur, categorical, n_bins=30, feel_zeroes=True):
    """Evidently's get_binned_data."""
    if not categorical and len(np.unique(ref)) > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=n_bins)
        r = np.histogram(ref, bins)[0] / len(ref)
        c = np.histogram(cur, bins)[0] / len(cur)
    else:
        keys = sorted(set(ref.tolist()) | set(cur.tolist()))
        r = np.array([np.sum(ref == k) for k in keys]) / len(ref)
        c = np.array([np.sum(cur == k) for k in keys]) / len(cur)
    r = r.astype(float)
    c = c.astype(float)
    if feel_zeroes:
        for p in (r, c):
            m = min(p[p != 0])
            np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return r, c


def chi(ref, cur):
    """Evidently's chi-square: scipy.stats.chisquare."""
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    k_norm = cur.shape[0] / ref.shape[0]
    f_exp = [np.sum(ref == k) * k_norm for k in keys]
    f_obs = [np.sum(cur == k) for k in keys]
    if len(keys) < 2:
        return 0.0, 1.0
    s, p = stats.chisquare(f_obs, f_exp)
    return s, p


def ztest(ref, cur):
    """Evidently's proportion difference z-test."""
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    if len(keys) < 2:
        return 1.0
    k = keys[0]
    n1, n2 = len(ref), len(cur)
    p1 = float(np.sum(ref == k)) / n1
    p2 = float(np.sum(cur == k)) / n2
    P = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
    return 2 * (1 - stats.norm.cdf(np.abs(z)))


def out(key, value):
    print(f"{key} {float(value):.17g}")


def main():
    # chisquare divides by zero for a label only the current data has (the
    # statistic is then inf and the p-value 0, as Evidently gets).
    warnings.simplefilter("ignore", RuntimeWarning)
    kind, ref_path, cur_path = sys.argv[1:4]
    if kind == "numeric":
        ref = np.loadtxt(ref_path, ndmin=1)
        cur = np.loadtxt(cur_path, ndmin=1)
        ref = ref[np.isfinite(ref)]
        cur = cur[np.isfinite(cur)]
        res = stats.ks_2samp(ref, cur)
        out("ks_d", res.statistic)
        out("ks_p", res.pvalue)
        out("ks_p_asymp", stats.ks_2samp(ref, cur, method="asymp").pvalue)
        out("wd_norm", stats.wasserstein_distance(ref, cur) /
            max(np.std(ref), 0.001))
        out("n_unique_ref", len(np.unique(ref)))
        out("n_unique_all", len(np.unique(np.concatenate([ref, cur]))))
        categorical = False
    else:
        with open(ref_path) as f:
            ref = np.array([l.rstrip("\n") for l in f if l.rstrip("\n")])
        with open(cur_path) as f:
            cur = np.array([l.rstrip("\n") for l in f if l.rstrip("\n")])
        categorical = True
    r, c = binned(ref, cur, categorical)
    out("psi", np.sum((r - c) * np.log(r / c)))
    r, c = binned(ref, cur, categorical, feel_zeroes=False)
    out("js", distance.jensenshannon(r, c))
    if len(set(ref.tolist()) | set(cur.tolist())) > 2000:
        return      # the per-value tests are for labels and few values
    s, p = chi(ref, cur)
    out("chi_stat", s)
    out("chi_p", p)
    out("z_p", ztest(ref, cur))


if __name__ == "__main__":
    main()
