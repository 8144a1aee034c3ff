#!/bin/sh
# dispatcher_settle: a worker whose handlers are all fast settles the
# completions of a prefetched batch together -- far fewer script calls than
# tasks -- and every task still ends completed with its own result; a pool
# whose handlers are slow settles each task as it ends.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dispatcher_lib.sh"
[ -f "$TEST_SO" ] || skip "tests/test_handler.so not built"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool fast]
queues = fq
so = $TEST_SO
processes = 1
prefetch = 16
EOC
start_codeqd "$T_DIR/c.conf"

scripts() { rcli INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p'; }
N=640
i=0
while [ $i -lt $N ]; do
	printf '{"payload":{"op":"echo","i":%d}}\n' $i
	i=$((i+1))
done >"$T_DIR/tasks.jsonl"
cq enqueue fq --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
before=$(scripts)
done_all() { [ "$(rcli HGET 'codeq:{fq}:stats' completed)" = "$N" ]; }
wait_for 60 done_all || fail "completed: $(rcli HGET 'codeq:{fq}:stats' completed) of $N"
calls=$(( $(scripts) - before ))
ok "$N tasks completed with $calls script calls (claims, completions, heartbeats)"
[ "$calls" -lt $((N / 2)) ] || fail "$calls script calls for $N fast tasks: completions not settled together"
for k in 1 17 333 $N; do
	assert_eq "fq:$k status" completed "$(field "fq:$k" status)"
	assert_eq "fq:$k result" "{\"op\":\"echo\",\"i\":$((k-1))}" "$(field "fq:$k" result)"
done

# Workers killed in the middle of fast batches: what they held is given
# back with their leases at once and run again; every task ends completed.
K=3000
i=0
while [ $i -lt $K ]; do
	printf '{"payload":{"op":"echo","i":%d}}\n' $i
	i=$((i+1))
done >"$T_DIR/kill.jsonl"
cq enqueue fq --bulk "$T_DIR/kill.jsonl" >/dev/null || fail "bulk enqueue"
kills=0 tries=0
while [ $kills -lt 3 ] && [ $tries -lt 200 ]; do
	tries=$((tries+1))
	w=$(worker_pids | head -n 1)
	if [ -n "$w" ] && [ "$(rcli HGET 'codeq:{fq}:stats' completed)" -lt $((N + K - 200)) ]; then
		kill -KILL "$w" 2>/dev/null && kills=$((kills+1))
	fi
	sleep 0.1
done
all_done() { [ "$(rcli HGET 'codeq:{fq}:stats' completed)" = "$((N + K))" ]; }
wait_for 60 all_done || fail "after $kills kills: $(rcli HGET 'codeq:{fq}:stats' completed) of $((N + K)) completed"
assert_eq "leased after the kills" 0 "$(rcli ZCARD 'codeq:{fq}:leased')"
[ $kills -gt 0 ] || fail "the drain ended before a worker could be killed"
ok "$kills workers killed mid-batch: all $((N + K)) tasks completed, none left leased"
stop_codeqd

# Slow handlers (5 ms each): one completion per task, as it ends.
write_conf "$T_DIR/s.conf" <<EOC
[pool slow]
queues = sq
so = $TEST_SO
processes = 1
prefetch = 16
EOC
start_codeqd "$T_DIR/s.conf"
M=64
i=0
while [ $i -lt $M ]; do
	printf '{"payload":{"op":"sleep","ms":5}}\n'
	i=$((i+1))
done >"$T_DIR/slow.jsonl"
cq enqueue sq --bulk "$T_DIR/slow.jsonl" >/dev/null || fail "bulk enqueue"
before=$(scripts)
sdone() { [ "$(rcli HGET 'codeq:{sq}:stats' completed)" = "$M" ]; }
wait_for 60 sdone || fail "slow: $(rcli HGET 'codeq:{sq}:stats' completed) of $M"
calls=$(( $(scripts) - before ))
[ "$calls" -ge "$M" ] || fail "$calls script calls for $M slow tasks: some settled late"
ok "$M slow tasks: $calls script calls, each completion on its own"
stop_codeqd
