#!/bin/sh
# Leases held on this host are kept alive by the dispatcher: with a 2 s
# lease (and the reaper running every 500 ms) tasks that run and wait in a
# prefetch batch for longer than that are never reaped, so each completes
# on its first attempt.  A worker killed with a prefetched batch in hand:
# every task of the batch comes back at once.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool l]
queues = lq
command = while [ -e $T_DIR/hold ]; do sleep 0.05; done; sleep 1.5; echo "\$CODEQ_ATTEMPT"
processes = 1
prefetch = 3
lease = 2s
EOC
start_codeqd "$T_DIR/c.conf"
a=$(cq enqueue lq); b=$(cq enqueue lq); c=$(cq enqueue lq)
for id in $a $b $c; do wait_status "$id" completed 30; done
for id in $a $b $c; do
	assert_eq "$id ran on attempt" 1 "$(field "$id" result)"
done
grep -q 'msg="expired leases requeued"' "$T_DIR/codeqd.log" && fail "a held lease expired"
ok "4.5 s of work under 2 s leases: heartbeats kept every lease, prefetched ones too"

# Three tasks claimed by one worker at once, then the worker dies.
cnt() { [ "$(rcli ZCARD "codeq:{lq}:leased")" = 3 ]; }
# Made due together (due_now), so one promotion makes them ready together.
# Their handlers wait while "hold" exists: the batch is still in the
# worker's hands when it is killed, however slow the machine.
touch "$T_DIR/hold"
d=$(cq enqueue lq --delay 1h); e=$(cq enqueue lq --delay 1h); f=$(cq enqueue lq --delay 1h)
due_now "$d" "$e" "$f"
wait_for 15 cnt || fail "the batch was not claimed together"
w=$(field "$d" worker | cut -d: -f2)
[ "$(field "$e" worker | cut -d: -f2)" = "$w" ] || fail "not one worker's batch"
kill -9 "$w"
rm -f "$T_DIR/hold"
for id in $d $e $f; do wait_status "$id" completed 30; done
for id in $d $e $f; do
	assert_eq "$id completed on attempt" 2 "$(field "$id" result)"
done
n=$(grep -c 'msg="task given back".*reason="worker exited on signal 9"' "$T_DIR/codeqd.log")
assert_eq "tasks given back at once" 3 "$n"
stop_codeqd
check_counts lq 6
