#!/usr/bin/python3
"""Benchmark `orrery monitor report` on a large store.

usage: bench_report.py ORRERY REPORT_FIXTURE [WINDOWS] [FEATURES]
Fills a temporary site with WINDOWS monitoring windows (default 1000) of
FEATURES features each (default 30; a drift score, a missing rate and
two checks per feature, 20-bin histograms in the latest window), then
times the table, the HTML and --json over all windows with hyperfine.
Prints the figures and the size of the page.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

ORRERY, FIXTURE = sys.argv[1], sys.argv[2]
N_WIN = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
N_FEAT = int(sys.argv[4]) if len(sys.argv) > 4 else 30

with tempfile.TemporaryDirectory(prefix="orr-bench-report-") as tmp:
    os.chdir(tmp)
    os.makedirs(".orrery")
    subprocess.run([FIXTURE, ".orrery/orrery.db", "empty"], check=True)
    db = sqlite3.connect(".orrery/orrery.db")
    rnd = random.Random(7)
    edges = [i / 20 for i in range(21)]
    for w in range(N_WIN):
        cur = db.execute(
            "INSERT INTO monitor_windows (model, version, monitor, start_ms,"
            " end_ms, n_rows, n_labelled, status, created_ms) VALUES"
            " ('big', '1', 'drift', ?, ?, 10000, 5000, 'ok', ?)",
            (w * 3600000, (w + 1) * 3600000, (w + 1) * 3600000))
        wid = cur.lastrowid
        vals = []
        for f in range(N_FEAT):
            s = rnd.random() * 0.2
            name = "feature_%02d" % f
            vals += [(wid, name, "drift_score", "psi", s, 0.1, s > 0.1),
                     (wid, name, "missing_rate", None, 0.01, None, 0),
                     (wid, name, "out_of_range_share", None, 0.0, 0.1, 0),
                     (wid, name, "statistic", None, s, None, 0)]
        vals += [(wid, None, "drift_share", "share", 0.2, 0.5, 0),
                 (wid, None, "accuracy", "labels", 0.9, 0.85, 0)]
        db.executemany("INSERT INTO monitor_values (window_id, feature,"
                       " metric, method, value, threshold, alert) VALUES"
                       " (?, ?, ?, ?, ?, ?, ?)", vals)
        if w == N_WIN - 1:
            for f in range(N_FEAT):
                h = json.dumps({"histogram": {"edges": edges, "counts": [
                    rnd.randint(0, 1000) for _ in range(20)]}})
                db.execute("INSERT INTO monitor_histograms VALUES"
                           " (?, ?, ?, ?)", (wid, "feature_%02d" % f, h, h))
    db.commit()
    db.close()
    env = dict(os.environ, ORRERY_SITE="")
    base = "%s monitor report big --last %d" % (ORRERY, N_WIN)
    subprocess.run(["hyperfine", "--warmup", "2", "--runs", "10", "-N",
                    base + " --no-html",
                    base + " --out big.html",
                    base + " --json"], env=env, check=True)
    print("page: %d bytes for %d windows x %d features" %
          (os.path.getsize("big.html"), N_WIN, N_FEAT))
