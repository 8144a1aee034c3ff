#!/bin/sh
# SIGTERM drains: idle workers stop, a running handler finishes and its
# result is stored, codeqd exits 0.  A handler that outlasts
# shutdown_timeout is stopped (its process group killed) and its task
# given back at once, and codeqd still exits 0.  SIGINT does the same.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dispatcher_lib.sh"
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

# shutdown_timeout 1s against a 60 s handler: SIGINT this time.
sed -e 's/shutdown_timeout = 10s/shutdown_timeout = 1s/' -e 's/sleep 2/sleep 60/' \
	"$T_DIR/c.conf" >"$T_DIR/c2.conf"
start_codeqd "$T_DIR/c2.conf"
id2=$(cq enqueue dq)
wait_for 10 test -s "$T_DIR/h.$id2" || fail "handler did not start"
hpid=$(cat "$T_DIR/h.$id2")
kill -INT "$CODEQD_PID"
rc=0; wait "$CODEQD_PID" || rc=$?
assert_eq "codeqd exit status after shutdown_timeout" 0 "$rc"
assert_eq "unfinished task given back" ready "$(field "$id2" status)"
assert_eq "attempt counted" 1 "$(field "$id2" attempts)"
field "$id2" error | grep -q "shutdown" || fail "reason: $(field "$id2" error)"
kill -0 "$hpid" 2>/dev/null && fail "handler $hpid still running"
ok "handler over shutdown_timeout: group killed, task back in ready ($(field "$id2" error))"
check_counts dq 2
check_counts ds 1
