#!/usr/bin/python3
"""The monitoring report rendered by a real browser (headless Chromium).

usage: browser_test.py ORRERY REPORT_FIXTURE [KEEP_DIR]
Writes the fixture report, then asks Chromium for the DOM it built
(--dump-dom) and a screenshot (--screenshot), and checks both: the SVG
charts are in the DOM, the hostile feature name is text not an element,
and the PNG shows the chart colours (decoded here with zlib + struct).
Exit 77 (skipped) when chromium is not installed.  Every browser run is
bounded by a timeout; HOME is a temporary directory.  KEEP_DIR, when
given, receives report.html and report.png to look at.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ORRERY, FIXTURE = sys.argv[1], sys.argv[2]
KEEP = sys.argv[3] if len(sys.argv) > 3 else None
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def browse(browser, home, *args):
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home,
               XDG_CACHE_HOME=home)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars",
           "--user-data-dir=" + os.path.join(home, "profile"), *args]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=90, env=env)
    except subprocess.TimeoutExpired:
        return None


def png_pixels(path):
    """(width, height, rows of bytes, channels) of an 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB",
                                                               body)
            if depth != 8 or interlace or ctype not in (2, 6):
                raise ValueError("unsupported PNG layout")
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * ch
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - ch] if x >= ch else 0
            b = prev[x]
            c = prev[x - ch] if x >= ch else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, rows, ch


def near(px, rgb, tol=24):
    return all(abs(px[k] - rgb[k]) <= tol for k in range(3))


def main():
    browser = chromium()
    if not browser:
        print("chromium not installed (scripts/deps.sh test): skipped")
        return 77
    with tempfile.TemporaryDirectory(prefix="orr-browser-") as tmp:
        os.chdir(tmp)
        os.makedirs(".orrery")
        r = subprocess.run([FIXTURE, ".orrery/orrery.db", "drift"],
                           capture_output=True, timeout=60)
        check(r.returncode == 0, "fixture")
        env = dict(os.environ, ORRERY_SITE="",
                   XDG_CONFIG_HOME=os.path.join(tmp, "xdg"))
        r = subprocess.run([ORRERY, "monitor", "report", "cancer", "--out",
                            "report.html"], capture_output=True, timeout=60,
                           env=env)
        check(r.returncode == 0, "report written")
        url = "file://" + os.path.join(tmp, "report.html")
        home = os.path.join(tmp, "home")
        os.makedirs(home)

        dom = browse(browser, home, "--dump-dom", url)
        check(dom is not None and dom.returncode == 0,
              "chromium --dump-dom finished")
        text = dom.stdout.decode("utf-8", "replace") if dom else ""
        check(text.count('class="chart dist"') == 5,
              "the DOM holds the 5 distribution charts")
        check(text.count("<svg") == 5 + 5 + 1 + 2, "all 13 SVG charts")
        check(text.count("<rect") > 40, "bars drawn")
        check("<script" not in text, "no script element in the DOM")
        check("&lt;script&gt;alert(1)&lt;/script&gt;" in text,
              "hostile name stays text in the DOM")

        png = os.path.join(tmp, "report.png")
        shot = browse(browser, home, "--screenshot=" + png,
                      "--window-size=1200,2000", url)
        check(shot is not None and shot.returncode == 0 and
              os.path.isfile(png), "chromium --screenshot finished")
        if os.path.isfile(png):
            w, h, rows, ch = png_pixels(png)
            check((w, h) == (1200, 2000), "screenshot size %dx%d" % (w, h))
            colours, cur, ref, bad = set(), 0, 0, 0
            for row in rows[::2]:
                for x in range(0, w * ch, ch * 2):
                    px = row[x:x + 3]
                    colours.add(px)
                    cur += near(px, (0x2f, 0x6f, 0xde))
                    ref += near(px, (0x8d, 0x99, 0xa8))
                    bad += near(px, (0xd9, 0x48, 0x0f))
            check(len(colours) > 50, "not blank: %d colours" % len(colours))
            check(cur > 200, "current-data colour painted (%d)" % cur)
            check(ref > 200, "reference colour painted (%d)" % ref)
            check(bad > 200, "drift colour painted (%d)" % bad)
        if KEEP:
            os.makedirs(KEEP, exist_ok=True)
            shutil.copy("report.html", KEEP)
            if os.path.isfile(png):
                shutil.copy(png, KEEP)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main())
