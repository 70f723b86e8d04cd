#!/usr/bin/env python3
"""tests/webhook/receiver.py - a webhook receiver for the tests, on a free
loopback port.

    receiver.py PORT_FILE

Binds 127.0.0.1:0, writes the port to PORT_FILE (atomically), serves until
killed.  Every POST outside /_* is a delivery: it is recorded (path,
headers, body, the status answered) and answered according to the mode:

    POST /_mode {"mode": "ok"}                        200 {"ok": true}
    POST /_mode {"mode": "fail", "count": N, "status": 503}
                                      N answers `status`, then 200
    POST /_mode {"mode": "429", "count": N, "retry_after": 0.01}
                                      N answers 429 {"retry_after": x}
    POST /_mode {"mode": "400"}       400 for every delivery
    POST /_mode {"mode": "hang"}      never answers (until /_release)
    POST /_release                    ends the hanging requests
    GET  /_records                    {"deliveries": [...]} as JSON
    POST /_reset                      forget deliveries, mode ok
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"mode": "ok", "count": 0, "status": 503, "retry_after": None}
deliveries = []
release = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):     # quiet
        pass

    def reply(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/_records":
            with lock:
                self.reply(200, {"deliveries": list(deliveries)})
        else:
            self.reply(404, {"error": "no such page"})

    def do_POST(self):
        raw = self.body()
        if self.path == "/_mode":
            doc = json.loads(raw or b"{}")
            with lock:
                state.update({"mode": doc.get("mode", "ok"),
                              "count": int(doc.get("count", 0)),
                              "status": int(doc.get("status", 503)),
                              "retry_after": doc.get("retry_after")})
                release.clear()
            return self.reply(200, {"ok": True})
        if self.path == "/_release":
            release.set()
            return self.reply(200, {"ok": True})
        if self.path == "/_reset":
            with lock:
                deliveries.clear()
                state.update({"mode": "ok", "count": 0})
            release.set()
            return self.reply(200, {"ok": True})
        with lock:
            mode = state["mode"]
            status, doc = 200, {"ok": True}
            if mode in ("fail", "429") and state["count"] > 0:
                state["count"] -= 1
                if mode == "fail":
                    status, doc = state["status"], {"error": "failing"}
                else:
                    status, doc = 429, {"ok": False, "error": "rate_limited"}
                    if state["retry_after"] is not None:
                        doc["retry_after"] = state["retry_after"]
            elif mode == "400":
                status, doc = 400, {"error": "invalid_payload"}
            elif mode == "hang":
                status = None
            deliveries.append({
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": raw.decode("utf-8", "replace"),
                "status": status if status is not None else 0})
        if status is None:
            release.wait(120)
            self.close_connection = True
            return
        self.reply(status, doc)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
