#!/bin/sh
# A lease lost while its handler runs: the heartbeat is refused (here the
# task's lease_token is changed behind codeqd's back, as a takeover would),
# the dispatcher tells the worker (LEASE_LOST) and the handler stops:
#  - exec: the worker kills the handler's process group, abandons the
#    result without asking the store, and goes on claiming;
#  - .so: the handler cannot be stopped in-process, so the worker is
#    restarted.
# Either way the task is the store's again once the (foreign) lease
# expires: the reaper requeues it and it completes on a later attempt.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool x]
queues = xq
command = echo \$\$ >"$T_DIR/pgid.\$CODEQ_ATTEMPT"; if [ "\$CODEQ_ATTEMPT" = 1 ] && grep -q slow; then sleep 60; fi; echo '"done"'
processes = 1
lease = 2s
backoff_base = 100ms

[pool s]
queues = sq
so = $TEST_SO
processes = 1
lease = 2s
backoff_base = 100ms
EOC
start_codeqd "$T_DIR/c.conf"

# ---- exec ----
id=$(cq enqueue xq --payload '{"slow":true}')
wait_status "$id" leased
wait_for 10 test -s "$T_DIR/pgid.1" || fail "handler did not start"
pgid=$(cat "$T_DIR/pgid.1")
worker=$(field "$id" worker | cut -d: -f2)
kill -0 -- "-$pgid" || fail "handler's process group not running"
rcli HSET "codeq:{xq}:t:${id##*:}" lease_token 999999 >/dev/null
gone() { ! kill -0 -- "-$pgid" 2>/dev/null; }
wait_for 15 gone || fail "the handler's process group still runs"
grep -q "msg=\"lease lost: the store refused its heartbeat\" task=$id" "$T_DIR/codeqd.log" ||
	fail "the dispatcher did not report the lost lease"
grep -q "pid=$worker msg=\"lease lost: stopping the handler, its result is abandoned\" task=$id" \
	"$T_DIR/codeqd.log" || fail "the worker did not stop the handler"
ok "heartbeat refused: the exec handler's process group was killed"
wait_for 10 grep -q "pid=$worker msg=\"task finished\" task=$id outcome=stale" "$T_DIR/codeqd.log" ||
	fail "the task did not leave the worker as stale"
grep -q "pid=$worker msg=\"lease lost: another worker owns the task, verdict refused\"" \
	"$T_DIR/codeqd.log" && fail "the abandoned result was sent to the store"
ok "result abandoned without a store call"

# The same worker goes on claiming; the task comes back once the foreign
# lease expires, and completes on attempt 2.
next=$(cq enqueue xq)
wait_status "$next" completed
assert_eq "next task ran in the same worker" "$worker" "$(field "$next" worker | cut -d: -f2)"
wait_status "$id" completed 30
assert_eq "$id completed on attempt" 2 "$(field "$id" attempts)"
kill -0 "$worker" || fail "the exec worker was restarted"

# ---- .so ----
# The .so handler runs while "hold" exists: a fixed sleep could end
# before a loaded machine's heartbeat round sees the changed token.
touch "$T_DIR/hold"
sid=$(cq enqueue sq --payload "{\"op\":\"hold\",\"file\":\"$T_DIR/hold\"}")
wait_status "$sid" leased
sworker=$(field "$sid" worker | cut -d: -f2)
wait_for 10 grep -q "pid=$sworker msg=\"task started\" task=$sid" "$T_DIR/codeqd.log" ||
	fail ".so task did not start"
rcli HSET "codeq:{sq}:t:${sid##*:}" lease_token 999999 >/dev/null
wait_for 15 grep -q "msg=\"restarting the worker: its handler's lease was lost\" pool=s task=$sid" \
	"$T_DIR/codeqd.log" || fail ".so worker not restarted"
dead() { ! kill -0 "$sworker" 2>/dev/null; }
wait_for 10 dead || fail ".so worker still runs"
rm -f "$T_DIR/hold"
ok "heartbeat refused: the .so worker was restarted"
wait_status "$sid" completed 30
assert_eq "$sid completed on attempt" 2 "$(field "$sid" attempts)"
[ "$(field "$sid" worker | cut -d: -f2)" != "$sworker" ] || fail "completed by the killed worker"
grep "pool=s" "$T_DIR/codeqd.log" | grep -q 'pool is crash-looping' && fail "counted as a crash"
stop_codeqd
check_counts xq 2
check_counts sq 1
