#!/bin/sh
# The store goes away while codeqd runs and tasks are in flight, and comes
# back with its data: codeqd does not crash or exit, workers and the
# dispatcher reconnect with backoff, and no task is lost.  A worker that
# dies during the outage has its task given back once the store returns.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool s]
queues = sq
command = sh $T_DIR/sq.sh
processes = 2
lease = 60s

[pool k]
queues = kq
command = sh $T_DIR/kq.sh
processes = 1
lease = 60s
EOC
# The handlers wait for the test to open their gate (sq.go, kq.go): a
# loaded machine cannot finish them before the outage they must span.
# They also end when T_DIR goes, so an orphaned one never outlives the test.
cat >"$T_DIR/sq.sh" <<EOS
echo x >>$T_DIR/sq.started
while [ ! -e $T_DIR/sq.go ] && [ -d $T_DIR ]; do sleep 0.05; done
echo x >>$T_DIR/sq.done
echo '"ok"'
EOS
cat >"$T_DIR/kq.sh" <<EOS
while [ ! -e $T_DIR/kq.go ] && [ -d $T_DIR ]; do sleep 0.05; done
echo "\$CODEQ_ATTEMPT"
EOS
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
handlers_done() { [ "$(lines "$T_DIR/sq.started")" -gt 0 ] &&
	[ "$(lines "$T_DIR/sq.done")" -eq "$(lines "$T_DIR/sq.started")" ]; }
aof_rewritten() {
	rcli INFO persistence >"$T_DIR/info.out" 2>/dev/null &&
	grep -q '^aof_rewrite_in_progress:0' "$T_DIR/info.out" &&
	grep -q '^aof_rewrite_scheduled:0' "$T_DIR/info.out"
}
start_codeqd "$T_DIR/c.conf"
for i in 1 2 3 4; do cq enqueue sq >/dev/null; done
k=$(cq enqueue kq)
wait_status sq:1 leased
wait_status "$k" leased
kworker=$(field "$k" worker | cut -d: -f2)
# redis-server: what was acknowledged reaches the AOF before the stop.
# KVRocks writes each command to RocksDB's WAL; its stop flushes.
if ! on_kvrocks; then
	rcli BGREWRITEAOF >/dev/null
	wait_for 30 aof_rewritten || fail "AOF rewrite did not finish"
fi
stop_redis
ok "store stopped with tasks in flight"
kill -9 "$kworker"
ok "worker $kworker killed during the outage"
touch "$T_DIR/kq.go"	# the killed worker cannot report it any more
touch "$T_DIR/sq.go"	# handlers finish while the store is down; workers retry
wait_for 60 handlers_done || fail "sq handlers did not finish"
wait_for 60 grep -q 'msg="store unreachable while reporting, retrying"' "$T_DIR/codeqd.log" ||
	fail "no worker retried its report during the outage"
ok "handlers finished during the outage, their workers retry"
kill -0 "$CODEQD_PID" || fail "codeqd exited while the store was down"
restart_redis
ok "store restarted"
for i in 1 2 3 4; do wait_status "sq:$i" completed 60; done
ok "every task completed after the store came back"
wait_status "$k" completed 60
assert_eq "the dead worker's task ran again" 2 "$(field "$k" result)"
grep -q "msg=\"task given back\" task=$k reason=\"worker exited on signal 9\"" "$T_DIR/codeqd.log" ||
	fail "not given back after the outage (not left to its 60 s lease)"
ok "the dead worker's task was given back once the store returned"
for i in 5 6 7; do cq enqueue sq >/dev/null; done
for i in 5 6 7; do wait_status "sq:$i" completed 60; done
ok "new tasks complete (workers woken again)"
kill -0 "$CODEQD_PID" || fail "codeqd died"
grep -q 'msg="store unreachable' "$T_DIR/codeqd.log" || fail "outage not logged"
stop_codeqd
check_counts sq 7
check_counts kq 1
