#!/usr/bin/env python3
"""tests/api/drain.py URL N WORKERS - a producer and remote workers over
HTTP (urllib, as a codeQ client would): N tasks created (singly and in
batches of 100), claimed by WORKERS threads (single and batch claims with
long polls), completed (single and batch results).  Checks that every
task was completed exactly once and prints what it measured."""
import json
import sys
import threading
import time
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import request  # noqa: E402

URL, N, WORKERS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DEADLINE = 120     # seconds: a slow machine fails, never hangs


def call(token, method, path, body=None):
    return request(URL, token, method, path, body)


created, done, errors = [], {}, []
lock = threading.Lock()
producing = True


def produce():
    global producing
    i = 0
    while i < N:
        if (i // 100) % 2 == 0 and N - i >= 100:
            tasks = [{"command": "drain", "payload": {"i": i + k}} for k in range(100)]
            st, j = call("p1", "POST", "/tasks/batch", {"tasks": tasks})
            assert st == 200, (st, j)
            ids = [r["task"]["id"] for r in j["results"]]
            i += 100
        else:
            st, j = call("p1", "POST", "/tasks", {"command": "drain", "payload": {"i": i}})
            assert st == 202, (st, j)
            ids = [j["id"]]
            i += 1
        with lock:
            created.extend(ids)
    producing = False


def work(n):
    batch = n % 2 == 0
    while True:
        with lock:
            finished = not producing and len(done) >= len(created)
        # A refused result would leave its task leased: stop, and report.
        if finished or errors or time.time() - t0 > DEADLINE:
            return
        if batch:
            st, j = call("w1", "POST", "/tasks/claim/batch",
                         {"commands": ["drain"], "count": 20, "waitSeconds": 1})
            tasks = j["tasks"] if st == 200 else []
        else:
            st, j = call("w1", "POST", "/tasks/claim",
                         {"commands": ["drain"], "waitSeconds": 1})
            tasks = [j] if st == 200 else []
        if st not in (200, 204):
            errors.append(("claim", st, j))
            return
        if batch and tasks:
            res = [{"taskId": t["id"], "leaseToken": t["leaseToken"],
                    "status": "COMPLETED", "result": {"by": n}} for t in tasks]
            st, j = call("w1", "POST", "/tasks/batch/results", {"results": res})
            ok = [r["taskId"] for r in j["results"] if "result" in r] if st == 200 else []
            if len(ok) != len(tasks):
                errors.append(("batch results", st, j))
        else:
            ok = []
            for t in tasks:
                st, j = call("w1", "POST", "/tasks/%s/result" % t["id"],
                             {"status": "COMPLETED", "result": {"by": n},
                              "leaseToken": t["leaseToken"]})
                if st == 200:
                    ok.append(t["id"])
                else:
                    errors.append(("result", st, j))
        with lock:
            for i in ok:
                done[i] = done.get(i, 0) + 1


t0 = time.time()
threads = [threading.Thread(target=produce)] + \
    [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - t0
assert not errors, errors[:5]
assert len(created) == N and len(set(created)) == N, "created %d" % len(created)
twice = [i for i, c in done.items() if c != 1]
assert not twice, "completed more than once: %s" % twice[:5]
missing = set(created) - set(done)
assert not missing, "never completed: %s" % sorted(missing)[:5]
st, j = call("a1", "GET", "/admin/queues/drain")
assert st == 200 and j["counters"]["completed"] == N and j["ready"] == 0 \
    and j["inProgress"] == 0, j
print("drained %d tasks over HTTP with %d workers in %.2fs: %.0f tasks/s"
      % (N, WORKERS, elapsed, N / elapsed))
