#!/bin/sh
# Delayed tasks are promoted at their due time by the dispatcher's promote
# timer (dispatcher/promote.c), not by the tick: the tick is set to 10 s,
# so only the timer can make the tasks below ready before the next tick.
#  - An enqueue of a task due before every other delayed task of its
#    queue signals the dispatcher (codeq:delayed), which re-arms its timer
#    for it although a later task (60 s) had armed it first.
#  - The timer promotes the tasks one by one, learning the next due time
#    from each promote: three tasks 200 ms apart, one signal.
# No timing is asserted: the log says which path promoted each task (the
# workers' own 5 s re-check could win a race against the timer for one
# task; not for two).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

out="$T_DIR/ran"
write_conf "$T_DIR/c.conf" <<EOC
[pool p]
queues = pq
command = echo "\$CODEQ_TASK_ID" >> $out
processes = 1
EOC
sed -i 's/^tick = .*/tick = 10s/' "$T_DIR/c.conf"
grep -q '^tick = 10s$' "$T_DIR/c.conf" || fail "tick not set"
start_codeqd "$T_DIR/c.conf"
wait_for 10 grep -q 'msg="subscribed to work notifications"' "$T_DIR/codeqd.log" ||
	fail "no pub/sub subscription"

far=$(cq enqueue pq --delay 60s)
a=$(cq enqueue pq --delay 1s)
b=$(cq enqueue pq --delay 1200ms)
c=$(cq enqueue pq --delay 1400ms)
for id in $a $b $c; do wait_status "$id" completed 30; done
assert_eq "tasks run, in due order" "$a $b $c " "$(tr '\n' ' ' <"$out")"
assert_eq "the task due in 60 s" delayed "$(field "$far" status)"

armed=$(grep 'msg="promote timer armed" queue=pq ' "$T_DIR/codeqd.log" |
	sed 's/.* in_ms=\([0-9]*\).*/\1/' | sort -n | head -n 1)
[ -n "$armed" ] || fail "no promote timer armed by a signal"
[ "$armed" -le 1000 ] || fail "timer armed in $armed ms at the soonest, not for the 1 s task"
ok "the enqueue of the earliest task re-armed the timer (in $armed ms)"

n=$(grep -c 'msg="delayed tasks promoted" queue=pq tasks=1 by=timer' "$T_DIR/codeqd.log" || true)
[ "$n" -ge 2 ] || {
	grep 'promote' "$T_DIR/codeqd.log"
	fail "$n of 3 tasks promoted by the timer"
}
ok "$n of 3 delayed tasks promoted by the timer, not the 10 s tick"
stop_codeqd
check_counts pq 4
