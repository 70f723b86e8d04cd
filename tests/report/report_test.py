#!/usr/bin/python3
"""`orrery monitor report` through the real binary on fixture windows.

usage: report_test.py ORRERY REPORT_FIXTURE CASE
Each case runs in a fresh temporary site (the current directory: the site
root is ./.orrery, its store ./.orrery/orrery.db) and prints
"N passed, N failed".
"""
import html.parser
import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import unicodedata

ORRERY, FIXTURE, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
HOSTILE = "<script>alert(1)</script>"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def env(**extra):
    e = dict(os.environ)
    e["ORRERY_SITE"] = ""
    e["XDG_CONFIG_HOME"] = os.path.join(os.getcwd(), "xdg")
    e.pop("NO_COLOR", None)
    e.update(extra)
    return e


def run(*args, **extra):
    return subprocess.run([ORRERY, "monitor", "report", *args],
                          capture_output=True, text=True, timeout=60,
                          env=env(**extra))


def fixture(scenario):
    os.makedirs(".orrery", exist_ok=True)
    r = subprocess.run([FIXTURE, ".orrery/orrery.db", scenario],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print(r.stderr, file=sys.stderr)
        raise SystemExit("fixture failed")


def cols(line):
    """Terminal columns of a line (wide characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in line)


VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col",
        "embed", "source", "track", "wbr"}
# SVG elements written self-closed (<rect .../>).
SELF = {"rect", "line", "path", "circle", "polyline", "polygon"}


class Page(html.parser.HTMLParser):
    """Well-formedness (every element closed in order), and what the
    tests look at: svg classes, attributes, text per element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors = [], []
        self.svgs, self.attrs, self.tags = [], [], []
        self.h3 = []
        self._h3 = None
        self.text = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        a = dict(attrs)
        if tag == "svg":
            self.svgs.append(a)
        if tag == "h3" and "id" in a and a["id"].startswith("f"):
            self._h3 = []
        if tag == "style":
            self._in_style = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" %
                               (tag, self.stack[-1] if self.stack else ""))
            return
        self.stack.pop()
        if tag == "h3" and self._h3 is not None:
            self.h3.append("".join(self._h3))
            self._h3 = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._h3 is not None:
            self._h3.append(data)
        if self._in_style:
            self.style += data
        self.text.append(data)


def parse(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # must be valid UTF-8
    p = Page()
    p.feed(text)
    p.close()
    return text, p


def check_self_contained(text, p):
    for tag, k, v in p.attrs:
        if k in ("src", "href", "xlink:href", "srcset", "action", "data"):
            check(False, "no %s attribute in a report (%s=%r)" % (k, tag, v))
    check("script" not in p.tags, "no <script> element")
    check("link" not in p.tags and "img" not in p.tags and
          "iframe" not in p.tags, "no link/img/iframe element")
    check("@import" not in p.style and "url(" not in p.style,
          "no external CSS")
    check(not re.search(r"https?://", text.replace(
        "http://www.w3.org/2000/svg", "")), "no http(s) URL at all")


def case_table():
    fixture("drift")
    r = run("cancer")
    check(r.returncode == 0, "exit 0 (%d: %s)" % (r.returncode, r.stderr))
    out = r.stdout
    check("\033[" not in out, "no colour when stdout is not a tty")
    for line in out.splitlines():
        # The report's path is as long as the temporary directory's.
        check(cols(line) <= 80 or os.getcwd() in line,
              "line fits 80 columns: %r" % line)
    lines = out.splitlines()
    check(lines and lines[0].startswith("Model cancer  version 1"),
          "header names model and version")
    check(any("Status DRIFT" in l for l in lines), "status shown")
    rows = [l for l in lines if l.startswith(("mean radius", "texture",
                                              "<script>", "worst area"))]
    check(len(rows) == 4, "one row per feature (%d)" % len(rows))
    check(rows and rows[0].startswith("mean radius"),
          "drifted features first (%s)" % rows[:1])
    radius = next((l for l in rows if l.startswith("mean radius")), "")
    check("ks" in radius and "0.3100" in radius and "0.1000" in radius and
          "\u2713 yes" in radius and "0.0%" in radius,
          "row has method, score, threshold, drifted, missing: " + radius)
    texture = next((l for l in rows if l.startswith("texture")), "")
    check("\u2717 no" in texture and "1.2%" in texture,
          "stable feature marked, missing rate: " + texture)
    check("out_of_range_rate 0.0800 (threshold 0.0500)  ALERT" in out,
          "per-feature check listed")
    worst = next((l for l in rows if l.startswith("worst area")), "")
    check("absent" in worst, "absent feature says so: " + worst)
    check("prediction" in out and "    a model output: not counted among"
          " the features\n" in out, "the drifted output is not a feature")
    check("Dataset drift: 66.7% (2 of 3 features drifted), threshold 50.0%\n"
          "  1 feature absent from the current data\n" in out,
          "dataset drift line")
    crit = out.find("critical  ")
    check(0 <= crit < out.find("warning   "), "critical alerts first")
    check("prediction_drift (psi): 0.2500, threshold 0.2000  ALERT" in out,
          "other dataset-level values listed")
    acc = next((l for l in lines if l.startswith("accuracy")), "")
    check("0.8800" in acc and "0.9560" in acc and "-0.0760" in acc and
          "0.9000" in acc, "quality vs registration: " + acc)
    auc = next((l for l in lines if l.startswith("roc_auc")), "")
    check("0.9500" in auc and "0.9910" in auc, "roc_auc registered: " + auc)
    check("Open alerts (2)" in out, "open alerts counted")
    check("Drift in 2 of 3 features <img src=x>" in out,
          "alert title shown as text")
    check("acknowledged" not in out, "acknowledged alerts not listed")
    path = os.path.realpath(".orrery/reports/cancer.html")
    check("Report: " + path in out, "prints the report path")
    check("Open it: xdg-open " + path in out and
          "or: file://" + path in out,
          "says how to open it")
    check(os.path.isfile(path), "report written at the default path")

    # A model argument given as a URI finds the same windows.
    r2 = run("models:/cancer@champion", "--no-html")
    check(r2.returncode == 0 and "Model cancer" in r2.stdout,
          "models:/ URI reduced to the model name")
    check("Report:" not in r2.stdout, "--no-html writes no report")


def case_html():
    fixture("drift")
    r = run("cancer", "--out", "out/r.html")
    check(r.returncode == 0, "exit 0 (%s)" % r.stderr)
    text, p = parse("out/r.html")
    check(not p.errors, "well-formed: %s" % p.errors[:3])
    check(not p.stack, "every element closed (%s)" % p.stack)
    check(text.startswith("<!DOCTYPE html>"), "doctype")
    check_self_contained(text, p)
    dist = [s for s in p.svgs if "dist" in s.get("class", "").split()]
    check(len(dist) == 5, "one distribution chart per feature and output"
          " (%d)" % len(dist))
    trend = [s for s in p.svgs if "trend" in s.get("class", "").split()]
    check(len(trend) == 5, "one drift-score chart per feature and output")
    check("2 / 3</div>" in text, "KPI counts input features only")
    check(text.count("model output</span>") == 1, "the output is marked")
    share = [s for s in p.svgs if "share" in s.get("class", "").split()]
    check(len(share) == 1, "dataset drift share chart")
    quality = [s for s in p.svgs if "quality" in s.get("class", "").split()]
    check(len(quality) == 2, "one quality chart per metric")
    for s in p.svgs:
        check(s.get("role") == "img" and s.get("aria-labelledby"),
              "chart has role=img and a label")
    check(text.count("<title id=") == len(p.svgs) and
          text.count("<desc id=") == len(p.svgs),
          "each chart has a title and a description")
    check(HOSTILE not in text, "hostile feature name never raw")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in text,
          "hostile feature name escaped")
    check("<img" not in text and "&lt;img src=x&gt;" in text,
          "hostile alert title escaped")
    check("&lt;b&gt;bold&lt;/b&gt;" in text and "<b>" not in text,
          "hostile category escaped")
    check(p.h3[:1] and p.h3[0].startswith("mean radius"),
          "drifted feature first: %s" % p.h3[:2])
    check(len(p.h3) == 4 and p.h3[-1].startswith("texture")
          or p.h3[-2].startswith("worst area"),
          "absent before stable: %s" % p.h3)
    check("badge st-drift" in text, "status badge")
    check("absent from the current data" in text, "absent feature noted")
    check("no current data" in text, "absent feature: reference only")
    check("class=\"reg\"" in text, "registration line drawn")
    check("class=\"thr\"" in text, "threshold line drawn")
    check(text.count("<details>") == 5, "a data table per feature and output")
    check("old warning, acknowledged" in text and "acknowledged</td>" in text,
          "alerts table lists acknowledged ones too")
    check(not any(f.endswith(".tmp") or ".tmp." in f
                  for f in os.listdir("out")), "no temporary file left")


def case_json():
    fixture("drift")
    r = run("cancer", "--json")
    check(r.returncode == 0, "exit 0")
    check(not os.path.exists(".orrery/reports"),
          "--json writes no HTML without --out")
    doc = json.loads(r.stdout)
    check(doc["model"] == "cancer", "model")
    check(doc["latest"]["status"] == "drift", "latest status")
    check(len(doc["windows"]) == 6, "all windows")
    names = [f["name"] for f in doc["features"]]
    check(names[0] == "mean radius" and HOSTILE in names,
          "features, drifted first: %s" % names)
    worst = next(f for f in doc["features"] if f["name"] == "worst area")
    check(worst["absent"] is True and worst["score"] is None and
          worst["drifted"] is None, "absent feature: null score")
    check(worst["current"] is None and worst["reference"]["type"] ==
          "numeric", "absent feature: reference histogram only")
    pred = next(f for f in doc["features"] if f["name"] == "prediction")
    check(pred["output"] is True and pred["drifted"] is True and
          worst["output"] is False, "the model output is flagged")
    cat = next(f for f in doc["features"] if f["name"] == HOSTILE)
    check(cat["reference"]["type"] == "categorical" and cat["drifted"],
          "categorical histogram")
    check(len(cat["score_history"]) == 6, "score history per window")
    check(cat["alert_history"] == [False] * 5 + [True],
          "alert flags per window (a p-value drifts below its threshold)")
    acc = next(q for q in doc["quality"] if q["metric"] == "accuracy")
    check(abs(acc["registered"] - 0.956) < 1e-12 and acc["alert"] is True,
          "quality with registration value")
    check(abs(doc["latest"]["drift_share"] - 2 / 3) < 1e-12,
          "drift share")
    check(doc["open_alerts"] == 2 and len(doc["alerts"]) == 3, "alerts")
    r = run("cancer", "--json", "--out", "x.html")
    check(r.returncode == 0 and os.path.isfile("x.html") and
          json.loads(r.stdout)["model"] == "cancer",
          "--json with --out writes both, stdout stays JSON")


def case_last():
    fixture("drift")
    r = run("cancer", "--json", "--last", "2")
    doc = json.loads(r.stdout)
    check(len(doc["windows"]) == 2, "--last 2 keeps two windows")
    check(doc["windows"][-1]["status"] == "drift", "the newest ones")
    check(len(doc["features"][0]["score_history"]) == 2, "histories cut")
    r = run("cancer", "--last", "1", "--out", "one.html")
    check(r.returncode == 0, "a single window renders")
    text, p = parse("one.html")
    check(not p.errors, "well-formed with one window")


def case_no_windows():
    fixture("empty")
    r = run("cancer")
    check(r.returncode == 1, "exit 1 without windows (%d)" % r.returncode)
    check("no monitoring windows yet: run `orrery monitor run cancer`"
          in r.stderr, "says what to run: %r" % r.stderr)
    check(r.stdout == "", "nothing on stdout")
    check(not os.path.exists(".orrery/reports"), "no report written")
    r = run("cancer", "--json")
    check(r.returncode == 1 and r.stdout == "", "--json: exit 1, no output")


def case_no_data():
    fixture("nodata")
    r = run("quiet")
    check(r.returncode == 0, "exit 0 for a no_data window (%s)" % r.stderr)
    check("Status NO_DATA  not enough data: 3 rows, need 30" in r.stdout,
          "status and message shown")
    text, p = parse(".orrery/reports/quiet.html")
    check(not p.errors and not p.stack, "well-formed")
    check("badge st-no_data" in text and "No data" in text, "badge")
    check("not enough data: 3 rows, need 30" in text, "message shown")
    check("no current data" in text,
          "reference distribution kept, current marked missing")
    check("pt nd" in text, "window without a value marked on the line")
    check("No quality figures yet" in text, "no quality explained")


def case_usage():
    fixture("drift")
    for args, what in ((["--last", "0"], "--last 0"),
                       (["--last", "x"], "--last x"),
                       ([], "no model"),
                       (["a", "b"], "two models"),
                       (["--bogus"], "unknown option"),
                       (["--out"], "--out without a value"),
                       (["--no-html", "--out", "f.html"], "--no-html --out")):
        a = args if args and args[0] in ("a", "--out", "--no-html") or \
            not args else ["cancer", *args]
        r = run(*a)
        check(r.returncode == 2, "%s: exit 2 (%d)" % (what, r.returncode))
        check(r.stderr.startswith("orrery monitor report:"),
              "%s: message names the command: %r" % (what, r.stderr))
    r = run("--help")
    check(r.returncode == 0 and "Usage: orrery monitor report" in r.stdout,
          "--help")


def tty_run(*args, **extra):
    """Run with stdout on a pseudo-terminal; returns the output."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(ORRERY, [ORRERY, "monitor", "report", *args], env(**extra))
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode("utf-8", "replace")


def case_color():
    fixture("drift")
    out = tty_run("cancer", "--no-html")
    check("\033[31m" in out, "colour on a terminal")
    out = tty_run("cancer", "--no-html", NO_COLOR="1")
    check("\033[" not in out and "Model cancer" in out,
          "NO_COLOR respected")


def case_atomic():
    fixture("drift")
    os.makedirs("ro")
    os.chmod("ro", 0o555)
    r = run("cancer", "--out", "ro/r.html")
    if os.geteuid() != 0:
        check(r.returncode == 1 and "cannot create" in r.stderr,
              "unwritable directory: clear error (%r)" % r.stderr)
    os.chmod("ro", 0o755)
    with open("keep.html", "w") as f:
        f.write("old")
    r = run("cancer", "--out", "keep.html")
    check(r.returncode == 0, "overwrite")
    with open("keep.html") as f:
        check(f.read().startswith("<!DOCTYPE html>"), "replaced whole")
    check(sorted(os.listdir(".")) == sorted(
        [".orrery", "keep.html", "ro"] +
        (["xdg"] if os.path.exists("xdg") else [])),
        "no temporary file left: %s" % os.listdir("."))


def insert_predictions(first, n, shift, good):
    """Log n predictions of model `mon` as the server does (schema 6:
    inputs/outputs as little-endian doubles), the data's rows from
    `first` with the 10 `mean_*` features scaled by 1 + shift, and write
    their labels to a CSV for `orrery monitor labels`."""
    import csv
    import sqlite3
    import struct
    with open(os.environ["ORR_REPORT_DATA"]) as f:
        rows = list(csv.reader(f))
    head, data = rows[0], rows[1:]
    ti = head.index("malignant")
    db = sqlite3.connect(".orrery/orrery.db")
    path = "labels-%d.csv" % first
    with open(path, "w") as out:
        out.write("request_id,label\n")
        for i in range(n):
            r = data[(first + i) % len(data)]
            x = [float(v) for j, v in enumerate(r) if j != ti]
            x = [v * (1 + shift) if j < 10 else v for j, v in enumerate(x)]
            y = float(r[ti])
            p = 0.1 + 0.8 * y if good else 0.5
            rid = "req-%d" % (first + i)
            db.execute("INSERT INTO predictions (request_id, model, version,"
                       " ts_ms, latency_us, inputs, outputs, input_cols,"
                       " output_cols) VALUES (?, 'mon', '1', ?, 100, ?, ?,"
                       " ?, 1)", (rid, 1795000000000 + (first + i) * 1000,
                                  struct.pack("<%dd" % len(x), *x),
                                  struct.pack("<d", p), len(x)))
            out.write("%s,%s\n" % (rid, r[ti]))
    db.commit()
    db.close()
    return path


def orrery(*args):
    return subprocess.run([ORRERY, *args], capture_output=True, text=True,
                          timeout=120, env=env())


def case_e2e():
    """Train and register, log predictions, `orrery monitor run` twice
    (the second window shifted), then the report of what it stored."""
    here = os.path.dirname(os.path.abspath(__file__))
    r = orrery("run", os.path.join(here, "..", "monitor", "train.lua"),
               "--param",
               "data=" + os.environ["ORR_REPORT_DATA"])
    check(r.returncode == 0, "training ran: %s" % r.stderr[-400:])
    if r.returncode:
        return
    for first, shift, good in ((0, 0.0, True), (200, 0.5, False)):
        labels = insert_predictions(first, 200, shift, good)
        r = orrery("monitor", "labels", labels, "--model", "mon")
        check(r.returncode == 0, "labels imported: %s" % r.stderr)
        r = orrery("monitor", "run", "mon", "--window", "200")
        check(r.returncode in (0, 3), "monitor run: %d %s" %
              (r.returncode, r.stderr))
    r = run("mon", "--json")
    check(r.returncode == 0, "report --json: %s" % r.stderr)
    doc = json.loads(r.stdout) if r.returncode == 0 else {}
    wins = doc.get("windows", [])
    check(len(wins) == 2 and all(w["rows"] == 200 for w in wins),
          "the two stored windows")
    feats = {f["name"]: f for f in doc.get("features", [])}
    check(len(feats) >= 30, "every feature reported (%d)" % len(feats))
    outs = [n for n, f in feats.items() if f.get("output")]
    check(outs == ["prediction"],
          "the monitor marks the model's output, only it: %s" % outs)
    radius = feats.get("mean_radius", {})
    check(radius.get("drifted") is True and
          radius.get("score_history", [None])[0] is not None,
          "the shifted feature drifted, with its history")
    check(feats.get("radius_error", {}).get("drifted") is False,
          "an unshifted feature did not")
    check(radius.get("reference", {}) and
          radius["reference"]["type"] == "numeric" and
          radius.get("current") and
          len(radius["current"]["counts"]) ==
          len(radius["reference"]["counts"]),
          "reference and current histograms on the same bins")
    names = [f["name"] for f in doc.get("features", [])]
    first_stable = next((i for i, f in enumerate(doc.get("features", []))
                         if f["drifted"] is not True), len(names))
    check(all(f["drifted"] is not True
              for f in doc.get("features", [])[first_stable:]),
          "drifted features first")
    acc = next((q for q in doc.get("quality", [])
                if q["metric"] == "accuracy"), None)
    check(acc is not None and acc["registered"] is not None and
          acc["history"][0] > acc["history"][1],
          "quality over time against registration: %r" % acc)
    check(wins and wins[-1]["drift_share"] > wins[0]["drift_share"],
          "dataset drift share grew")
    r = run("mon")
    check(r.returncode == 0 and "mean_radius" in r.stdout,
          "terminal table")
    text, p = parse(".orrery/reports/mon.html")
    check(not p.errors and not p.stack, "well-formed: %s" % p.errors[:3])
    check_self_contained(text, p)
    dist = [s for s in p.svgs if "dist" in s.get("class", "").split()]
    check(len(dist) == len(feats), "one distribution chart per feature")


CASES = {"table": case_table, "html": case_html, "json": case_json,
         "last": case_last, "no_windows": case_no_windows,
         "no_data": case_no_data, "usage": case_usage, "color": case_color,
         "atomic": case_atomic, "e2e": case_e2e}

with tempfile.TemporaryDirectory(prefix="orr-report-") as tmp:
    os.chdir(tmp)
    CASES[CASE]()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
