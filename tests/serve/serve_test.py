#!/usr/bin/env python3
"""tests/serve/serve_test.py - `orrery serve` through the real binary and a
real HTTP client (http.client), on loopback only.

    serve_test.py ORRERY_BIN PREDICT_REF REPO_ROOT CASE

Each case trains the quickstart model in a fresh temporary site, serves
models:/cancer@champion on a free port and checks one area.  Servers are
stopped by PID.  Waits are bounded polls on observable state, never
sleeps.  Prints "N passed, N failed".
"""
import csv
import http.client
import json
import os
import re
import resource
import socket
import struct
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import orrproc  # noqa: E402

BIN, REF, ROOT, CASE = sys.argv[1:5]
DATA = os.path.join(ROOT, "examples", "data", "breast_cancer.csv")
PIPELINE = os.path.join(ROOT, "examples", "quickstart", "pipeline.lua")
DEADLINE = 60.0          # bound for every wait on the server

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("  FAIL: " + what, file=sys.stderr)
    return cond


def run(*args, env=None, ok=True):
    p = subprocess.run([BIN] + list(args), cwd=SITE, env=env or ENV,
                       capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise RuntimeError("orrery %s failed (%d): %s" %
                           (" ".join(args), p.returncode, p.stderr))
    return p


class Server(orrproc.Proc):
    def __init__(self, *models, extra=(), env=None):
        super().__init__(
            [BIN, "serve"] + list(models) + ["--port", "0", "--poll-ms",
                                             "50"] + list(extra),
            SITE, env or ENV, r"^listening on http://127\.0\.0\.1:(\d+)$",
            DEADLINE, "serve")
        self.port = int(self.match.group(1))

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        finally:
            c.close()

    def json(self, method, path, body=None, headers=None):
        st, h, data = self.request(method, path, body, headers)
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        return st, h, doc


def rows(n, start=0):
    with open(DATA) as f:
        rd = csv.reader(f)
        head = next(rd)
        body = [r for r in rd]
    feats = [h for h in head if h != "malignant"]
    idx = [head.index(h) for h in feats]
    sel = body[start:start + n]
    return feats, [[float(r[i]) for i in idx] for r in sel], head, sel


def reference(uri, n, start=0):
    """Probabilities from the runtime in-process, for rows [start, n)."""
    _, _, head, sel = rows(n, start)
    path = os.path.join(SITE, "ref.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(sel)
    p = subprocess.run([REF, uri, path, "malignant"], cwd=SITE, env=ENV,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("predict_ref: " + p.stderr)
    return [float(x) for x in p.stdout.split()]


def close(a, b, tol=1e-12):
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b))


def v2_body(data, shape, dtype="FP64", rid=None):
    b = {"inputs": [{"name": "input", "shape": shape, "datatype": dtype,
                     "data": data}]}
    if rid is not None:
        b["id"] = rid
    return b


def train(*params):
    args = ["run", PIPELINE]
    for p in params:
        args += ["--param", p]
    return run(*args).stdout


# ---------------------------------------------------------------- cases

def kept_alive(s):
    """A connection to server s that has had one answer and stays open:
    surely accepted (and counted) by the server."""
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b'{"live": true}' not in got:
        more = c.recv(4096)
        if not more:
            break
        got += more
    check(b'{"live": true}' in got, "kept-alive connection")
    return c


def case_v2():
    s = Server("models:/cancer@champion")
    try:
        st, _, d = s.json("GET", "/v2")
        check(st == 200 and d["name"] == "orrery", "GET /v2")
        st, _, d = s.json("GET", "/v2/health/live")
        check(st == 200 and d == {"live": True}, "live")
        st, _, d = s.json("GET", "/v2/health/ready")
        check(st == 200 and d == {"ready": True}, "ready")
        st, h, d = s.json("GET", "/v2/models/cancer")
        check(st == 200 and d["name"] == "cancer" and d["versions"] == ["1"]
              and d["inputs"][0]["shape"] == [-1, 30]
              and d["outputs"][0]["shape"] == [-1, 1]
              and len(d["parameters"]["feature_names"]) == 30,
              "model metadata: %r" % d)
        check(h.get("X-Orrery-Model-Version") == "1", "version header")
        st, _, d = s.json("GET", "/v2/models/cancer/versions/1")
        check(st == 200 and d["versions"] == ["1"], "versions/1 metadata")
        st, _, d = s.json("GET", "/v2/models/cancer/ready")
        check(st == 200 and d["ready"] is True, "model ready")
        st, _, d = s.json("GET", "/v2/models/cancer/versions/1/ready")
        check(st == 200 and d["ready"] is True, "versions/1 ready")

        ref = reference("models:/cancer/1", 40)
        _, x, _, _ = rows(40)
        flat = [v for r in x for v in r]
        st, h, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(flat, [40, 30], rid="req-7"))
        check(st == 200, "infer flat: %d %r" % (st, d))
        if st == 200:
            out = d["outputs"][0]
            check(d["id"] == "req-7", "id echoed")
            check(d["model_name"] == "cancer" and d["model_version"] == "1",
                  "model name/version in the answer")
            check(out["shape"] == [40, 1] and out["datatype"] == "FP64",
                  "output shape")
            check(close(out["data"], ref), "same probabilities as the "
                  "runtime to 1e-12")
        st, _, d = s.json("POST", "/v2/models/cancer/versions/1/infer",
                          v2_body(x, [40, 30]))
        check(st == 200 and close(d["outputs"][0]["data"], ref),
              "infer nested data, versioned path")
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body([v for v in flat[:30]], [1, 30], "FP32"))
        check(st == 200 and abs(d["outputs"][0]["data"][0] - ref[0]) < 1e-4,
              "FP32 input")
        ints = [int(v) for v in flat[:30]]
        for dt in ("INT32", "INT64"):
            st, _, d = s.json("POST", "/v2/models/cancer/infer",
                              v2_body(ints, [1, 30], dt))
            check(st == 200 and len(d["outputs"][0]["data"]) == 1, dt)
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body([True] * 30, [1, 30], "BOOL"))
        check(st == 200, "BOOL input")
        st, _, _ = s.json("GET", "/v2/models/cancer/versions/9")
        check(st == 404, "unknown version 404")
        # One request spelled the ways the body readers part on (the
        # text reader takes the first two, jansson the rest): the same
        # answer, byte for byte, and the same request id header.
        rows2 = json.dumps(x[:2])
        spellings = [
            json.dumps(v2_body(x[:2], [2, 30], rid="r-9")),
            ' { "outputs" : [ {"name": "output"} ] ,\n\t"parameters": '
            '{"binary_data_output": false, "x": [1, {}]}, "inputs": [ { '
            '"data": %s, "parameters": {"content_type": "np"}, '
            '"datatype": "FP64", "shape": [2, 30], "name": "input"} ], '
            '"id": "r-9"}\r\n' % rows2,
            json.dumps(v2_body(x[:2], [2, 30], rid="r-9")).replace(
                '"r-9"', '"r\\u002d9"'),
            '{"id": "r-9", "inputs": [{"name": "input", "shape": [2, 30], '
            '"datatype": "FP64", "data": %s, "name": "input"}]}' % rows2,
        ]
        answers = set()
        for body in spellings:
            st, h, raw = s.request("POST", "/v2/models/cancer/infer", body,
                                   {"Content-Type": "application/json"})
            check(st == 200 and h.get("X-Request-Id") == "r-9",
                  "spelling %.80r: %d %r" % (body, st, raw))
            answers.add(raw)
        check(len(answers) == 1, "one answer for every spelling: %r"
              % answers)
    finally:
        check(s.stop() == 0, "exit 0 on SIGTERM")


def case_invocations():
    s = Server("models:/cancer@champion")
    try:
        n = 12
        ref = reference("models:/cancer/1", n)
        feats, x, head, sel = rows(n)
        bodies = {
            "dataframe_split": {"dataframe_split": {"columns": feats,
                                                    "data": x}},
            "dataframe_split reordered": {"dataframe_split": {
                "columns": feats[::-1], "data": [r[::-1] for r in x]}},
            "dataframe_records": {"dataframe_records": [
                dict(zip(feats, r)) for r in x]},
            "instances": {"instances": x},
            "instances as objects": {"instances": [
                dict(zip(feats, r)) for r in x]},
            "inputs columnar": {"inputs": {f: [r[i] for r in x]
                                           for i, f in enumerate(feats)}},
            "inputs rows": {"inputs": x},
        }
        for name, b in bodies.items():
            st, h, d = s.json("POST", "/invocations", b)
            check(st == 200 and close(d["predictions"], ref),
                  "/invocations %s: %d %r" % (name, st, d))
            check(h.get("X-Orrery-Model-Version") == "1",
                  "version header on /invocations")
        text = ",".join(head) + "\r\n" + "\r\n".join(
            ",".join(r) for r in sel) + "\r\n"
        st, _, d = s.json("POST", "/invocations", text,
                          {"Content-Type": "text/csv"})
        check(st == 200 and close(d["predictions"], ref),
              "/invocations CSV (with the label column, ignored)")
        quoted = ",".join('"%s"' % h for h in head) + "\n" + "\n".join(
            ",".join(r) for r in sel)
        st, _, d = s.json("POST", "/invocations", quoted,
                          {"Content-Type": "text/csv; charset=utf-8"})
        check(st == 200 and close(d["predictions"], ref),
              "/invocations CSV, quoted header, no final newline")
        for path in ("/ping", "/health"):
            st, _, _ = s.request("GET", path)
            check(st == 200, path)
        st, _, data = s.request("GET", "/version")
        check(st == 200 and re.match(rb"\d+\.\d+\.\d+", data), "/version")
    finally:
        check(s.stop() == 0, "exit 0")


METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? '
                    r'([-+]?[0-9.eE+-]+|\+Inf|NaN)$')


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            check(not line or re.match(r"# (HELP|TYPE) \w+ ", line),
                  "comment line %r" % line)
            continue
        m = METRIC.match(line)
        if not check(m is not None, "metric line %r" % line):
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"',
                                         m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def case_metrics():
    s = Server("models:/cancer@champion")
    try:
        _, x, _, _ = rows(5)
        for _ in range(3):
            st, _, _ = s.json("POST", "/v2/models/cancer/infer",
                              v2_body(x, [5, 30]))
            check(st == 200, "infer")
        st, _, _ = s.json("POST", "/v2/models/cancer/infer", "{")
        check(st == 400, "bad request")
        st, _, _ = s.json("POST", "/invocations", {"instances": x[:1]})
        check(st == 200, "invocations")
        st, h, data = s.request("GET", "/metrics")
        check(st == 200 and h.get("Content-Type", "").startswith(
            "text/plain; version=0.0.4"), "metrics content type")
        m = parse_metrics(data.decode())

        def g(name, **labels):
            return m.get((name, tuple(sorted(labels.items()))))
        lab = {"model": "cancer", "version": "1"}
        check(g("orrery_model_requests_total", code="200", **lab) == 4,
              "4 answered 200")
        check(g("orrery_model_requests_total", code="400", **lab) == 1,
              "1 answered 400")
        check(g("orrery_model_request_duration_seconds_count", **lab) == 5,
              "latency count 5")
        check(g("orrery_model_request_duration_seconds_bucket", le="+Inf",
                **lab) == 5, "latency +Inf bucket")
        check(g("orrery_model_batch_rows_count", **lab) == 4,
              "batch count 4")
        check(g("orrery_model_batch_rows_sum", **lab) == 16,
              "batch rows sum 16")
        check(g("orrery_model_batch_rows_bucket", le="4", **lab) == 1,
              "batch bucket le=4 holds the 1-row request")
        check(g("orrery_http_requests_total", code="200") == 4,
              "http 200 total before the scrape")
        # The gauge counts a request until libmicrohttpd reports it
        # completed, which may come after the client has its answer: poll
        # (bounded) until only the scrape itself is in flight.
        inflight = g("orrery_http_in_flight")
        check(inflight is not None and inflight >= 1,
              "in flight: at least the scrape")
        for _ in range(200):
            if inflight == 1:
                break
            _, _, data = s.request("GET", "/metrics")
            inflight = parse_metrics(data.decode()).get(
                ("orrery_http_in_flight", ()))
        check(inflight == 1, "in flight: the scrape alone, once others end")
    finally:
        check(s.stop() == 0, "exit 0")


def case_bad_input():
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write('server = { max_body = 4096 }\n')
    s = Server("models:/cancer@champion")
    try:
        _, x, _, _ = rows(2)
        flat = [v for r in x for v in r]
        cases = [
            ("POST", "/v2/models/cancer/infer", "{\"inputs\": [", 400,
             "malformed JSON"),
            ("POST", "/v2/models/cancer/infer", "[1, 2]", 400, "object"),
            ("POST", "/v2/models/cancer/infer", {"inputs": []}, 400,
             "inputs"),
            ("POST", "/v2/models/cancer/infer", v2_body(flat, [2, 29]), 400,
             "does not match"),
            ("POST", "/v2/models/cancer/infer", v2_body(flat, [3, 30]), 400,
             "needs 90"),
            ("POST", "/v2/models/cancer/infer", v2_body(flat[:59], [2, 30]),
             400, "needs 60"),
            ("POST", "/v2/models/cancer/infer", v2_body(flat, [60]), 400,
             "shape"),
            ("POST", "/v2/models/cancer/infer",
             v2_body(["a"] * 60, [2, 30], "BYTES"), 400,
             "unsupported datatype"),
            ("POST", "/v2/models/cancer/infer", v2_body(flat, [2, 30],
                                                        "INT32"),
             400, "integer"),
            ("POST", "/v2/models/cancer/infer",
             v2_body([None] * 60, [2, 30]), 400, "number"),
            ("POST", "/v2/models/cancer/infer",
             '{"inputs": [{"name": "i", "shape": [1, 30], "datatype": '
             '"FP64", "data": [NaN' + ', 1' * 29 + ']}]}', 400,
             "malformed JSON"),
            ("POST", "/v2/models/cancer/infer",
             v2_body([[[v] for v in flat]], [2, 30]), 400, "deeper"),
            ("POST", "/v2/models/cancer/infer",
             dict(v2_body(flat, [2, 30]), id=5), 400, "id"),
            ("POST", "/v2/models/nope/infer", v2_body(flat, [2, 30]), 404,
             "no model 'nope' (serving: cancer)"),
            ("POST", "/v2/models/cancer/versions/7/infer",
             v2_body(flat, [2, 30]), 404, "no version '7'"),
            ("GET", "/v2/models/nope", None, 404, "no model"),
            ("GET", "/v2/models/cancer/infer", None, 405, "not allowed"),
            ("DELETE", "/v2", None, 405, "not allowed"),
            ("POST", "/metrics", "", 405, "not allowed"),
            ("GET", "/nowhere", None, 404, "no such endpoint"),
            ("GET", "/", None, 404, "no such endpoint"),
            ("GET", "/v2/models/cancer/a/b/c/d/e/ready", None, 404,
             "no such endpoint"),
            ("GET", "/v2/models/cancer/extra/bits", None, 404,
             "no such endpoint"),
            ("POST", "/invocations", {"instances": x, "inputs": x}, 400,
             "exactly one"),
            ("POST", "/invocations", {"dataframe_split": {
                "columns": ["a"], "data": [[1]]}}, 400, "missing column"),
            ("POST", "/invocations", {"instances": [["x"] * 30]}, 400,
             "expected a number"),
            ("POST", "/invocations", {"instances": [[1] * 29]}, 400,
             "got 29 columns"),
            ("POST", "/invocations", {"dataframe_records": [[1] * 30]}, 400,
             "list of objects"),
        ]
        for method, path, body, want, msg in cases:
            st, h, d = s.json(method, path, body)
            check(st == want and isinstance(d, dict) and msg in d.get(
                "error", ""), "%s %s %.60r: %d %r (want %d, '%s')" %
                  (method, path, body, st, d, want, msg))
            check(h.get("Content-Type") == "application/json",
                  "JSON error content type")
        st, h, _ = s.request("GET", "/v2/models/cancer/infer")
        check(h.get("Allow") == "POST", "Allow header on 405")
        st, _, d = s.json("GET", "//v2//models/cancer///ready/")
        check(st == 200 and d.get("ready") is True, "empty path segments "
              "are skipped: %d %r" % (st, d))
        csvs = [("text/csv", "a,b\n1,2\n", 400, "missing column"),
                ("text/csv", "", 400, "empty"),
                ("text/csv", ",".join(rows(1)[2]) + "\n" +
                 ",".join(["1"] * 30) + ",zz\n", 400, "not a number"),
                ("text/csv", ",".join(rows(1)[2]) + "\n1,2\n", 400,
                 "fields"),
                ("text/csv", '"unterminated\n', 400, "unterminated"),
                ("application/xml", "<x/>", 415, "unsupported content")]
        for ctype, body, want, msg in csvs:
            st, _, d = s.json("POST", "/invocations", body,
                              {"Content-Type": ctype})
            check(st == want and msg in (d or {}).get("error", ""),
                  "invocations %s %.40r: %d %r" % (ctype, body, st, d))
        big = json.dumps(v2_body([0.5] * 3000, [100, 30]))
        st, _, d = s.json("POST", "/v2/models/cancer/infer", big)
        check(st == 413 and "too large" in d["error"], "413 with length")
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        c.request("POST", "/v2/models/cancer/infer",
                  body=iter([big[i:i + 1000].encode()
                             for i in range(0, len(big), 1000)]),
                  headers={"Content-Type": "application/json"},
                  encode_chunked=True)
        r = c.getresponse()
        d = json.loads(r.read())
        check(r.status == 413 and "too large" in d["error"],
              "413 chunked: %d" % r.status)
        c.close()
        # Still serving everyone after all that.
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(flat, [2, 30]))
        check(st == 200 and len(d["outputs"][0]["data"]) == 2,
              "still serving after bad requests")
    finally:
        check(s.stop() == 0, "exit 0")


def case_token():
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write('server = { tokens = { env("ORRERY_SERVE_TOKEN") } }\n')
    env = dict(ENV, ORRERY_SERVE_TOKEN="s3cret-token-123")
    s = Server("models:/cancer@champion", env=env)
    try:
        _, x, _, _ = rows(1)
        body = v2_body(x, [1, 30])
        st, h, d = s.json("POST", "/v2/models/cancer/infer", body)
        check(st == 401 and "token" in d["error"], "401 without a token")
        check(h.get("WWW-Authenticate") == "Bearer", "WWW-Authenticate")
        st, _, _ = s.json("POST", "/v2/models/cancer/infer", body,
                          {"Authorization": "Bearer wrong"})
        check(st == 401, "401 with a wrong token")
        st, _, _ = s.json("POST", "/v2/models/cancer/infer", body,
                          {"Authorization": "Bearer s3cret-token-12"})
        check(st == 401, "401 with a prefix of the token")
        st, _, _ = s.json("POST", "/v2/models/cancer/infer", body,
                          {"Authorization": "Bearer s3cret-token-123"})
        check(st == 200, "200 with the token")
        st, _, _ = s.json("GET", "/metrics")
        check(st == 401, "/metrics needs the token")
        st, _, _ = s.json("GET", "/v2/health/ready")
        check(st == 200, "probes need no token")
        check("s3cret-token-123" not in s.stderr() + "".join(s.out),
              "token never printed")
    finally:
        check(s.stop() == 0, "exit 0")


def case_alias_switch():
    s = Server("models:/cancer@champion")
    stop = threading.Event()
    stats = {"ok": 0, "fail": [], "versions": []}
    _, x, _, _ = rows(3)
    body = json.dumps(v2_body(x, [3, 30]))

    def load():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        end = time.time() + DEADLINE * 2
        while not stop.is_set() and time.time() < end:
            try:
                c.request("POST", "/v2/models/cancer/infer", body=body,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                data = r.read()
                v = r.getheader("X-Orrery-Model-Version")
                if r.status == 200 and len(
                        json.loads(data)["outputs"][0]["data"]) == 3:
                    stats["ok"] += 1
                    if not stats["versions"] or stats["versions"][-1] != v:
                        stats["versions"].append(v)
                else:
                    stats["fail"].append((r.status, data[:200]))
            except Exception as exc:            # noqa: BLE001
                stats["fail"].append(repr(exc))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", s.port,
                                               timeout=30)
        c.close()

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        out = train("C=0.1")
        if "promoted to cancer@champion" not in out:
            digest = re.search(r"model artifact ([0-9a-f]{64})",
                               out).group(1)
            run("models", "register", "cancer", "--artifact", digest)
            run("models", "alias", "set", "cancer", "champion", "2")
        # Wait (bounded) until the clients see version 2.
        end = time.time() + DEADLINE
        while time.time() < end and "2" not in stats["versions"]:
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.01)
        seen = stats["ok"]
        end = time.time() + DEADLINE
        while time.time() < end and stats["ok"] < seen + 50:
            time.sleep(0.01)
        # A version that cannot load: the old one keeps serving.
        ds = re.search(r"dataset artifact ([0-9a-f]{64})", out).group(1)
        run("models", "register", "cancer", "--artifact", ds,
            "--flavor", "linear")
        run("models", "alias", "set", "cancer", "champion", "3")
        end = time.time() + DEADLINE
        while time.time() < end and "version 3" not in s.stderr():
            time.sleep(0.01)
        seen = stats["ok"]
        end = time.time() + DEADLINE
        while time.time() < end and stats["ok"] < seen + 50:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    check(stats["fail"] == [], "no failed request: %r" % stats["fail"][:3])
    check(stats["versions"][:1] == ["1"] and "2" in stats["versions"],
          "version header moved 1 -> 2: %r" % stats["versions"])
    check("3" not in stats["versions"], "broken version 3 never answered")
    check("version 3, which cannot serve" in s.stderr(),
          "load failure logged: %r" % s.stderr()[-300:])
    st, h, d = s.json("GET", "/v2/models/cancer")
    check(st == 200 and d["versions"] == ["2"], "metadata says 2")
    st, _, data = s.request("GET", "/metrics")
    check(b'version="1",code="200"' in data and
          b'version="2",code="200"' in data, "per-version metrics")
    check(s.stop() == 0, "exit 0")
    got = store_rows("SELECT version, status FROM deployments ORDER BY id")
    check((3, "failed") in got and [r for r in got if r[1] != "failed"]
          == [(1, "stopped"), (2, "stopped")],
          "deployments: 1 then 2, version 3 failed: %r" % got)
    print("  %d requests during the switches" % stats["ok"])


def case_shutdown():
    s = Server("models:/cancer@champion")
    _, x, _, _ = rows(1)
    st, _, _ = s.json("POST", "/v2/models/cancer/infer", v2_body(x, [1, 30]))
    check(st == 200, "serving")
    check(s.stop(signal.SIGINT) == 0, "SIGINT: exit 0")
    s2 = Server("models:/cancer/1")
    port = s2.port
    check(s2.stop(signal.SIGTERM) == 0, "SIGTERM: exit 0")
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=5).request(
            "GET", "/v2")
        check(False, "port closed after stop")
    except OSError:
        check(True, "port closed after stop")


def case_check():
    p = run("serve", "models:/cancer@champion", "--check", ok=False)
    check(p.returncode == 0 and "version 1" in p.stdout, "--check ok")
    p = run("serve", "models:/cancer@champion", "--check", "--json",
            ok=False)
    d = json.loads(p.stdout)
    check(d["ok"] and d["models"][0]["n_features"] == 30, "--check --json")
    p = run("serve", "models:/nope@champion", "--check", ok=False)
    check(p.returncode == 1 and "nope" in p.stderr, "--check unknown: %s" %
          p.stderr)
    p = run("serve", "models:/cancer/1", "models:/cancer@champion",
            "--check", ok=False)
    check(p.returncode == 1 and "named twice" in p.stderr, "same name twice")
    p = run("serve", ok=False)
    check(p.returncode == 2, "no MODEL: usage")
    p = run("serve", "models:/cancer/1", "--port", "99999", ok=False)
    check(p.returncode == 2, "bad port: usage")


def store_path():
    """The site's metadata store (the default: under the site root)."""
    for d, _, files in os.walk(SITE):
        if "orrery.db" in files:
            return os.path.join(d, "orrery.db")
    raise RuntimeError("no orrery.db under the site")


def store_rows(sql, args=(), want=None):
    """Rows of `sql`; with `want`, poll (bounded) until want(rows)."""
    import sqlite3
    end = time.time() + DEADLINE
    while True:
        db = sqlite3.connect(store_path(), timeout=30)
        try:
            got = db.execute(sql, args).fetchall()
        finally:
            db.close()
        if want is None or want(got) or time.time() > end:
            return got
        time.sleep(0.02)


def _varints(b, n):
    """n LEB128 varints from bytes b, zigzag-decoded; all of b used."""
    out, v, shift, i = [], 0, 0, 0
    while len(out) < n:
        byte = b[i]
        i += 1
        v |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append((v >> 1) ^ -(v & 1))
            v, shift = 0, 0
    check(i == len(b), "compact column used whole")
    return out


def compact_ids(b, n):
    """Schema 10: ids front-coded against the id before (meta/pcols.h)."""
    ids, prev, i = [], b"", 0
    for _ in range(n):
        same, shift = 0, 0
        while True:
            byte = b[i]
            i += 1
            same |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        end = b.index(b"\0", i)
        prev = prev[:same] + b[i:end]
        ids.append(prev)
        i = end + 1
    check(i == len(b), "compact ids used whole")
    return ids


def logged_rows(want=None):
    """Every logged prediction as (request_id, model, version, latency_us,
    inputs, outputs, input_cols, output_cols), oldest first: the legacy
    rows of `predictions`, then the chunks of `prediction_chunks` (schema
    7: columnar BLOBs, little-endian) expanded; with `want`, poll
    (bounded) until want(rows)."""
    end = time.time() + DEADLINE
    while True:
        got = [tuple(r) for r in store_rows(
            "SELECT request_id, model, version, latency_us, inputs,"
            " outputs, input_cols, output_cols FROM predictions"
            " ORDER BY id")]
        for (model, ver, n, icols, ocols, ids, lat, nrows, ins,
             outs, seg, seg_off, seg_bytes, layout, cols) in store_rows(
                "SELECT model, version, n, input_cols, output_cols,"
                " request_ids, latency_us, rows, inputs, outputs,"
                " segment, seg_offset, seg_bytes, seg_layout, cols_layout"
                " FROM prediction_chunks ORDER BY id"):
            if cols == 1:
                # Schema 10, what `orrery serve` writes: compact small
                # columns.
                rids = compact_ids(ids, n)
                lats = _varints(lat, n)
                nr = _varints(nrows, n)
            else:
                rids = ids.split(b"\0")[:-1]
                lats = struct.unpack("<%dq" % n, lat)
                nr = struct.unpack("<%dq" % n, nrows)
            pay = None
            if seg is not None:
                # Schema 8: the payload in a segment file of predictions/
                # beside the store, nothing inline.
                check(ins == b"" and outs is None and "/" not in seg,
                      "a chunk in segment %s" % seg)
                with open(os.path.join(os.path.dirname(store_path()),
                                       "predictions", seg), "rb") as f:
                    f.seek(seg_off)
                    pay = f.read(seg_bytes)
            if pay is not None and layout == 1:
                # Schema 9, layout 1 (what `orrery serve` writes): each
                # prediction's inputs then its outputs.
                check(len(rids) == n and
                      len(pay) == 8 * (icols + ocols) * sum(nr),
                      "a consistent chunk of %d (layout 1)" % n)
                off = 0
                for i in range(n):
                    ni, no = 8 * icols * nr[i], 8 * ocols * nr[i]
                    got.append((rids[i].decode(), model, ver, lats[i],
                                pay[off:off + ni],
                                pay[off + ni:off + ni + no] if ocols
                                else None, icols, ocols))
                    off += ni + no
                continue
            if pay is not None:
                # Layout 0: the inputs of all, then their outputs.
                check(layout is None, "layout %r" % layout)
                ni = 8 * icols * sum(nr)
                ins, outs = pay[:ni], pay[ni:] if ocols else None
            check(len(rids) == n and len(ins) == 8 * icols * sum(nr) and
                  (outs is None if not ocols
                   else len(outs) == 8 * ocols * sum(nr)),
                  "a consistent chunk of %d" % n)
            off = 0
            for i in range(n):
                got.append((rids[i].decode(), model, ver, lats[i],
                            ins[8 * icols * off:8 * icols * (off + nr[i])],
                            outs[8 * ocols * off:8 * ocols * (off + nr[i])]
                            if ocols else None, icols, ocols))
                off += nr[i]
        if want is None or want(got) or time.time() > end:
            return got
        time.sleep(0.02)


def case_logging():
    s = Server("models:/cancer@champion")
    try:
        _, x, _, _ = rows(3)
        flat = [v for r in x for v in r]
        st, h, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(flat, [3, 30], rid="req-log-1"))
        check(st == 200 and h.get("X-Request-Id") == "req-log-1",
              "V2 id is the request id header: %r" % h.get("X-Request-Id"))
        probs = d["outputs"][0]["data"] if st == 200 else []
        st, h, _ = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(x[0], [1, 30]),
                          {"X-Request-Id": "client-id-9"})
        check(st == 200 and h.get("X-Request-Id") == "client-id-9",
              "client X-Request-Id kept")
        st, h, _ = s.json("POST", "/invocations", {"instances": x[:1]})
        gen = h.get("X-Request-Id", "")
        check(st == 200 and re.match(r"^[0-9a-f]{16}-\d+$", gen),
              "generated request id: %r" % gen)
        st, h2, _ = s.json("POST", "/invocations", {"instances": x[:1]})
        check(h2.get("X-Request-Id") not in (None, gen),
              "generated ids differ")
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body([1.0], [1, 1]))
        check(st == 400, "a bad request is not logged")
        got = logged_rows(want=lambda r: len(r) >= 4)
        check(len(got) == 4, "4 predictions logged, errors not: %d" %
              len(got))
        if got:
            rid, model, ver, lat, ins, outs, icols, ocols = got[0]
            check(rid == "req-log-1" and model == "cancer" and ver == "1",
                  "id, model, version: %r" % (got[0][:3],))
            check(lat > 0, "latency recorded")
            # Chunks (schema 7): little-endian doubles, row-major.
            check(icols == 30 and isinstance(ins, bytes) and
                  list(struct.unpack("<%dd" % (len(ins) // 8), ins)) ==
                  [v for r in x for v in r], "inputs as binary rows")
            check(ocols == 1 and isinstance(outs, bytes) and
                  list(struct.unpack("<%dd" % (len(outs) // 8), outs)) ==
                  probs, "outputs as binary rows, exact")
            check(not store_rows("SELECT 1 FROM labels WHERE request_id ="
                                 " 'req-log-1'"), "no label yet")
        check({r[0] for r in got[1:]} == {"client-id-9", gen,
                                          h2.get("X-Request-Id")},
              "every request id logged")
        st, _, data = s.request("GET", "/metrics")
        m = parse_metrics(data.decode())
        check(m.get(("orrery_predictions_logged_total", ())) == 4.0 and
              m.get(("orrery_predictions_dropped_total", ())) == 0.0,
              "logged/dropped counters: %r" %
              {k: v for k, v in m.items() if "predictions" in k[0]})
        # A burst, 1 to 4 rows a request: written in chunks of several
        # predictions each (layout 1: record by record), every one read
        # back with exactly the values sent and answered.
        _, bx, _, _ = rows(100, 50)
        sent = {}
        for i in range(40):
            k = 1 + i % 4
            xs = bx[2 * i:2 * i + k]
            st, _, d = s.json("POST", "/v2/models/cancer/infer",
                              v2_body([v for r in xs for v in r], [k, 30],
                                      rid="burst-%d" % i))
            check(st == 200, "burst request %d: %d" % (i, st))
            if st == 200:
                sent["burst-%d" % i] = ([v for r in xs for v in r],
                                        d["outputs"][0]["data"])
        got = logged_rows(want=lambda r: sum(1 for g in r
                                             if g[0] in sent) == len(sent))
        bad = 0
        for rid, model, ver, lat, ins, outs, icols, ocols in got:
            if rid not in sent:
                continue
            vals, ys = sent.pop(rid)
            bad += (icols != 30 or ocols != 1 or
                    list(struct.unpack("<%dd" % (len(ins) // 8), ins)) != vals
                    or list(struct.unpack("<%dd" % (len(outs) // 8), outs))
                    != ys)
        check(bad == 0 and not sent, "burst logged exactly: %d wrong, %d "
              "missing" % (bad, len(sent)))
    finally:
        check(s.stop() == 0, "exit 0")
    # A sample of 0 logs nothing; a queue of one record drops what does
    # not fit (the writer may or may not have drained in between, so only
    # the sum is exact).
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write("server = { log_sample = 0 }\n")
    before = len(logged_rows())
    s = Server("models:/cancer/1")
    try:
        for _ in range(3):
            s.json("POST", "/v2/models/cancer/infer", v2_body(x[0], [1, 30]))
        st, _, data = s.request("GET", "/metrics")
        m = parse_metrics(data.decode())
        check(m.get(("orrery_predictions_logged_total", ())) == 0.0,
              "log_sample = 0: nothing logged")
    finally:
        check(s.stop() == 0, "exit 0")
    check(len(logged_rows()) == before == 44, "log_sample = 0: no row")
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write("server = { log_queue = 1 }\n")
    s = Server("models:/cancer/1")
    try:
        n = 40
        for i in range(n):
            s.json("POST", "/v2/models/cancer/infer",
                   v2_body(x[0], [1, 30], rid="q-%d" % i))
        st, _, data = s.request("GET", "/metrics")
        m = parse_metrics(data.decode())
        logged = m.get(("orrery_predictions_logged_total", ()), -1)
        dropped = m.get(("orrery_predictions_dropped_total", ()), -1)
        check(logged + dropped == n and logged >= 1,
              "full queue: logged %r + dropped %r == %d" %
              (logged, dropped, n))
    finally:
        check(s.stop() == 0, "exit 0")
    # Stop writes what was queued.
    got = sum(1 for r in logged_rows() if r[0].startswith("q-"))
    check(got == logged, "every queued record written by stop: %r" % got)
    # A chunk a batch (a quiet server's batches are single predictions),
    # no per-row index; the legacy table keeps its indexes for the rows
    # logged before and gets none now.
    got = store_rows("SELECT sum(n) FROM prediction_chunks")
    check(got[0][0] == len(logged_rows()) and
          not store_rows("SELECT 1 FROM predictions"),
          "every prediction in a chunk: %r" % got)
    st = store_rows("PRAGMA index_list(prediction_chunks)")
    check({r[1] for r in st} == {"prediction_chunks_time"}, "chunk index")
    st = store_rows("PRAGMA index_list(predictions)")
    check({r[1] for r in st} >= {"predictions_model",
                                 "predictions_request"}, "indexes")


def case_feedback():
    s = Server("models:/cancer@champion")
    try:
        _, x, _, _ = rows(3)
        for i in range(3):
            st, _, _ = s.json("POST", "/v2/models/cancer/infer",
                              v2_body(x[i], [1, 30], rid="fb-%d" % i))
            check(st == 200, "infer %d" % i)
        # No wait: the label waits for the log to be written.
        st, _, d = s.json("POST", "/v2/models/cancer/feedback",
                          {"id": "fb-0", "label": 1})
        check(st == 200 and d == {"labelled": 1}, "label one: %d %r" %
              (st, d))
        st, _, d = s.json("POST", "/v2/models/cancer/feedback",
                          [{"id": "fb-1", "label": {"y": 0}}])
        check(st == 200 and d == {"labelled": 1}, "label a list")
        # A label for an id not logged (yet) is kept and joins when the
        # prediction arrives (orri_predictions_label: ORR_ENOTFOUND after
        # storing it); the endpoint answers 202 "pending".
        st, _, d = s.json("POST", "/v2/models/cancer/feedback",
                          {"id": "nope", "label": 1})
        check(st == 202 and d == {"status": "pending", "labelled": 0,
                                  "pending": 1, "pending_ids": ["nope"]},
              "unknown id: 202 pending: %d %r" % (st, d))
        st, _, d = s.json("POST", "/v2/models/cancer/feedback",
                          [{"id": "fb-2", "label": 2},
                           {"id": "later-1", "label": 1}])
        check(st == 202 and d == {"status": "pending", "labelled": 1,
                                  "pending": 1,
                                  "pending_ids": ["later-1"]},
              "a list, one matched, one pending: %d %r" % (st, d))
        st, _, d = s.json("POST", "/v2/models/other/feedback",
                          {"id": "fb-0", "label": 1})
        check(st == 404, "unknown model: 404")
        for bad in ({"label": 1}, {"id": "fb-0"}, {"id": 3, "label": 1}, []):
            st, _, d = s.json("POST", "/v2/models/cancer/feedback", bad)
            check(st == 400 and "error" in d, "bad feedback %r: 400" % bad)
        st, _, d = s.json("POST", "/v2/models/cancer/feedback", "{nope")
        check(st == 400 and "JSON" in d["error"], "malformed: 400")
        st, _, _ = s.json("GET", "/v2/models/cancer/feedback")
        check(st == 405, "GET feedback: 405")
    finally:
        check(s.stop() == 0, "exit 0")
    # After a restart the server has not written fb-1 itself: it is found
    # in the log's chunks (no per-row index), still 200.
    s = Server("models:/cancer@champion")
    try:
        st, _, d = s.json("POST", "/v2/models/cancer/feedback",
                          {"id": "fb-1", "label": {"y": 0}})
        check(st == 200 and d == {"labelled": 1},
              "a prediction of the previous process: %d %r" % (st, d))
    finally:
        check(s.stop() == 0, "exit 0")
    got = dict(store_rows("SELECT request_id, label FROM labels"
                          " WHERE model = 'cancer'"))
    check(got == {"fb-0": "1", "fb-1": '{"y":0}', "nope": "1", "fb-2": "2",
                  "later-1": "1"},
          "labels stored, the unknown id's kept: %r" % got)


def case_deployments():
    q = ("SELECT d.version, d.alias, d.server, d.url, d.status,"
         " d.stopped_ms IS NOT NULL FROM deployments d"
         " JOIN registered_models r ON r.id = d.model_id"
         " WHERE r.name = 'cancer' ORDER BY d.id")
    s = Server("models:/cancer@champion")
    url = "http://127.0.0.1:%d" % s.port
    try:
        got = store_rows(q)
        check(got == [(1, "champion", "http", url, "running", 0)],
              "a running row when serving: %r" % got)
        train("C=0.1")
        run("models", "alias", "set", "cancer", "champion", "2")
        got = store_rows(q, want=lambda r: len(r) >= 2)
        check(got == [(1, "champion", "http", url, "stopped", 1),
                      (2, "champion", "http", url, "running", 0)],
              "alias switch: old row closed, new one running: %r" % got)
    finally:
        check(s.stop() == 0, "exit 0")
    got = store_rows(q)
    check([r[4] for r in got] == ["stopped", "stopped"] and
          all(r[5] for r in got), "stop closes the rows: %r" % got)
    s = Server("models:/cancer/1")
    check(s.stop() == 0, "exit 0")
    got = store_rows(q)
    check(len(got) == 3 and got[2][:2] == (1, None) and
          got[2][4] == "stopped", "pinned: no alias: %r" % got[-1:])


def fnv1a(key):
    h = 0xcbf29ce484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def two_versions():
    """Version 2 as cancer@challenger, version 1 as cancer@champion."""
    train("C=0.1")
    run("models", "alias", "set", "cancer", "champion", "1")
    run("models", "alias", "set", "cancer", "challenger", "2")


def case_canary():
    two_versions()
    _, x, _, _ = rows(1)
    body = v2_body(x[0], [1, 30])
    s = Server("models:/cancer@champion",
               extra=("--canary", "models:/cancer@challenger=30%"))
    try:
        check("(canary, 30%)" in "".join(s.out), "canary listed: %r" % s.out)
        want, got = [], []
        for i in range(200):
            key = "user-%d" % i
            want.append("2" if fnv1a(key) % 10000 < 3000 else "1")
            st, h, _ = s.json("POST", "/v2/models/cancer/infer", body,
                              {"X-Request-Key": key})
            got.append(h.get("X-Orrery-Model-Version") if st == 200 else st)
        check(got == want, "sticky split by X-Request-Key")
        check(0 < want.count("2") < 200, "both versions answer")
        again = [s.json("POST", "/v2/models/cancer/infer", body,
                        {"X-Request-Key": "user-%d" % i})[1].get(
                            "X-Orrery-Model-Version") for i in range(20)]
        check(again == want[:20], "same key, same version")
        seen = set()
        for _ in range(200):
            st, h, _ = s.json("POST", "/invocations", {"instances": x[:1]})
            seen.add(h.get("X-Orrery-Model-Version") if st == 200 else st)
        check(seen == {"1", "2"}, "random split reaches both: %r" % seen)
        st, h, d = s.json("POST", "/v2/models/cancer/versions/2/infer", body)
        check(st == 200 and h.get("X-Orrery-Model-Version") == "2" and
              d["model_version"] == "2", "explicit canary version")
        st, h, d = s.json("GET", "/v2/models/cancer")
        check(st == 200 and d["versions"] == ["1"], "metadata: primary")
        st, _, data = s.request("GET", "/metrics")
        m = parse_metrics(data.decode())
        n2 = m.get(("orrery_model_requests_total", (
            ("code", "200"), ("model", "cancer"), ("version", "2"))), 0)
        check(n2 >= want.count("2") + 1, "per-version metrics: %r" % n2)
    finally:
        check(s.stop() == 0, "exit 0")
    for bad in ("models:/cancer@challenger=150%", "models:/cancer@challenger",
                "=10%", "models:/cancer@challenger=x"):
        p = run("serve", "models:/cancer@champion", "--canary", bad,
                "--check", ok=False)
        check(p.returncode == 2, "bad --canary %r: usage" % bad)
    p = run("serve", "models:/cancer@champion", "--canary",
            "models:/cancer/2=5", "--canary", "models:/cancer/1=5",
            "--check", ok=False)
    check(p.returncode == 1 and "canary already" in p.stderr,
          "two canaries: %r" % p.stderr)


def case_shadow():
    two_versions()
    _, x, _, _ = rows(2)
    s = Server("models:/cancer@champion",
               extra=("--shadow", "models:/cancer@challenger"))
    try:
        vers = set()
        for i in range(5):
            st, h, _ = s.json("POST", "/v2/models/cancer/infer",
                              v2_body(x[i % 2], [1, 30], rid="sh-%d" % i))
            vers.add(h.get("X-Orrery-Model-Version") if st == 200 else st)
        check(vers == {"1"}, "the primary answers: %r" % vers)
        got = sorted((r[0], r[2]) for r in
                     logged_rows(want=lambda r: len(r) >= 10))
        check(got == sorted(("sh-%d" % i, v) for i in range(5)
                            for v in ("1", "2")),
              "both versions logged under each id: %r" % got)
        key = ("orrery_model_requests_total", (
            ("code", "200"), ("model", "cancer"), ("version", "2")))
        end = time.time() + DEADLINE
        n2 = 0
        while time.time() < end:
            _, _, data = s.request("GET", "/metrics")
            n2 = parse_metrics(data.decode()).get(key, 0)
            if n2 >= 5:
                break
            time.sleep(0.02)
        check(n2 == 5, "shadow metered per version: %r" % n2)
    finally:
        check(s.stop() == 0, "exit 0")


def case_access_log():
    # The site's form: server = { http = { access_log = PATH } }.
    path = os.path.join(SITE, "access.log")
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write('server = { backend = "http", http = {\n'
                '  access_log = "%s",\n'
                '  tokens = { env("ORRERY_SERVE_TOKEN") } } }\n' % path)
    token = "s3cret-access-token"
    env = dict(ENV, ORRERY_SERVE_TOKEN=token)
    auth = {"Authorization": "Bearer " + token}
    s = Server("models:/cancer@champion", env=env)
    try:
        _, x, _, _ = rows(2)
        st, _, _ = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(x, [2, 30], rid="acc-1"), auth)
        check(st == 200, "infer")
        st, _, _ = s.json("GET", "/v2/models/nope", None, auth)
        check(st == 404, "404")
        st, _, _ = s.json("GET", "/metrics", None,
                          {"Authorization": "Bearer wrong-" + token})
        check(st == 401, "401")
        st, _, _ = s.json("GET", "/v2/health/live")
        check(st == 200, "live")
    finally:
        check(s.stop() == 0, "exit 0")
    with open(path) as f:
        text = f.read()
    lines = [json.loads(line) for line in text.splitlines()]
    check(len(lines) == 4, "one line per request: %d" % len(lines))
    check(token not in text, "the bearer token is never logged")
    keys = {"time", "request_id", "method", "path", "model", "version",
            "status", "bytes_in", "bytes_out", "latency_us", "remote"}
    check(all(set(ln) == keys for ln in lines), "fields: %r" %
          [sorted(ln) for ln in lines])
    if len(lines) == 4:
        a, b, c, d = lines
        check(a["request_id"] == "acc-1" and a["method"] == "POST" and
              a["path"] == "/v2/models/cancer/infer" and
              a["model"] == "cancer" and a["version"] == "1" and
              a["status"] == 200 and a["bytes_in"] > 500 and
              a["bytes_out"] > 50 and a["latency_us"] >= 0 and
              a["remote"] == "127.0.0.1", "infer line: %r" % a)
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
                       a["time"]) is not None, "ISO 8601 UTC time")
        check(b["status"] == 404 and b["model"] == "nope" and
              b["version"] is None and b["method"] == "GET", "404 line %r" % b)
        check(c["status"] == 401 and c["path"] == "/metrics", "401 line")
        check(d["status"] == 200 and d["path"] == "/v2/health/live" and
              d["request_id"] is None, "live line %r" % d)
    # --access-log - : the lines go to standard output after the
    # listening line; the command line wins over the site.
    s = Server("models:/cancer@champion", extra=["--access-log", "-"],
               env=env)
    try:
        st, _, _ = s.json("GET", "/v2/health/ready")
        check(st == 200, "ready")
    finally:
        check(s.stop() == 0, "exit 0")
    out = s.rest()
    got = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    check(len(got) == 1 and got[0]["path"] == "/v2/health/ready",
          "--access-log -: %r" % out)
    with open(path) as f:
        check(len(f.read().splitlines()) == 4, "the site's file untouched")
    p = run("serve", "models:/cancer@champion", "--port", "0",
            "--access-log", os.path.join(SITE, "no", "such", "dir.log"),
            env=env, ok=False)
    check(p.returncode != 0 and "access log" in p.stderr,
          "unwritable access log: %r" % p.stderr)


def case_slow_clients():
    # Thousands of stalled connections, a normal client still served, and
    # the stalled ones closed by the idle timeout.
    n = 2000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    n = min(n, want - 200)
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write('server = { idle_timeout = 2, max_connections = 3000,\n'
                '           max_body = 65536 }\n')
    s = Server("models:/cancer@champion", extra=["--workers", "2"])
    socks = []
    try:
        head = ("POST /v2/models/cancer/infer HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\nContent-Length: 500\r\n"
                "\r\n{\"inputs\": [").encode()
        for i in range(n):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
            # Half a request: the head only, or the head and some body.
            c.sendall(head[:40] if i % 2 else head)
            socks.append(c)
        ref = reference("models:/cancer/1", 3)
        _, x, _, _ = rows(3)
        for _ in range(5):
            st, _, d = s.json("POST", "/v2/models/cancer/infer",
                              v2_body(x, [3, 30]))
            check(st == 200 and close(d["outputs"][0]["data"], ref),
                  "served while %d connections stall: %d" % (n, st))
        # Limits that protect the server from a single client.
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          "[" * 30000 + "]" * 30000)
        check(st == 400 and "error" in d, "deeply nested JSON: 400")
        st, _, d = s.json("POST", "/v2/models/cancer/infer", "x" * 70000)
        check(st == 413, "body over the limit: 413")
        # Every stalled connection is closed by the server (EOF or reset);
        # bounded polling on the sockets' state, no timing assertion.
        end = time.time() + DEADLINE
        open_socks = list(socks)
        for c in open_socks:
            c.setblocking(False)
        while open_socks and time.time() < end:
            still = []
            for c in open_socks:
                try:
                    data = c.recv(4096)
                    if data:
                        still.append(c)     # an answer; EOF follows
                except BlockingIOError:
                    still.append(c)
                except OSError:
                    pass                    # reset: closed
            open_socks = still
            if open_socks:
                time.sleep(0.2)
        check(not open_socks, "stalled connections closed by the idle "
              "timeout: %d of %d still open" % (len(open_socks), n))
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(x, [3, 30]))
        check(st == 200 and close(d["outputs"][0]["data"], ref),
              "still serving afterwards")
    finally:
        for c in socks:
            c.close()
        check(s.stop() == 0, "exit 0")
    # One address may hold at most max_connections_per_ip connections.
    with open(os.path.join(SITE, "orrery.site.lua"), "w") as f:
        f.write('server = { max_connections_per_ip = 4 }\n')
    s = Server("models:/cancer@champion")
    socks = []
    try:
        for _ in range(4):
            socks.append(kept_alive(s))
        try:
            st, _, _ = s.json("GET", "/v2/health/live")
        except (OSError, http.client.HTTPException):
            st = None
        check(st is None, "a fifth connection from the address is refused")
        for c in socks:
            c.close()
        socks = []
        st, end = None, time.time() + DEADLINE
        while st != 200 and time.time() < end:
            try:
                st, _, _ = s.json("GET", "/v2/health/live")
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
        check(st == 200, "served again once those closed")
    finally:
        for c in socks:
            c.close()
        check(s.stop() == 0, "exit 0")


def v2_binary(dtype, values, shape, rid=None, binary_out=False, out=None):
    """A binary tensor data extension request, byte for byte as Triton's
    client writes it: the JSON header, then the raw little-endian tensor;
    Inference-Header-Content-Length is the header's length."""
    fmt = {"FP64": "d", "FP32": "f", "INT64": "q", "INT32": "i",
           "BOOL": "?"}[dtype]
    raw = struct.pack("<%d%s" % (len(values), fmt), *values)
    hdr = {"inputs": [{"name": "input", "shape": shape, "datatype": dtype,
                       "parameters": {"binary_data_size": len(raw)}}]}
    if rid is not None:
        hdr["id"] = rid
    if out is not None:
        hdr["outputs"] = out
    elif binary_out:
        hdr["outputs"] = [{"name": "output",
                           "parameters": {"binary_data": True}}]
    j = json.dumps(hdr).encode()
    return j + raw, {"Inference-Header-Content-Length": str(len(j)),
                     "Content-Type": "application/octet-stream"}


def binary_answer(h, data):
    """The JSON header and the output values of a binary answer."""
    n = int(h["Inference-Header-Content-Length"])
    doc = json.loads(data[:n])
    size = doc["outputs"][0]["parameters"]["binary_data_size"]
    raw = data[n:]
    return doc, list(struct.unpack("<%dd" % (size // 8), raw)), len(raw)


def case_binary():
    s = Server("models:/cancer@champion")
    try:
        st, _, d = s.json("GET", "/v2")
        check("binary_tensor_data" in d["extensions"], "extension listed")
        _, x, _, _ = rows(64)
        flat = [v for r in x for v in r]
        st, _, want = s.json("POST", "/v2/models/cancer/infer",
                             v2_body(flat, [64, 30], rid="j"))
        check(st == 200, "JSON reference")
        jout = want["outputs"][0]["data"]
        # Binary in, JSON out: identical to the JSON path.
        body, h = v2_binary("FP64", flat, [64, 30], rid="b-1")
        st, hh, d = s.json("POST", "/v2/models/cancer/infer", body, h)
        check(st == 200 and d["id"] == "b-1" and
              d["outputs"][0]["data"] == jout and
              d["outputs"][0]["shape"] == [64, 1],
              "binary FP64 in, JSON out == JSON path: %d %r" % (st, d))
        # Binary in, binary out.
        body, h = v2_binary("FP64", flat, [64, 30], rid="b-2",
                            binary_out=True)
        st, hh, data = s.request("POST", "/v2/models/cancer/infer", body, h)
        check(st == 200 and "Inference-Header-Content-Length" in hh,
              "binary answer header: %d %r" % (st, hh))
        if st == 200:
            doc, vals, nraw = binary_answer(hh, data)
            out = doc["outputs"][0]
            check(doc["id"] == "b-2" and out["datatype"] == "FP64" and
                  out["shape"] == [64, 1] and "data" not in out and
                  out["parameters"]["binary_data_size"] == 64 * 8 and
                  nraw == 64 * 8, "binary answer header: %r" % doc)
            check(vals == jout, "binary out == JSON path, bit for bit")
            check(hh.get("X-Request-Id") == "b-2", "X-Request-Id")
        # JSON in, binary out (binary_data_output for all outputs).
        st, hh, data = s.request(
            "POST", "/v2/models/cancer/infer",
            json.dumps(dict(v2_body(flat, [64, 30]),
                            parameters={"binary_data_output": True})),
            {"Content-Type": "application/json"})
        check(st == 200 and binary_answer(hh, data)[1] == jout,
              "JSON in, binary_data_output")
        # Other datatypes agree with the same datatype in JSON.
        ints = [int(v) for v in flat[:60]]
        for dt, vals in (("FP32", flat[:60]), ("INT64", ints),
                         ("INT32", ints), ("BOOL", [v > 1 for v in
                                                    flat[:60]])):
            st, _, dj = s.json("POST", "/v2/models/cancer/infer",
                               v2_body(vals, [2, 30], dt))
            body, h = v2_binary(dt, vals, [2, 30])
            st2, _, db = s.json("POST", "/v2/models/cancer/infer", body, h)
            check(st == 200 and st2 == 200 and
                  dj["outputs"][0]["data"] == db["outputs"][0]["data"],
                  "binary %s == JSON %s: %d %d" % (dt, dt, st, st2))
        # Bad binary requests: 400 with a message, the server goes on.
        body, h = v2_binary("FP64", flat, [64, 30])
        bad = [
            (body[:-8], h, "binary part has"),
            (body + b"\0" * 8, h, "no input claims"),
            (body, {"Inference-Header-Content-Length": str(len(body) + 1)},
             "past the body"),
            (body, {"Inference-Header-Content-Length": "12x"},
             "Inference-Header-Content-Length"),
            (body, {"Inference-Header-Content-Length": "5"},
             "malformed JSON header"),
            (body.replace(b'"binary_data_size": 15360',
                          b'"binary_data_size": 15352'), h,
             "needs 15360"),
            (body[:int(h["Inference-Header-Content-Length"])], {},
             "no binary part"),
        ]
        for b, hd, msg in bad:
            st, _, d = s.json("POST", "/v2/models/cancer/infer", b, hd)
            check(st == 400 and msg in (d or {}).get("error", ""),
                  "bad binary (%s): %d %r" % (msg, st, d))
        b2, h2 = v2_binary("BOOL", [True] * 30, [1, 30])
        b2 = b2[:-1] + b"\x02"
        st, _, d = s.json("POST", "/v2/models/cancer/infer", b2, h2)
        check(st == 400 and "BOOL" in d["error"] and
              "data[29]" in d["error"], "BOOL byte 2: 400 %r" % d)
        b3, h3 = v2_binary("FP64", [float("inf")] + flat[1:30], [1, 30])
        st, _, d = s.json("POST", "/v2/models/cancer/infer", b3, h3)
        check(st == 400 and "infinite" in d["error"], "inf: 400")
        b3, h3 = v2_binary("FP32", flat[:37] + [float("-inf")] + flat[38:60],
                           [2, 30])
        st, _, d = s.json("POST", "/v2/models/cancer/infer", b3, h3)
        check(st == 400 and "data[37]: infinite" in d["error"],
              "FP32 -inf: 400 %r" % d)
        b4, h4 = v2_binary("FP64", flat[:30], [1, 30],
                           out=[{"name": "probs"}])
        st, _, d = s.json("POST", "/v2/models/cancer/infer", b4, h4)
        check(st == 400 and "no output 'probs'" in d["error"],
              "unknown requested output: 400")
        st, _, d = s.json("POST", "/v2/models/cancer/infer", body, h)
        check(st == 200, "still serving")
    finally:
        check(s.stop() == 0, "exit 0")


def case_batching():
    # Concurrent 1-row requests from many connections, grouped by the
    # batcher: each must get its own row's answer and id.
    s = Server("models:/cancer@champion",
               extra=["--batch", "max_rows=16,max_delay_us=2000",
                      "--workers", "2"])
    n_threads, per = 16, 25
    ref = reference("models:/cancer/1", n_threads * per)
    _, x, _, _ = rows(n_threads * per)
    errors = []
    done = [0]
    lock = threading.Lock()

    def client(t):
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        try:
            for k in range(per):
                i = t * per + k
                rid = "bt-%d" % i
                if k % 5 == 4:          # two rows, and an /invocations
                    body = json.dumps({"instances": [x[i], x[i]]})
                    c.request("POST", "/invocations", body,
                              {"Content-Type": "application/json"})
                    r = c.getresponse()
                    d = json.loads(r.read())
                    ok = (r.status == 200 and
                          close(d["predictions"], [ref[i], ref[i]]))
                else:
                    body = json.dumps(v2_body(x[i], [1, 30], rid=rid))
                    c.request("POST", "/v2/models/cancer/infer", body,
                              {"Content-Type": "application/json"})
                    r = c.getresponse()
                    d = json.loads(r.read())
                    ok = (r.status == 200 and d.get("id") == rid and
                          r.getheader("X-Request-Id") == rid and
                          close(d["outputs"][0]["data"], [ref[i]]))
                if not ok:
                    with lock:
                        errors.append((i, r.status, d))
                with lock:
                    done[0] += 1
        except Exception as exc:        # noqa: BLE001
            with lock:
                errors.append(("exception", repr(exc)))
        finally:
            c.close()
    try:
        ts = [threading.Thread(target=client, args=(t,))
              for t in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(DEADLINE)
        check(done[0] == n_threads * per and not errors,
              "every batched request answered with its own rows: %d, %r" %
              (done[0], errors[:3]))
        # A bad request fails alone, and a request as big as a batch
        # is predicted directly.
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body([1.0] * 29, [1, 29]))
        check(st == 400, "bad request: 400")
        big = [v for r in x[:20] for v in r]
        st, _, d = s.json("POST", "/v2/models/cancer/infer",
                          v2_body(big, [20, 30]))
        check(st == 200 and close(d["outputs"][0]["data"], ref[:20]),
              "20 rows (over max_rows) predicted directly")
    finally:
        check(s.stop() == 0, "exit 0 with batching")
    p = run("serve", "models:/cancer@champion", "--batch", "max_delay_us=5",
            ok=False)
    check(p.returncode != 0 and "max_rows" in p.stderr,
          "--batch without max_rows: %r" % p.stderr)
    p = run("serve", "models:/cancer@champion", "--batch", "rows=5",
            ok=False)
    check(p.returncode != 0 and "unknown key" in p.stderr,
          "--batch bad key: %r" % p.stderr)


def case_workers():
    # Keep-alive connections are spread evenly over the worker threads,
    # whatever the order they are accepted in (issue 6): counters, no
    # timing.
    s = Server("models:/cancer@champion", extra=["--workers", "4"])
    socks = []
    try:
        for _ in range(8):
            socks.append(kept_alive(s))
        st, _, data = s.request("GET", "/metrics")
        check(st == 200, "metrics: 200")
        m = parse_metrics(data.decode())
        per = [v for (name, _), v in sorted(m.items())
               if name == "orrery_http_worker_connections_total"]
        check(len(per) == 4, "one counter per worker: %r" % per)
        check(sum(per) >= 9, "every connection counted: %r" % per)
        check(per and max(per) - min(per) <= 1,
              "connections spread evenly over the workers: %r" % per)
    finally:
        for c in socks:
            c.close()
        check(s.stop() == 0, "exit 0")


CASES = {"v2": case_v2, "invocations": case_invocations,
         "metrics": case_metrics, "bad_input": case_bad_input,
         "token": case_token, "alias_switch": case_alias_switch,
         "shutdown": case_shutdown, "check": case_check,
         "logging": case_logging, "feedback": case_feedback,
         "deployments": case_deployments, "canary": case_canary,
         "shadow": case_shadow, "access_log": case_access_log,
         "slow_clients": case_slow_clients, "binary": case_binary,
         "batching": case_batching, "workers": case_workers}

SITE = tempfile.mkdtemp(prefix="orrery-serve-test-")
ENV = dict(os.environ, ORRERY_SITE="")
try:
    train()
    CASES[CASE]()
except Exception as exc:                        # noqa: BLE001
    failed += 1
    print("  FAIL: %s: %r" % (CASE, exc), file=sys.stderr)
finally:
    shutil.rmtree(SITE, ignore_errors=True)
print("%s: %d passed, %d failed" % (CASE, passed, failed))
sys.exit(1 if failed else 0)
