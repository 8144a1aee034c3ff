#!/bin/sh
# Priorities and delays through the daemon: one worker takes ready tasks
# highest priority first, FIFO within a priority; a delayed task is
# promoted by the dispatcher's timer when due (nothing else happens in
# the queue to trigger it) and never runs before its due time.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

out="$T_DIR/order"
write_conf "$T_DIR/c.conf" <<EOC
[pool o]
queues = oq, oq2
command = echo "\$CODEQ_TASK_ID \$(date +%s%3N)" >> $out
processes = 1
EOC
a=$(cq enqueue oq --priority 1); b=$(cq enqueue oq --priority 5)
c=$(cq enqueue oq --priority 9); d=$(cq enqueue oq --priority 5)
e=$(cq enqueue oq --priority 0); f=$(cq enqueue oq --priority 9 --delay 3s)
g=$(cq enqueue oq2 --priority 9)
start_codeqd "$T_DIR/c.conf"
for id in $a $b $c $d $e $g; do wait_status "$id" completed; done
order=$(head -n 6 "$out" | cut -d' ' -f1 | tr '\n' ' ')
assert_eq "order of ready tasks" "$c $b $d $a $e $g " "$order"
ok "priorities first, FIFO within one, queues in the order the pool lists them"

wait_status "$f" completed 20
ran=$(grep "^$f " "$out" | cut -d' ' -f2)
due=$(field "$f" due_at)
[ -n "$due" ] || due=$(( $(field "$f" created_at) + 3000 ))
[ "$ran" -ge "$due" ] || fail "delayed task ran at $ran, before its due time $due"
ok "delayed task ran after its due time ($((ran - due)) ms after), promoted by the dispatcher"

# A delayed task while the worker is idle: woken by the promotion.
h=$(cq enqueue oq --delay 1s)
wait_status "$h" completed 20
ok "a delayed task reaches an idle worker"
stop_codeqd
check_counts oq 7
check_counts oq2 1
