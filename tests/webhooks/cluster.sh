#!/bin/sh
# codeqd and its webhook processes on a three-master Redis Cluster, or a
# KVRocks cluster ([store] cluster = yes): a pool drains queues whose
# slots are on every master (woken by codeq:ready, which a Redis Cluster
# passes to every node and a KVRocks cluster does not: codeqd subscribes
# to every KVRocks node);
# their result callbacks are delivered (the callbacks process runs each
# outbox script on its slot's node); WORK_AVAILABLE names queues of every
# master; /metrics reports each queue's depth from its node.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_cluster
unset CODEQ_REDIS_URL
REDIS_URL=$SEED_URL
start_sink S
MPORT=$(free_port)
WH_STORE="cluster = yes" WH_METRICS=127.0.0.1:$MPORT wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[notifier]
coalesce = 200ms
scan_interval = 1h
[callbacks]
batch_window = 20ms
[pool p]
queues = q0,q1,q2,q3,q4,q5,q6,q7,q8
so = $TEST_SO
processes = 2
EOC
start_codeqd "$T_DIR/c.conf"
cq() { "$CODEQ" -c "$T_DIR/c.conf" "$@"; }
# The master holding a queue's keys.
node_of() {
	for n in $CLUSTER_NODES; do
		if [ "$(redis-cli -p "${n#*:}" EXISTS "codeq:{$1}:seq")" = 1 ]; then
			echo "$n"
		fi
	done
}

for q in q0 q1 q2 q3 q4 q5 q6 q7 q8; do
	for i in 1 2 3; do
		printf '{"queue":"%s","payload":{"op":"echo","i":%d},"webhook":"%s/cb"}\n' \
			"$q" "$i" "$S_URL"
	done
done >"$T_DIR/tasks.jsonl"
cq enqueue q0 --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
masters=$(for q in q0 q1 q2 q3 q4 q5 q6 q7 q8; do node_of "$q"; done | sort -u | wc -l)
assert_eq "masters holding the queues" 3 "$masters"
wait_for 30 delivered_at_least 27 S /cb ||
	fail "callbacks delivered for $(task_ids S /cb | grep -c .) of 27 tasks: $(cq stats q1)"
ok "27 tasks on three masters ran and their result callbacks were delivered"

work_available_six "$S_URL"
ok "WORK_AVAILABLE for queues on every master, each with its ready depth"

depths() {
	curl -fsS "http://127.0.0.1:$MPORT/metrics" |
		grep -c '^codeq_queue_depth{queue="w[0-5]",state="ready"} 1$'
}
six() { [ "$(depths)" = 6 ]; }
wait_for 10 six || fail "metrics: $(curl -fsS "http://127.0.0.1:$MPORT/metrics" | grep 'queue="w')"
ok "/metrics reports the depth of queues on every master"
stop_codeqd
