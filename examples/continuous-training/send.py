#!/usr/bin/env python3
"""examples/continuous-training/send.py - production traffic for the loop.

  send.py URL MODEL FILE.csv --label COLUMN [--prefix req] [--labels N]
          [--batch 1]

Sends each row of FILE.csv (without the label column) to
URL/v2/models/MODEL/infer as a KServe V2 request with its own request
id (PREFIX-ROW), then posts the true labels of the first N rows (all by
default) to URL/v2/models/MODEL/feedback, the way late ground truth
arrives.  Prints how many requests each model version answered (the
X-Orrery-Model-Version header).  Standard library only; loopback only.
"""
import argparse
import collections
import csv
import http.client
import json
import sys
import urllib.parse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("model")
    ap.add_argument("csv")
    ap.add_argument("--label", required=True)
    ap.add_argument("--prefix", default="req")
    ap.add_argument("--labels", type=int, default=-1,
                    help="post the labels of the first N rows (-1: all)")
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("send.py: loopback URLs only")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or args.label not in rows[0]:
        sys.exit("send.py: %s has no column %s" % (args.csv, args.label))
    features = [c for c in rows[0] if c != args.label]
    versions = collections.Counter()
    labels = []
    for i, r in enumerate(rows):
        rid = "%s-%d" % (args.prefix, i)
        body = {"id": rid, "inputs": [{
            "name": "input", "shape": [1, len(features)],
            "datatype": "FP64", "data": [float(r[c]) for c in features]}]}
        conn.request("POST", "/v2/models/%s/infer" % args.model,
                     json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read()
        if resp.status != 200:
            sys.exit("send.py: request %s: HTTP %d %s" %
                     (rid, resp.status, text[:200]))
        versions[resp.getheader("X-Orrery-Model-Version")] += 1
        if args.labels < 0 or i < args.labels:
            labels.append({"id": rid, "label": float(r[args.label])})
    posted = 0
    for k in range(0, len(labels), 200):
        conn.request("POST", "/v2/models/%s/feedback" % args.model,
                     json.dumps(labels[k:k + 200]),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        text = resp.read()
        if resp.status != 200:
            sys.exit("send.py: feedback: HTTP %d %s" % (resp.status,
                                                        text[:200]))
        posted += len(labels[k:k + 200])
    answered = ", ".join("version %s: %d" % kv
                         for kv in sorted(versions.items()))
    print("sent %d requests (%s); posted %d labels" %
          (len(rows), answered, posted))


if __name__ == "__main__":
    main()
