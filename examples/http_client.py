#!/usr/bin/env python3
"""examples/http_client.py - a producer and a worker for codeq's HTTP API
(docs/http-api.md), with Python's standard library only.

    CODEQ_API=http://127.0.0.1:8080 CODEQ_TOKEN=... http_client.py produce QUEUE [N]
    CODEQ_API=http://127.0.0.1:8080 CODEQ_TOKEN=... http_client.py work QUEUE [--once]
    CODEQ_API=http://127.0.0.1:8080 CODEQ_TOKEN=... http_client.py result TASK-ID [WAIT]

produce: enqueues N tasks (one request, a batch) and prints their ids.
work:    claims with a long poll, "runs" each task (upper-cases its
         payload's "text"), heartbeats while it runs, and submits the
         result with the lease token it was given -- or nacks it on error.
result:  waits up to WAIT seconds for a task's result and prints it.

The token comes from the environment, never from the command line (argv
is visible to every user of the host)."""
import http.client
import json
import os
import sys
import time
import urllib.parse


class Client:
    """One keep-alive connection to codeq-api."""

    def __init__(self, base, token):
        u = urllib.parse.urlsplit(base)
        cls = http.client.HTTPSConnection if u.scheme == "https" else \
            http.client.HTTPConnection
        self.conn = cls(u.hostname, u.port or (443 if u.scheme == "https" else 80),
                        timeout=90)
        self.headers = {"Authorization": "Bearer " + token,
                        "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        for attempt in range(5):
            self.conn.request(method, "/v1/codeq" + path, data, self.headers)
            r = self.conn.getresponse()
            raw = r.read()
            if r.status in (429, 503):
                # Rate limited or store away: come back when told.
                time.sleep(float(r.getheader("Retry-After") or 1))
                continue
            return r.status, (json.loads(raw) if raw else None)
        return r.status, (json.loads(raw) if raw else None)


def produce(c, queue, n):
    tasks = [{"command": queue, "payload": {"text": "hello %d" % i},
              "priority": 5} for i in range(n)]
    st, j = c.call("POST", "/tasks/batch", {"tasks": tasks})
    if st != 200:
        sys.exit("produce: HTTP %d %s" % (st, j))
    for r in j["results"]:
        print(r["task"]["id"] if "task" in r else "error: " + r["error"])


def run_task(c, task):
    """The handler: a heartbeat, some work, a result."""
    payload = json.loads(task["payload"])
    c.call("POST", "/tasks/%s/heartbeat" % task["id"],
           {"extendSeconds": 60, "leaseToken": task["leaseToken"]})
    return {"text": str(payload.get("text", "")).upper()}


def work(c, queue, once):
    while True:
        st, task = c.call("POST", "/tasks/claim",
                          {"commands": [queue], "leaseSeconds": 60, "waitSeconds": 30})
        if st == 204:
            if once:
                return
            continue
        if st != 200:
            sys.exit("claim: HTTP %d %s" % (st, task))
        ref = {"leaseToken": task["leaseToken"]}
        try:
            result = run_task(c, task)
            st, j = c.call("POST", "/tasks/%s/result" % task["id"],
                           dict(ref, status="COMPLETED", result=result))
        except Exception as e:          # the handler failed: try again later
            st, j = c.call("POST", "/tasks/%s/nack" % task["id"],
                           dict(ref, reason=str(e)))
        # 409: our lease expired and someone else has the task now.
        print(task["id"], st, json.dumps(j))


def result(c, task_id, wait):
    st, j = c.call("GET", "/tasks/%s/result?waitSeconds=%d" % (task_id, wait))
    print(st, json.dumps(j))


def main():
    base, token = os.environ.get("CODEQ_API"), os.environ.get("CODEQ_TOKEN")
    if not base or not token or len(sys.argv) < 3:
        sys.exit(__doc__)
    c = Client(base, token)
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "produce":
        produce(c, arg, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    elif cmd == "work":
        work(c, arg, "--once" in sys.argv)
    elif cmd == "result":
        result(c, arg, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
