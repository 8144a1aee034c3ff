#!/bin/sh
# Handler timeouts.  exec: the worker kills the handler's whole process
# group (a background child included) and the task is retried with
# backoff.  .so: the handler cannot be stopped in-process, so the
# dispatcher kills the worker and fails the attempt.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool sh]
queues = tq
command = sleep 60 & echo \$! > $T_DIR/bg.\$CODEQ_ATTEMPT; echo \$\$ > $T_DIR/fg.\$CODEQ_ATTEMPT; sleep 60
timeout = 1s
processes = 1
backoff_base = 100ms
backoff_max = 100ms

[pool so]
queues = tso
so = $TEST_SO
timeout = 500ms
processes = 1
backoff_base = 100ms
backoff_max = 100ms
EOC
start_codeqd "$T_DIR/c.conf"

id=$(cq enqueue tq --max-attempts 2)
so_id=$(cq enqueue tso --max-attempts 1 --payload '{"op":"sleep","ms":30000}')
wait_status "$id" dead 30
assert_eq "exec timeout: attempts" 2 "$(field "$id" attempts)"
field "$id" error | grep -q "timed out after 1000 ms" || fail "error: $(field "$id" error)"
for f in fg.1 bg.1 fg.2 bg.2; do
	p=$(cat "$T_DIR/$f")
	wait_for 5 sh -c "! kill -0 $p 2>/dev/null" || fail "$f ($p) survived the timeout"
done
ok "exec timeout killed the whole process group, twice"

wait_status "$so_id" dead 30
field "$so_id" error | grep -q "timed out" || fail ".so error: $(field "$so_id" error)"
ok ".so timeout: worker killed, attempt failed ($(field "$so_id" error))"
ok_id=$(cq enqueue tso --payload '{"op":"echo"}')
wait_status "$ok_id" completed
ok "the .so pool works after its worker was killed"
stop_codeqd
check_counts tq 1
check_counts tso 2
