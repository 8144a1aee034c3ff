#!/bin/sh
# codeqd's /metrics and /healthz: task outcomes seen by the dispatcher,
# handler durations folded from the workers' COUNTERS reports, worker
# restarts and tasks given back when a worker dies; dead-lettering by a
# worker's verdict, by the give-back of a dead worker's task and by the
# reaper; leases held, from the dispatcher's lease table.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
start_redis

port=$(free_port)
write_conf "$T_DIR/c.conf" <<EOC
[pool m]
queues = mq, rq
so = $TEST_SO
processes = 2
backoff_base = 100ms
EOC
sed -i "s/^listen = off/listen = 127.0.0.1:$port/" "$T_DIR/c.conf"
# A task leased by someone else (here the CLI) at its last attempt: its
# lease expires and codeqd's reaper dead-letters it.
cq enqueue rq --max-attempts 1 >/dev/null
cq claim rq --lease 1s --quiet >/dev/null || fail "cannot claim rq:1"
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

# Dead-lettered: mq:5 by the give-back of the crashed worker's task (its
# only attempt), rq:1 by the reaper (pool="": no pool of this host ran
# it), mq:6 by a worker's verdict (retry at its last attempt).
cq enqueue mq --payload '{"op":"retry","ms":1}' --max-attempts 1 >/dev/null
wait_status mq:6 dead
wait_status rq:1 dead
wait_for 10 m 'codeq_tasks_dead_lettered_total{queue="mq",pool="m"} 2' ||
	fail "dead-lettered (worker verdict + give-back): $(grep dead_lettered_total "$T_DIR/metrics")"
ok "codeq_tasks_dead_lettered_total{pool=m} = 2: a worker's verdict and a give-back"
wait_for 10 m 'codeq_tasks_dead_lettered_total{queue="rq",pool=""} 1' ||
	fail "dead-lettered by the reaper: $(grep dead_lettered_total "$T_DIR/metrics")"
ok "codeq_tasks_dead_lettered_total{pool=\"\"} = 1: the reaper"

# Leases held: read from the dispatcher's lease table.  The task runs
# while "hold" exists: a fixed sleep could end before a slow scrape.
touch "$T_DIR/hold"
cq enqueue mq --payload "{\"op\":\"hold\",\"file\":\"$T_DIR/hold\"}" >/dev/null
wait_status mq:7 leased
wait_for 10 m 'codeq_leases_held{pool="m"} 1' ||
	fail "leases held: $(grep leases_held "$T_DIR/metrics")"
ok "codeq_leases_held = 1 while a task runs"
rm -f "$T_DIR/hold"
wait_status mq:7 completed
wait_for 10 m 'codeq_leases_held{pool="m"} 0' ||
	fail "leases held after: $(grep leases_held "$T_DIR/metrics")"
ok "codeq_leases_held = 0 once it completed"
stop_codeqd
check_counts mq 7
check_counts rq 1
