#!/bin/sh
# kill -9 of a worker in the middle of a task: the dispatcher gives the
# task back at once (not when its 60 s lease expires), with the attempt
# counted and "worker exited on signal 9" recorded; another worker
# completes it; the handler's process group does not outlive the worker.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool k]
queues = kq
command = sh $T_DIR/h.sh
processes = 2
lease = 60s
EOC
# Handlers wait while "hold" exists (or until the test's directory goes):
# the first attempt still runs when its worker is killed, however slow
# the machine; a fixed sleep could end before the kill.
cat >"$T_DIR/h.sh" <<EOS
echo \$\$ > $T_DIR/handler.\$CODEQ_ATTEMPT
while [ -e $T_DIR/hold ]; do sleep 0.05; done
echo "{\\"attempt\\": \$CODEQ_ATTEMPT}"
EOS
start_codeqd "$T_DIR/c.conf"

touch "$T_DIR/hold"
id=$(cq enqueue kq)
wait_for 10 test -s "$T_DIR/handler.1" || fail "handler did not start"
worker=$(field "$id" worker)
wpid=$(echo "$worker" | cut -d: -f2)
hpid=$(cat "$T_DIR/handler.1")
kill -0 "$wpid" || fail "worker $wpid not running"
kill -9 "$wpid"
rm -f "$T_DIR/hold"
ok "killed worker $wpid in the middle of $id"

wait_status "$id" completed 15
assert_eq "attempts" 2 "$(field "$id" attempts)"
assert_eq "result" '{"attempt": 2}' "$(field "$id" result)"
assert_eq "recorded reason" "worker exited on signal 9" "$(field "$id" error)"
w2=$(field "$id" worker | cut -d: -f2)
[ "$w2" != "$wpid" ] || fail "completed by the dead worker?"
ok "completed by another worker ($w2)"
wait_for 10 sh -c "! kill -0 $hpid 2>/dev/null" || fail "handler $hpid outlived its worker"
ok "the dead worker's handler was killed"
grep -q 'msg="task given back" task='"$id"' reason="worker exited on signal 9"' "$T_DIR/codeqd.log" ||
	fail "give-back not logged"

# The pool is whole again: two tasks run side by side.
a=$(cq enqueue kq); b=$(cq enqueue kq)
wait_status "$a" completed 15; wait_status "$b" completed 15
ok "the restarted pool runs tasks"
stop_codeqd
check_counts kq 3
