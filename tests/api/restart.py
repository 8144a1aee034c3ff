#!/usr/bin/env python3
"""tests/api/restart.py URL N WORKERS LOG - a producer and remote workers
run N tasks over HTTP while codeqd's api child is killed (SIGKILL) three
times, at 20 %, 50 % and 80 % of the tasks completed; LOG is codeqd's
log, where each api child says its pid.

The clients do what a careful codeQ client does when its connection
breaks: the producer retries with the same idempotencyKey (so a create
whose answer was lost is not made twice), a worker retries a result with
the same leaseToken, and a claim whose answer was lost comes back when
its lease ends.  Checks: N distinct tasks created, every one completed,
the store's counters say exactly N enqueued and N completed."""
import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import request  # noqa: E402

URL, N, WORKERS, LOG = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
DEADLINE = 120     # seconds: a slow machine fails, never hangs
KILL_AT = (0.2, 0.5, 0.8)
t0 = time.time()


def call_once(token, method, path, body=None):
    """(status, json), or (None, why) when the connection failed."""
    try:
        return request(URL, token, method, path, body)
    except (OSError, ValueError) as e:     # refused, reset, cut short
        return None, str(e)


def call(token, method, path, body=None):
    """Retries while the api is away (no answer, or 503 from a child
    still reconnecting); (status, json, retried)."""
    retried, st, j = False, None, None
    while time.time() - t0 < DEADLINE:
        st, j = call_once(token, method, path, body)
        if st is not None and st != 503:
            return st, j, retried
        retried = True
        time.sleep(0.05)
    raise SystemExit("%s %s: the api did not come back within %ds (%s %s)"
                     % (method, path, DEADLINE, st, j))


created, done, unsure, errors = set(), set(), set(), []
lock = threading.Lock()
stop = threading.Event()


def produce():
    i = 0
    while i < N and not stop.is_set():
        k = min(100, N - i) if i % 1000 else 1     # mostly batches, some singles
        specs = [{"command": "survive", "payload": {"i": i + m},
                  "idempotencyKey": "t-%d" % (i + m)} for m in range(k)]
        if k == 1:
            st, j, _ = call("p1", "POST", "/tasks", specs[0])
            ok = st == 202
            ids = [j["id"]] if ok else []
        else:
            st, j, _ = call("p1", "POST", "/tasks/batch", {"tasks": specs})
            ids = [r["task"]["id"] for r in j["results"] if "task" in r] \
                if st == 200 else []
            ok = len(ids) == k
        if not ok:
            errors.append(("create", st, j))
            return
        with lock:
            created.update(ids)
        i += k


def settle(tasks, n):
    res = [{"taskId": t["id"], "leaseToken": t["leaseToken"],
            "status": "COMPLETED", "result": {"by": n}} for t in tasks]
    st, j, retried = call("w1", "POST", "/tasks/batch/results", {"results": res})
    if st != 200:
        errors.append(("results", st, j))
        return
    with lock:
        for r in j["results"]:
            if "result" in r:
                done.add(r["taskId"])
            elif retried:      # the first try may have landed: check at the end
                unsure.add(r["taskId"])
            else:
                errors.append(("result", r))


def work(n):
    while not stop.is_set() and not errors:
        st, j, _ = call("w1", "POST", "/tasks/claim/batch",
                        {"commands": ["survive"], "count": 20,
                         "leaseSeconds": 3, "waitSeconds": 1})
        if st == 200 and j["tasks"]:
            settle(j["tasks"], n)
        elif st not in (200, 204):
            errors.append(("claim", st, j))


def api_pid():
    pids = re.findall(r"proc=api .*pid=(\d+) .*msg=listening", open(LOG).read())
    return int(pids[-1]) if pids else None


def queue():
    st, j, _ = call("a1", "GET", "/admin/queues/survive")
    assert st == 200, (st, j)
    return j


def watch():
    """Kills the api child at each threshold; ends when all is done."""
    kills = []
    while time.time() - t0 < DEADLINE and not errors:
        q = queue()
        c = q["counters"]["completed"]
        if len(kills) < len(KILL_AT) and c >= KILL_AT[len(kills)] * N:
            pid = api_pid()
            if pid is not None and pid not in kills:
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
        if c >= N and len(kills) == len(KILL_AT):
            return kills
        time.sleep(0.1)
    return kills


threads = [threading.Thread(target=produce)] + \
    [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
for t in threads:
    t.start()
kills = watch()
stop.set()
for t in threads:
    t.join()
elapsed = time.time() - t0
t0 = time.time()       # the checks below have a deadline of their own
assert not errors, errors[:5]
assert len(kills) == len(KILL_AT), "killed the api child %d times: %s" % (
    len(kills), queue())
assert len(created) == N, "created %d distinct tasks, not %d" % (len(created), N)
for i in unsure - done:
    st, j, _ = call("a1", "GET", "/tasks/%s/result" % i)
    assert st == 200 and j["result"]["status"] == "COMPLETED", (i, st, j)
    done.add(i)
missing = created - done
assert not missing, "%d never completed: %s; %s; %s" % (
    len(missing), sorted(missing)[:5], queue(),
    call("a1", "GET", "/tasks/%s" % min(missing))[1])
q = queue()
assert q["counters"]["enqueued"] == N and q["counters"]["completed"] == N \
    and q["ready"] == 0 and q["inProgress"] == 0, q
print("%d tasks over HTTP, api child killed %d times (pids %s), in %.2fs; "
      "%d results retried" % (N, len(kills), kills, elapsed, len(unsure)))
