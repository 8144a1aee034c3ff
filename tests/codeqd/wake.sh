#!/bin/sh
# Wake-ups: with four idle workers, one enqueue wakes one worker (not
# all four), and the task is done without waiting for the workers'
# periodic re-check.  Also: the notifier and callbacks processes are
# forked, and restarted when they die.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool w]
queues = wq
so = $TEST_SO
processes = 4
EOC
sed -i 's/^enabled = no/enabled = yes/' "$T_DIR/c.conf"
start_codeqd "$T_DIR/c.conf"
woken() { grep -c 'msg=woken queue=wq' "$T_DIR/codeqd.log" || true; }
# Let the start-up settle (every worker idle, the subscription's one-off
# wake of the idle workers done): until no wake-up for a second.
quiet() {
	a=$(grep -c 'msg=woken' "$T_DIR/codeqd.log" || true)
	sleep 1
	[ "$a" = "$(grep -c 'msg=woken' "$T_DIR/codeqd.log" || true)" ]
}
wait_for 15 quiet || fail "start-up wake-ups do not settle"
before=$(woken)
id=$(cq enqueue wq --payload '{"op":"echo"}')
wait_status "$id" completed
sleep 0.5
assert_eq "workers woken by one enqueue" 1 $(( $(woken) - before ))

before=$(woken)
for i in 1 2 3; do cq enqueue wq --payload '{"op":"sleep","ms":300}' >/dev/null; done
for i in 2 3 4; do wait_status "wq:$i" completed; done
n=$(( $(woken) - before ))
[ "$n" -le 3 ] || fail "$n wake-ups for 3 tasks"
ok "three enqueues: $n wake-ups"
stop_codeqd

# notifier and callbacks: forked, restarted after a crash.  The second
# run logs to a fresh file: in the appended log, the first run's notifier
# would match "notifier started" and its pid could be taken for a restart.
mv "$T_DIR/codeqd.log" "$T_DIR/codeqd-wake.log"
start_codeqd "$T_DIR/c.conf"
np() { grep 'proc=notifier' "$T_DIR/codeqd.log" | grep 'msg="notifier started"' | tail -n 1 | sed 's/.* pid=\([0-9]*\) .*/\1/'; }
has_np() { [ -n "$(np)" ]; }
wait_for 10 has_np || fail "no notifier started"
n1=$(np)
kill -9 "$n1"
restarted() { n=$(np); [ -n "$n" ] && [ "$n" != "$n1" ]; }
wait_for 15 restarted || fail "notifier not restarted"
# The death is logged by the dispatcher, the restart by the new child:
# two writers, so wait for the line rather than expect it already there.
wait_for 15 grep -q "child died\" child=notifier pid=$n1 " "$T_DIR/codeqd.log" ||
	fail "notifier death not logged"
ok "notifier killed and restarted"
stop_codeqd
check_counts wq 4
