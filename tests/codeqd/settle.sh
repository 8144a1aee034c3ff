#!/bin/sh
# dispatcher_settle: a worker whose handlers are all fast settles the
# completions of a prefetched batch together -- far fewer script calls than
# tasks -- and every task still ends completed with its own result; a pool
# whose handlers are slow settles each task as it ends.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
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
# enqueue_n QUEUE N OP: N tasks of the test handler's OP ("echo" with its
# number i, or "sleep" 5 ms) in one bulk enqueue.
enqueue_n() {
	i=0
	while [ $i -lt "$2" ]; do
		if [ "$3" = echo ]; then
			printf '{"payload":{"op":"echo","i":%d}}\n' $i
		else
			printf '{"payload":{"op":"sleep","ms":5}}\n'
		fi
		i=$((i+1))
	done >"$T_DIR/tasks.jsonl"
	cq enqueue "$1" --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
}
completed_is() { [ "$(rcli HGET "codeq:{$1}:stats" completed)" = "$2" ]; }
# drain_calls QUEUE N OP: enqueue N tasks, wait until they are completed;
# sets calls to the script calls the store ran meanwhile (the bulk
# enqueue's few included).
drain_calls() {
	before=$(scripts)
	enqueue_n "$1" "$2" "$3"
	wait_for 60 completed_is "$1" "$2" ||
		fail "$1: $(rcli HGET "codeq:{$1}:stats" completed) of $2 completed"
	calls=$(( $(scripts) - before ))
}
N=640
drain_calls fq $N echo
ok "$N tasks completed with $calls script calls (claims, completions, heartbeats)"
[ "$calls" -lt $((N / 2)) ] || fail "$calls script calls for $N fast tasks: completions not settled together"
for k in 1 17 333 $N; do
	assert_eq "fq:$k status" completed "$(field "fq:$k" status)"
	assert_eq "fq:$k result" "{\"op\":\"echo\",\"i\":$((k-1))}" "$(field "fq:$k" result)"
done

# Workers killed in the middle of fast batches: what they held is given
# back with their leases at once and run again; every task ends completed.
K=3000
enqueue_n fq $K echo
kills=0 tries=0
while [ $kills -lt 3 ] && [ $tries -lt 200 ]; do
	tries=$((tries+1))
	w=$(worker_pids | head -n 1)
	if [ -n "$w" ] && [ "$(rcli HGET 'codeq:{fq}:stats' completed)" -lt $((N + K - 200)) ]; then
		kill -KILL "$w" 2>/dev/null && kills=$((kills+1))
	fi
	sleep 0.1
done
wait_for 60 completed_is fq $((N + K)) || fail "after $kills kills: $(rcli HGET 'codeq:{fq}:stats' completed) of $((N + K)) completed"
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
drain_calls sq $M sleep
[ "$calls" -ge "$M" ] || fail "$calls script calls for $M slow tasks: some settled late"
ok "$M slow tasks: $calls script calls, each completion on its own"
stop_codeqd
