#!/usr/bin/env python3
"""examples/continuous-training/stream.py - production data for the loop.

Two streams, both written as CSV with their label column, standard
library only:

  stream.py cancer --out prod.csv [--rows 400] [--seed 1] [--shift 1.3]
      Rows drawn (with replacement, seeded) from the breast cancer data,
      as a new imaging device would measure them: the size and texture
      features are scaled by --shift (1.0: no drift).  The diagnosis
      (label) is the original one: the patients did not change, the
      measurements did, so a model trained on the old device misjudges
      them until it is retrained on labelled data from the new one.

  stream.py weather --out FILE --years 2012-2014 [--data FILE]
      Seattle's daily weather (data/seattle-weather.csv) for those years
      as a regression set: month, precipitation, temp_min, wind ->
      temp_max.  2015 drifted from 2012-2014 on its own (a record warm
      year), no synthetic shift needed.
"""
import argparse
import csv
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CANCER = os.path.join(HERE, "..", "data", "breast_cancer.csv")
WEATHER = os.path.join(HERE, "data", "seattle-weather.csv")

# What the new device measures differently: sizes read larger, texture
# (grey-level spread) wider.
SHIFTED = ("mean_radius", "mean_perimeter", "mean_area", "mean_texture",
           "worst_radius", "worst_perimeter", "worst_area",
           "worst_texture", "radius_error", "perimeter_error",
           "area_error")


def fmt(v):
    return repr(round(v, 6)) if isinstance(v, float) else str(v)


def cancer(args):
    with open(args.data or CANCER, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if args.shift <= 0:
        sys.exit("stream.py: --shift must be > 0")
    rng = random.Random(args.seed)
    scale = [args.shift if h in SHIFTED else 1.0 for h in header]
    out = csv.writer(open(args.out, "w", newline=""), lineterminator="\n")
    out.writerow(header)
    for _ in range(args.rows):
        r = rng.choice(body)
        vals = []
        for h, s, v in zip(header, scale, r):
            if h == "malignant":
                vals.append(v)
            else:
                vals.append(fmt(float(v) * s))
        out.writerow(vals)


def weather(args):
    lo, _, hi = args.years.partition("-")
    lo, hi = int(lo), int(hi or lo)
    with open(args.data or WEATHER, newline="") as f:
        rd = csv.DictReader(f)
        out = csv.writer(open(args.out, "w", newline=""),
                         lineterminator="\n")
        out.writerow(["month", "precipitation", "temp_min", "wind",
                      "temp_max"])
        n = 0
        for r in rd:
            year, month, _ = r["date"].split("/")
            if lo <= int(year) <= hi:
                out.writerow([int(month), r["precipitation"], r["temp_min"],
                              r["wind"], r["temp_max"]])
                n += 1
    if not n:
        sys.exit("stream.py: no rows for years %s" % args.years)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="stream", required=True)
    c = sub.add_parser("cancer")
    c.add_argument("--out", required=True)
    c.add_argument("--rows", type=int, default=400)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--shift", type=float, default=1.3)
    c.add_argument("--data")
    w = sub.add_parser("weather")
    w.add_argument("--out", required=True)
    w.add_argument("--years", required=True)
    w.add_argument("--data")
    args = ap.parse_args()
    cancer(args) if args.stream == "cancer" else weather(args)


if __name__ == "__main__":
    main()
