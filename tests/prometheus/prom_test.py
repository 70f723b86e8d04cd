#!/usr/bin/env python3
"""tests/prometheus/prom_test.py - the monitor's figures scraped by a real
Prometheus and read back through its query API.

    prom_test.py ORRERY_BIN REPO_ROOT

In a fresh temporary site: train the quickstart model, serve it, send
shifted traffic, `orrery monitor run cancer` (the real path: prediction
log -> monitor backend -> monitor_windows/values, alerts), plus one window
inserted by hand whose model and feature names need escaping.  Then:
  - `orrery serve`'s /metrics carries the monitor families;
  - `orrery monitor serve --port 0` serves them alone;
  - scripts/prometheus.sh starts Debian's prometheus on loopback,
    scraping it; /api/v1/query is polled (bounded by a generous deadline,
    never a timing assertion) until the series are there, and the values
    read back equal the stored ones, escaped names included;
  - bad arguments of `orrery monitor serve`.
Every process is stopped by PID.  Prints "N passed, N failed".
"""
import csv
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import orrproc  # noqa: E402

BIN, ROOT = sys.argv[1:3]
DATA = os.path.join(ROOT, "examples", "data", "breast_cancer.csv")
PIPELINE = os.path.join(ROOT, "examples", "quickstart", "pipeline.lua")
PROM = os.path.join(ROOT, "scripts", "prometheus.sh")
DEADLINE = 120.0
WEIRD_MODEL = 'we"ird\\model\nx'
WEIRD_FEATURE = 'f "1"\\'

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL: " + what, file=sys.stderr)
    return cond


def run(*args, ok=True):
    p = subprocess.run([BIN] + list(args), cwd=SITE, env=ENV,
                       capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise RuntimeError("orrery %s failed (%d): %s" %
                           (" ".join(args), p.returncode, p.stderr))
    return p


class Proc(orrproc.Proc):
    """A long-running orrery command; `pattern` on stdout gives its URL."""

    def __init__(self, args, pattern):
        super().__init__([BIN] + args, SITE, ENV, pattern, DEADLINE)


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def send_traffic(port, n=300):
    with open(DATA) as f:
        rd = csv.reader(f)
        head = next(rd)
        body = [r for r in rd][:n]
    feats = [h for h in head if h != "malignant"]
    idx = [head.index(h) for h in feats]
    # The first five features shifted: drift the monitor must see.
    rows = [[float(r[i]) * (1.5 if j < 5 else 1.0)
             for j, i in enumerate(idx)] for r in body]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for k in range(0, len(rows), 50):
            chunk = rows[k:k + 50]
            req = {"inputs": [{"name": "input",
                               "shape": [len(chunk), len(feats)],
                               "datatype": "FP64",
                               "data": [x for r in chunk for x in r]}]}
            c.request("POST", "/v2/models/cancer/infer", json.dumps(req),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("infer answered %d" % r.status)
    finally:
        c.close()


def db():
    return sqlite3.connect(os.path.join(SITE, ".orrery", "orrery.db"))


def logged():
    try:
        with db() as c:
            # Schema 7: the log is written in chunks of predictions.
            return c.execute("SELECT coalesce(sum(n), 0) FROM"
                             " prediction_chunks WHERE model = 'cancer'"
                             ).fetchone()[0]
    except sqlite3.Error:
        return 0


def seed_weird():
    """A window whose names need escaping in the text format."""
    with db() as c:
        cur = c.execute(
            "INSERT INTO monitor_windows (model, version, monitor,"
            " start_ms, end_ms, n_rows, n_labelled, status, created_ms)"
            " VALUES (?, '7', 'drift', 0, 1000, 42, 0, 'ok', ?)",
            (WEIRD_MODEL, int(time.time() * 1000)))
        c.execute("INSERT INTO monitor_values (window_id, feature, metric,"
                  " method, value, threshold, alert) VALUES"
                  " (?, ?, 'drift_score', 'psi', 0.1234567890123, 0.2, 0)",
                  (cur.lastrowid, WEIRD_FEATURE))


def stored():
    """The latest cancer window's figures as stored."""
    with db() as c:
        wid, rows = c.execute(
            "SELECT id, n_rows FROM monitor_windows WHERE model = 'cancer'"
            " ORDER BY created_ms DESC, id DESC LIMIT 1").fetchone()
        scores = {(f, m): v for f, m, v in c.execute(
            "SELECT feature, method, value FROM monitor_values"
            " WHERE window_id = ? AND metric = 'drift_score'"
            " AND feature IS NOT NULL", (wid,))}
        share = c.execute(
            "SELECT value FROM monitor_values WHERE window_id = ? AND"
            " metric = 'drift_share' AND feature IS NULL",
            (wid,)).fetchone()
        alerts = c.execute(
            "SELECT count(*) FROM alerts a JOIN registered_models r"
            " ON r.id = a.model_id WHERE r.name = 'cancer'"
            " AND a.acknowledged_ms IS NULL").fetchone()[0]
    return rows, scores, share[0] if share else None, alerts


def promql_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n") + '"'


def query(prom, q):
    _, text = get(prom + "/api/v1/query?" +
                  urllib.parse.urlencode({"query": q}))
    doc = json.loads(text)
    return doc["data"]["result"] if doc.get("status") == "success" else []


def poll(prom, q):
    """Poll until the query has a result (bounded), return it."""
    end = time.time() + DEADLINE
    while time.time() < end:
        try:
            res = query(prom, q)
        except OSError:
            res = []
        if res:
            return res
        time.sleep(0.25)
    return []


def main():
    run("run", PIPELINE)
    server = Proc(["serve", "models:/cancer@champion", "--port", "0"],
                  r"listening on http://127\.0\.0\.1:(\d+)$")
    port = int(server.match.group(1))
    try:
        send_traffic(port)
        # The log is written behind the answers: wait for its 6 records.
        end = time.time() + DEADLINE
        while time.time() < end and logged() < 6:
            time.sleep(0.05)
        check(logged() == 6, "6 requests logged, got %d" % logged())
        p = run("monitor", "run", "cancer", "--window", "10000")
        check("300 rows" in p.stdout, "monitor run: %r" % p.stdout)
        seed_weird()
        rows, scores, share, alerts = stored()
        check(rows == 300, "stored window rows %r" % rows)
        check(("mean_radius", "ks") in scores,
              "a stored KS score for mean_radius: %r" % list(scores)[:5])
        # `orrery serve`'s /metrics: its own families and the monitor's.
        st, text = get("http://127.0.0.1:%d/metrics" % port)
        check(st == 200, "serve /metrics answers 200")
        for fam in ("orrery_http_requests_total",
                    "orrery_monitor_drift_score",
                    "orrery_monitor_feature_drifted",
                    "orrery_monitor_dataset_drift_share",
                    "orrery_monitor_window_rows",
                    "orrery_monitor_alerts_open"):
            check(text.count("# TYPE %s " % fam) == 1,
                  "serve /metrics has family %s once" % fam)
        check('orrery_monitor_window_rows{model="cancer",version="1"} 300\n'
              in text, "serve /metrics: window rows")
        check('orrery_monitor_drift_score{model="we\\"ird\\\\model\\nx",'
              'version="7",feature="f \\"1\\"\\\\",method="psi"} '
              '0.1234567890123\n' in text, "serve /metrics: escaped labels")
    finally:
        check(server.stop() == 0, "orrery serve stops cleanly on SIGTERM")

    # Bad arguments.
    p = run("monitor", "serve", "--port", "abc", ok=False)
    check(p.returncode == 2 and "bad value 'abc' for --port" in p.stderr,
          "--port abc refused: %r" % p.stderr)
    p = run("monitor", "serve", "--bogus", ok=False)
    check(p.returncode == 2 and "unknown or incomplete option '--bogus'"
          in p.stderr, "--bogus refused: %r" % p.stderr)
    p = run("monitor", "serve", "--help")
    check(p.returncode == 0 and "Usage: orrery monitor serve" in p.stdout,
          "--help")

    mon = Proc(["monitor", "serve", "--port", "0", "--json"], r"^\{.*\}$")
    doc = json.loads(mon.match.group(0))
    prom_dir = os.path.join(SITE, "prometheus")
    started = False
    try:
        check(doc["url"].startswith("http://127.0.0.1:") and
              doc["metrics"] == doc["url"] + "/metrics",
              "monitor serve --json: %r" % doc)
        st, text = get(doc["metrics"])
        check(st == 200 and "# TYPE orrery_monitor_drift_score gauge\n"
              in text and "orrery_model_requests_total{" not in text,
              "monitor serve /metrics: monitor figures, no model series")
        target = "127.0.0.1:%d" % doc["port"]
        p = subprocess.run(["bash", PROM, "start", target, prom_dir],
                           capture_output=True, text=True, timeout=600)
        started = p.returncode == 0
        if not check(started, "prometheus.sh start: %s" % p.stderr):
            return
        prom = p.stdout.strip().splitlines()[-1]
        check(re.match(r"^http://127\.0\.0\.1:\d+$", prom) is not None,
              "prometheus URL on loopback: %r" % prom)
        p = subprocess.run(["bash", PROM, "url", prom_dir],
                           capture_output=True, text=True, timeout=60)
        check(p.stdout.strip() == prom, "prometheus.sh url")

        res = poll(prom, 'orrery_monitor_drift_score{model="cancer",'
                         'feature="mean_radius",method="ks"}')
        check(len(res) == 1, "the KS score of mean_radius scraped: %r" % res)
        if res:
            got = float(res[0]["value"][1])
            want = scores[("mean_radius", "ks")]
            check(got == want, "scraped %r == stored %r" % (got, want))
            check(res[0]["metric"].get("version") == "1", "version label")
        res = poll(prom, "orrery_monitor_drift_score{model=%s}" %
                   promql_str(WEIRD_MODEL))
        check(len(res) == 1 and
              res[0]["metric"].get("feature") == WEIRD_FEATURE and
              float(res[0]["value"][1]) == 0.1234567890123,
              "escaped names read back: %r" % res)
        res = poll(prom, 'orrery_monitor_window_rows{model="cancer"}')
        check(len(res) == 1 and float(res[0]["value"][1]) == 300,
              "window rows: %r" % res)
        if share is not None:
            res = poll(prom, 'orrery_monitor_dataset_drift_share'
                             '{model="cancer"}')
            check(len(res) == 1 and float(res[0]["value"][1]) == share,
                  "drift share %r: %r" % (share, res))
        res = poll(prom, 'sum(orrery_monitor_alerts_open{model="cancer"})')
        check(len(res) == 1 and float(res[0]["value"][1]) == alerts,
              "open alerts %d: %r" % (alerts, res))
        res = poll(prom, 'up{job="orrery"}')
        check(len(res) == 1 and res[0]["value"][1] == "1", "target up")
    finally:
        if started:
            subprocess.run(["bash", PROM, "stop", prom_dir], timeout=120)
            pid_file = os.path.join(prom_dir, "prometheus.pid")
            check(not os.path.exists(pid_file), "prometheus.sh stop")
        check(mon.stop() == 0, "monitor serve stops cleanly on SIGTERM")


SITE = tempfile.mkdtemp(prefix="orrery-prom-test-")
ENV = dict(os.environ, ORRERY_SITE="")
try:
    main()
except Exception as ex:             # a setup failure is a failed check
    check(False, "%s: %s" % (type(ex).__name__, ex))
finally:
    shutil.rmtree(SITE, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed or not passed else 0)
