#!/bin/sh
# The store goes away while codeqd runs and tasks are in flight, and comes
# back with its data: codeqd does not crash or exit, workers and the
# dispatcher reconnect with backoff, and no task is lost.  A worker that
# dies during the outage has its task given back once the store returns.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dispatcher_lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool s]
queues = sq
command = sleep 1; echo '"ok"'
processes = 2
lease = 10s

[pool k]
queues = kq
command = sleep 3; echo "\$CODEQ_ATTEMPT"
processes = 1
lease = 60s
EOC
start_codeqd "$T_DIR/c.conf"
for i in 1 2 3 4; do cq enqueue sq >/dev/null; done
k=$(cq enqueue kq)
wait_status sq:1 leased
wait_status "$k" leased
kworker=$(field "$k" worker | cut -d: -f2)
rcli BGREWRITEAOF >/dev/null
sleep 0.3
stop_redis
ok "store stopped with tasks in flight"
kill -9 "$kworker"
ok "worker $kworker killed during the outage"
sleep 3		# handlers finish while the store is down; workers retry
kill -0 "$CODEQD_PID" || fail "codeqd exited while the store was down"
restart_redis
ok "store restarted"
for i in 1 2 3 4; do wait_status "sq:$i" completed 30; done
ok "every task completed after the store came back"
wait_status "$k" completed 30
assert_eq "the dead worker's task ran again" 2 "$(field "$k" result)"
grep -q "msg=\"task given back\" task=$k reason=\"worker exited on signal 9\"" "$T_DIR/codeqd.log" ||
	fail "not given back after the outage (not left to its 60 s lease)"
ok "the dead worker's task was given back once the store returned"
for i in 5 6 7; do cq enqueue sq >/dev/null; done
for i in 5 6 7; do wait_status "sq:$i" completed 30; done
ok "new tasks complete (workers woken again)"
kill -0 "$CODEQD_PID" || fail "codeqd died"
grep -q 'msg="store unreachable' "$T_DIR/codeqd.log" || fail "outage not logged"
stop_codeqd
check_counts sq 7
check_counts kq 1
