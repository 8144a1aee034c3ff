#!/bin/sh
# codeqd's /metrics and /healthz: task outcomes seen by the dispatcher,
# handler durations folded from the workers' COUNTERS reports, worker
# restarts and tasks given back when a worker dies.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dispatcher_lib.sh"
command -v curl >/dev/null || skip "curl not installed"
start_redis

port=$(free_port)
write_conf "$T_DIR/c.conf" <<EOC
[pool m]
queues = mq
so = $TEST_SO
processes = 2
EOC
sed -i "s/^listen = off/listen = 127.0.0.1:$port/" "$T_DIR/c.conf"
start_codeqd "$T_DIR/c.conf"
wait_for 10 curl -fs "http://127.0.0.1:$port/healthz" || fail "/healthz not 200"
ok "/healthz answers 200 with every pool up"

for i in 1 2 3; do cq enqueue mq --payload '{"op":"echo"}' >/dev/null; done
cq enqueue mq --payload '{"op":"fail"}' >/dev/null
cq enqueue mq --payload '{"op":"crash"}' --max-attempts 1 >/dev/null
for i in 1 2 3; do wait_status "mq:$i" completed; done
wait_status mq:4 failed
wait_status mq:5 dead

m() { curl -fs "http://127.0.0.1:$port/metrics" >"$T_DIR/metrics"; grep -q "$1" "$T_DIR/metrics"; }
wait_for 10 m 'codeq_tasks_completed_total{queue="mq",pool="m"} 3' ||
	fail "completed counter: $(grep completed_total "$T_DIR/metrics")"
ok "codeq_tasks_completed_total = 3"
wait_for 10 m 'codeq_tasks_failed_total{queue="mq",pool="m"} 1' || fail "failed counter"
ok "codeq_tasks_failed_total = 1"
wait_for 10 m 'codeq_tasks_claimed_total{queue="mq",pool="m"} 5' || fail "claimed counter"
ok "codeq_tasks_claimed_total = 5"
wait_for 10 m 'codeq_worker_restarts_total{pool="m",reason="signal"} 1' ||
	fail "restart counter: $(grep restarts "$T_DIR/metrics")"
ok "codeq_worker_restarts_total{reason=signal} = 1"
wait_for 10 m 'codeq_handler_duration_seconds_count{pool="m"} [34]' ||
	fail "handler histogram: $(grep handler_duration_seconds_count "$T_DIR/metrics")"
ok "handler durations folded from the workers' reports"
stop_codeqd
check_counts mq 5
