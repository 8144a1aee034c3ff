#!/bin/sh
# The webhook processes over a home and two shards: result callbacks of
# tasks on every store are delivered (the callbacks process takes each
# queue's outbox on its own store), and WORK_AVAILABLE names queues of
# every store with their ready depth (the notifier hears each store's
# codeq:ready and reads each depth where the queue lives).  The
# subscriptions live on the home.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis; P_B=$REDIS_PORT; U_B=$REDIS_URL
start_redis; P_C=$REDIS_PORT; U_C=$REDIS_URL
start_redis; P_H=$REDIS_PORT	# the home, last: REDIS_URL and rcli are its
start_sink S
WH_STORE="shard_hash = yes" wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[shard b]
url = $U_B
[shard c]
url = $U_C
[notifier]
coalesce = 200ms
scan_interval = 1h
[callbacks]
batch_window = 20ms
[pool p]
queues = q0,q1,q4,q5,q7,q8
so = $TEST_SO
processes = 2
EOC
start_codeqd "$T_DIR/c.conf"
cq() { "$CODEQ" -c "$T_DIR/c.conf" "$@"; }
holder() {
	for p in $P_H $P_B $P_C; do
		if [ "$(redis-cli -p "$p" EXISTS "codeq:{$1}:seq")" = 1 ]; then
			echo "$p"
		fi
	done
}

for q in q0 q1 q4 q5 q7 q8; do
	for i in 1 2 3 4 5; do
		printf '{"queue":"%s","payload":{"op":"echo","i":%d},"webhook":"%s/cb"}\n' \
			"$q" "$i" "$S_URL"
	done
done >"$T_DIR/tasks.jsonl"
cq enqueue q0 --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
wait_for 30 delivered_at_least 30 S /cb ||
	fail "callbacks delivered for $(task_ids S /cb | grep -c .) of 30 tasks"
stores=$(for q in q0 q1 q4 q5 q7 q8; do holder "$q"; done | sort -u | wc -l)
assert_eq "stores holding the callback queues" 3 "$stores"
ok "30 result callbacks from queues on 3 stores delivered"

work_available_six "$S_URL"
assert_eq "the subscription on the home" 1 "$(redis-cli -p "$P_H" ZCARD codeq:subs)"
stores=$(for q in w0 w1 w2 w3 w4 w5; do holder "$q"; done | sort -u | wc -l)
assert_eq "stores holding the notified queues" 3 "$stores"
ok "WORK_AVAILABLE for queues on 3 stores, each with its ready depth"
stop_codeqd
