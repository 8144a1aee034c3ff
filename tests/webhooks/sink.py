#!/usr/bin/env python3
"""tests/webhooks/sink.py - a webhook receiver for the tests.

A real HTTP/1.1 server (keep-alive) on 127.0.0.1 that records every POST
as one JSON line in --log: path, headers, body, client port, time, and
whether the signatures verify under --secret, checked here independently
of codeq with Python's hmac (Standard Webhooks and X-CodeQ-Signature).

How it answers is a plan per path, consumed one step per request; the
last step repeats.  Steps: a status ("200", "500"), "429:SECONDS" (429
with Retry-After), "hang" (never answers), "close" (drops the
connection).  Plans come from --plan PATH=STEP,STEP... or at run time
from  POST /_plan?path=/x&plan=500,200 .  The default plan is 200.

  sink.py --port-file F --log L [--port N] [--secret S] [--plan ...]
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
PLANS = {}
ARGS = None


def verify_standard(secret, headers, body):
    mid = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not (secret and mid and ts and sig):
        return False
    key = base64.b64decode(secret[len("whsec_"):]) \
        if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, mid.encode() + b"." + ts.encode() + b"." + body,
                   hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, s) for s in sig.split(" "))


def verify_codeq(secret, headers, body):
    ts = headers.get("x-codeq-timestamp")
    sig = headers.get("x-codeq-signature")
    if not (secret and ts and sig):
        return False
    want = hmac.new(secret.encode(), ts.encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig)


def next_step(path):
    with LOCK:
        plan = PLANS.get(path) or PLANS.get("*") or ["200"]
        step = plan[0]
        if len(plan) > 1:
            plan.pop(0)
        return step


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, extra=None):
        body = b'{"ok":true}' if code < 300 else b'{"error":"planned"}'
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        u = urlparse(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if u.path == "/_plan":
            q = parse_qs(u.query)
            with LOCK:
                PLANS[q["path"][0]] = q["plan"][0].split(",")
            return self.reply(200)
        step = next_step(u.path)
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        rec = {
            "t": time.time(), "path": u.path, "port": self.client_address[1],
            "headers": hdrs, "body": body.decode("utf-8", "replace"),
            "step": step,
            "std_ok": verify_standard(ARGS.secret, hdrs, body),
            "codeq_ok": verify_codeq(ARGS.secret, hdrs, body),
        }
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        if step == "hang":
            time.sleep(3600)
            return
        if step == "close":
            self.close_connection = True
            return
        if ":" in step:
            code, ra = step.split(":", 1)
            return self.reply(int(code), {"Retry-After": ra})
        self.reply(int(step))


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", default=os.environ.get("SINK_SECRET", ""))
    p.add_argument("--plan", action="append", default=[])
    ARGS = p.parse_args()
    for spec in ARGS.plan:
        path, steps = spec.split("=", 1)
        PLANS[path] = steps.split(",")
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    open(ARGS.log, "a").close()
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
