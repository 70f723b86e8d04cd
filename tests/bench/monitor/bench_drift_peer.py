#!/usr/bin/python3
"""The SciPy/NumPy peer of tests/bench/monitor/bench_drift.sh.

    bench_drift_peer.py [F] [N_REF] [N_CUR] [REPEATS]

Same shapes as bench_drift_driver (F features of N_REF reference and N_CUR
current normal values, half of them shifted a little); prints ms per
feature, best of REPEATS, for
  scipy ks_2samp          scipy.stats.ks_2samp(ref, cur) (method auto)
  numpy psi (10 q-bins)   PSI over 10 reference quantile bins (issue 7's
                          peer figure)
  numpy psi (Evidently)   Evidently's PSI: 30 equal-width bins over both
"""
import sys
import time

import numpy as np
from scipy import stats


def psi_quantile(ref, cur, bins=10):
    edges = np.quantile(ref, np.linspace(0, 1, bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    r = np.histogram(ref, edges)[0] / len(ref) + 1e-4
    c = np.histogram(cur, edges)[0] / len(cur) + 1e-4
    return np.sum((r - c) * np.log(r / c))


def psi_evidently(ref, cur, bins=30):
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=bins)
    r = np.histogram(ref, edges)[0] / len(ref)
    c = np.histogram(cur, edges)[0] / len(cur)
    for p in (r, c):
        m = min(p[p != 0])
        np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return np.sum((r - c) * np.log(r / c))


def best(fn, data, reps):
    """Best wall and CPU time per feature, ms (the machine may be shared)."""
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        for ref, cur in data:
            fn(ref, cur)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall) * 1000 / len(data), min(cpu) * 1000 / len(data)


def main():
    F = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    n1 = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    n2 = int(sys.argv[3]) if len(sys.argv) > 3 else 1000000
    reps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    rng = np.random.default_rng(42)
    data = [(rng.standard_normal(n1) * (1 + f),
             (rng.standard_normal(n2) + (0.01 if f % 2 else 0)) * (1 + f))
            for f in range(F)]
    ks = best(lambda r, c: stats.ks_2samp(r, c), data, reps)
    pq = best(psi_quantile, data, reps)
    pe = best(psi_evidently, data, reps)
    print(f"SciPy {__import__('scipy').__version__}, "
          f"NumPy {np.__version__}, best of {reps}")
    print(f"{'ms per feature':30s} {'wall':>12s} {'cpu':>12s}")
    for label, (w, c) in (("scipy ks_2samp", ks),
                          ("numpy psi (10 quantile bins)", pq),
                          ("numpy psi (Evidently, 30 bins)", pe),
                          ("scipy ks + numpy psi (10 q)",
                           (ks[0] + pq[0], ks[1] + pq[1]))):
        print(f"{label:30s} {w:12.1f} {c:12.1f}")
    print(f"scipy+numpy ks+psi, all {F} features: "
          f"{(ks[0] + pq[0]) * F / 1000:.2f} s")


if __name__ == "__main__":
    main()
