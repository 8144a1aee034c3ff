#!/bin/sh
# SIGTERM drains: idle workers stop, a running handler finishes and its
# result is stored, codeqd exits 0.  A handler that outlasts
# shutdown_timeout is stopped (its process group killed; a .so worker is
# killed) and its task given back at once, as are prefetched tasks that
# never started, and codeqd still exits 0.  SIGINT does the same.  Such
# a graceful give-back costs no attempt: a task on its last attempt
# (max_attempts 1) goes back to ready, not to the dead-letter queue, and
# completes once codeqd runs again.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool d]
queues = dq
command = echo \$\$ > $T_DIR/h.\$CODEQ_TASK_ID; sleep 2; echo '"finished"'
processes = 2

[pool s]
queues = ds
so = $TEST_SO
processes = 1

[pool p]
queues = dp
command = echo \$\$ > $T_DIR/h.\$CODEQ_TASK_ID; sleep 2; echo '"finished"'
processes = 1
prefetch = 3
EOC
start_codeqd "$T_DIR/c.conf"
id=$(cq enqueue dq)
so_id=$(cq enqueue ds --payload '{"op":"sleep","ms":1500}')
wait_status "$id" leased
wait_status "$so_id" leased
pid=$CODEQD_PID
stop_codeqd
assert_eq "drained exec task" completed "$(field "$id" status)"
assert_eq "its result" '"finished"' "$(field "$id" result)"
assert_eq "drained .so task" completed "$(field "$so_id" status)"
grep -q 'msg="stopping: draining the pools" signal=SIGTERM' "$T_DIR/codeqd.log" || fail "no drain logged"
[ -z "$(ps -o pid= --ppid "$pid")" ] || fail "children left behind"
ok "SIGTERM: running handlers finished, exit 0, no children left"

# shutdown_timeout 1s against 60 s handlers: SIGINT this time.  Every
# task is on its last attempt.
sed -e 's/shutdown_timeout = 10s/shutdown_timeout = 1s/' -e 's/sleep 2/sleep 60/' \
	"$T_DIR/c.conf" >"$T_DIR/c2.conf"
start_codeqd "$T_DIR/c2.conf"
id2=$(cq enqueue dq --max-attempts 1)
so2=$(cq enqueue ds --max-attempts 1 --payload '{"op":"sleep","ms":60000}')
# Three tasks made due together (due_now): one claim takes them as one
# prefetched batch, whose first runs while the other two wait.
p1=$(cq enqueue dp --max-attempts 1 --delay 1h)
p2=$(cq enqueue dp --max-attempts 1 --delay 1h)
p3=$(cq enqueue dp --max-attempts 1 --delay 1h)
due_now "$p1" "$p2" "$p3"
wait_for 10 test -s "$T_DIR/h.$id2" || fail "handler did not start"
wait_status "$so2" leased
wait_for 10 grep -q "msg=\"task started\" task=$so2" "$T_DIR/codeqd.log" ||
	fail ".so handler did not start"
batch() { [ "$(rcli ZCARD "codeq:{dp}:leased")" = 3 ]; }
wait_for 15 batch || fail "the batch was not claimed together"
wait_for 10 test -s "$T_DIR/h.$p1" || fail "first task of the batch did not start"
hpid=$(cat "$T_DIR/h.$id2")
kill -INT "$CODEQD_PID"
rc=0; wait "$CODEQD_PID" || rc=$?
CODEQD_PID=
no_sanitizer_reports "$T_DIR/codeqd.log"
assert_eq "codeqd exit status after shutdown_timeout" 0 "$rc"
kill -0 "$hpid" 2>/dev/null && fail "handler $hpid still running"
for id in $id2 $so2 $p1 $p2 $p3; do
	assert_eq "$id given back" ready "$(field "$id" status)"
	assert_eq "$id attempt refunded" 0 "$(field "$id" attempts)"
	field "$id" error | grep -q "given back at shutdown" ||
		fail "$id: reason: $(field "$id" error)"
done
for q in dq ds dp; do
	assert_eq "$q: dead-letter queue" 0 "$(rcli LLEN "codeq:{$q}:dlq")"
done
assert_eq "the batch (one stopped, two never started) in its ready list" \
	"$p1 $p2 $p3" "$(rcli LRANGE "codeq:{dp}:ready:0" 0 -1 | sort -t: -k2n | tr '\n' ' ' | sed 's/ $//')"
grep -q "msg=\"task finished\" task=$p2 outcome=released" "$T_DIR/codeqd.log" ||
	fail "$p2 was not released by its worker"
grep -q "msg=\"task given back\" task=$so2 .*attempt=refunded" "$T_DIR/codeqd.log" ||
	fail "the dispatcher did not release the killed .so worker's task"
ok "handlers over shutdown_timeout stopped, every task back in ready, no attempt spent"

# codeqd again (fast handlers; the .so pool's queue served by a command):
# the tasks given back run, each on its first and only attempt.
sed -e 's/sleep 2/sleep 0/' -e "s|^so = .*|command = echo '\"restarted\"'|" \
	"$T_DIR/c.conf" >"$T_DIR/c3.conf"
start_codeqd "$T_DIR/c3.conf"
for id in $id2 $so2 $p1 $p2 $p3; do
	wait_status "$id" completed 30
	assert_eq "$id completed on attempt" 1 "$(field "$id" attempts)"
done
stop_codeqd
ok "after the restart the tasks given back completed on their last attempt"
check_counts dq 2
check_counts ds 2
check_counts dp 3
