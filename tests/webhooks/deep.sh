#!/bin/sh
# A deep outbox (more items than one take: 5 000 callbacks to one
# endpoint, 2 x batch_max 100 x max_per_host 16 = room for 3 200: the
# requests in flight and the next batch of each) is drained
# without waiting out the visibility lease (60 s here): the callbacks
# process never takes more than it has room to send, so nothing it takes
# sits leased and unsent.  Once it was: items taken beyond the room were
# dropped in memory and only went out when their lease ran out.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink S

N=${WEBHOOKS_DEEP_N:-5000}
conf() {
	wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 10s)
max_per_host = 16
[notifier]
enabled = no
[callbacks]
enabled = $1
batch_max = 100
visibility = 60s
[pool p]
queues = deep
so = $TEST_SO
processes = 2
prefetch = 50
EOC
}

# Fill the outbox first, with the callbacks process off.
enqueue_with_webhook deep $N "$S_URL/deep"
conf no
start_codeqd "$T_DIR/c.conf"
wait_for 120 size_is "$N" outbox_size deep ||
	fail "outbox holds $(outbox_size deep) of $N items"
stop_codeqd
ok "outbox filled with $N items"

conf yes
start=$(date +%s)
start_codeqd "$T_DIR/c.conf"
# Well within the 60 s lease: an item left leased in memory would only
# be sent after it.
wait_for 50 is_zero outbox_size deep ||
	fail "$(outbox_size deep) of $N items still in the outbox after 50 s: left leased?"
took=$(( $(date +%s) - start ))

sinkpy S "$N" <<'PY' || fail "deliveries"
n = int(sys.argv[2])
seen, sizes = set(), []
for r in rs:
    j = r["json"]
    items = j["results"] if j.get("eventType") == "TASK_RESULTS" else [j]
    sizes.append(len(items))
    seen.update(p["taskId"] for p in items)
missing = ["deep:%d" % i for i in range(1, n + 1) if "deep:%d" % i not in seen]
assert not missing, "missing: %s" % missing[:10]
assert max(sizes) <= 100, "a batch of %d > batch_max" % max(sizes)
print("ok - %d callbacks in %d POSTs, none missing" % (n, len(rs)))
PY

# The process never held more than the room: 16 requests of 100 items,
# and the next 100 for each (two takes may be in flight at once).
"$PYTHON3" - "$T_DIR/codeqd.log" <<'PY' || fail "the room was exceeded"
import re, sys
log = open(sys.argv[1]).read()
takes = [(int(m.group(1)), int(m.group(2))) for m in
         re.finditer(r'callback items taken"? count=(\d+) held=(\d+)', log)]
assert takes, "no take logged"
big = max(t[0] for t in takes)
held = max(t[1] for t in takes)
assert held <= 3200, "held %d items at once, room is 3200" % held
print("ok - %d takes, the largest %d items; at most %d held" % (len(takes), big, held))
PY
ok "all $N delivered ${took}s after codeqd started (visibility 60 s)"
stop_codeqd
