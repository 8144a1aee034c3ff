#!/bin/sh
# 10 000 result callbacks to one endpoint: they arrive batched (at most
# batch_max per POST, far fewer POSTs than callbacks), every task id at
# least once, none missing, over at most max_per_host kept-alive
# connections.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink S

N=${WEBHOOKS_BULK_N:-10000}
wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 10s)
[notifier]
enabled = no
[callbacks]
batch_max = 100
[pool p]
queues = bulk
so = $TEST_SO
processes = 2
prefetch = 50
EOC

enqueue_with_webhook bulk $N "$S_URL/bulk"
start=$(date +%s)
start_codeqd "$T_DIR/c.conf"
wait_for 240 delivered_at_least $N S /bulk ||
	fail "only $(task_ids S /bulk | grep -c .) of $N callbacks delivered"
took=$(( $(date +%s) - start ))
wait_for 20 is_zero outbox_size bulk || fail "outbox not empty"

sinkpy S "$N" <<'PY' || fail "batching"
n = int(sys.argv[2])
seen, sizes = set(), []
for r in rs:
    j = r["json"]
    items = j["results"] if j.get("eventType") == "TASK_RESULTS" else [j]
    if j.get("eventType") == "TASK_RESULTS":
        assert j["count"] == len(items)
    assert r["std_ok"] and r["codeq_ok"], "bad signature"
    sizes.append(len(items))
    seen.update(p["taskId"] for p in items)
missing = ["bulk:%d" % i for i in range(1, n + 1) if "bulk:%d" % i not in seen]
assert not missing, "missing: %s" % missing[:10]
assert max(sizes) <= 100, "a batch of %d > batch_max" % max(sizes)
assert len(rs) <= n // 5, "%d POSTs for %d callbacks: not batched" % (len(rs), n)
conns = len({r["port"] for r in rs})
assert conns <= 8, "%d connections, max_per_host is 8" % conns
print("ok - %d callbacks in %d POSTs (largest %d, mean %.1f) over %d "
      "connection(s), none missing" % (n, len(rs), max(sizes),
      sum(sizes) / len(sizes), conns))
PY
ok "all $N delivered within ${took}s of codeqd's start"
stop_codeqd
