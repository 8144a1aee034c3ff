#!/bin/sh
# At-least-once across restarts: the endpoint is down while callbacks pile
# up; codeqd is restarted, the store is restarted, the callbacks process
# is killed with SIGKILL while it holds leased items; once the endpoint
# comes back every callback arrives, and the outbox and the callbacks DLQ
# end empty.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink S
PORT=$(cat "$T_DIR/S.port")
stop_sink S

N=200
wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 1s)
[notifier]
enabled = no
[callbacks]
max_attempts = 100
backoff_base = 100ms
backoff_max = 1s
visibility = 6s
[pool p]
queues = rs
so = $TEST_SO
processes = 2
EOC
start_codeqd "$T_DIR/c.conf"

enqueue_with_webhook rs $N "http://127.0.0.1:$PORT/r"
wait_for 60 size_is $N completed rs || fail "tasks not completed"
wait_for 20 grep -q 'callback delivery failed.*Could not connect\|callback delivery failed.*Connection refused\|callback delivery failed.*Failed to connect' "$T_DIR/codeqd.log" ||
	fail "no failed delivery while the endpoint is down"
ok "$N tasks completed, endpoint down, deliveries failing"

stop_codeqd
ok "codeqd stopped with callbacks pending"
# The next run logs to a fresh file: in an appended log the callbacks
# process of this run would be taken for the next run's.
mv "$T_DIR/codeqd.log" "$T_DIR/codeqd-first.log"
stop_redis
restart_redis
# (the store answers LOADING for a moment after it starts)
wait_for 20 size_is $N outbox_size rs ||
	fail "outbox items lost across the store restart: $(outbox_size rs)"
ok "$N outbox items kept across the store restart"
start_codeqd "$T_DIR/c.conf"

# Kill the callbacks process while it holds leases; codeqd restarts it.
cbpid() {
	grep 'proc=callbacks .*msg="callbacks started"' "$T_DIR/codeqd.log" |
		tail -n 1 | sed 's/.* pid=\([0-9]*\) .*/\1/'
}
retrying() {
	p=$(cbpid)
	[ -n "$p" ] && grep -q "pid=$p .*callback delivery failed" "$T_DIR/codeqd.log"
}
wait_for 30 retrying || fail "callbacks process not retrying after the restart"
old=$(cbpid)
kill -KILL "$old"
restarted() { p=$(cbpid); [ -n "$p" ] && [ "$p" != "$old" ]; }
wait_for 20 restarted || fail "callbacks process not restarted after SIGKILL"
ok "callbacks process killed (SIGKILL) and restarted"

start_sink S --port "$PORT"
wait_for 60 delivered_at_least $N S /r ||
	fail "only $(task_ids S /r | grep -c .) of $N callbacks delivered"
wait_for 20 is_zero outbox_size rs || fail "outbox not empty"
assert_eq "callbacks DLQ" 0 "$(cbdlq_size rs)"
task_ids S /r >"$T_DIR/ids"
i=1
while [ $i -le $N ]; do
	grep -qx "rs:$i" "$T_DIR/ids" || fail "rs:$i never delivered"
	i=$((i+1))
done
ok "every one of $N callbacks delivered after the restarts ($(requests S /r) requests)"
stop_codeqd
