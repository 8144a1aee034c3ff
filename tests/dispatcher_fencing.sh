#!/bin/sh
# Fencing: a worker whose lease was taken over cannot complete the task.
# The lease of a running task is made to look expired; the reaper
# requeues the task and the pool's other worker claims it with a new
# token.  When the first handler finishes, the store refuses its result
# (stale token) -- unless a heartbeat round noticed first and the first
# worker stopped its handler; the task ends with the second worker's result.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/dispatcher_lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool f]
queues = fq
command = sleep 2; echo "\\"attempt \$CODEQ_ATTEMPT\\""
processes = 2
lease = 30s
EOC
start_codeqd "$T_DIR/c.conf"
id=$(cq enqueue fq)
wait_status "$id" leased
first=$(field "$id" worker | cut -d: -f2)
token1=$(field "$id" lease_token)

# Only while the first lease is current (one atomic script), so the
# second worker's lease is never touched.
expire() {
	[ "$(field "$id" attempts)" = 2 ] && return 0
	rcli EVAL "if redis.call('HGET', KEYS[2], 'lease_token') == ARGV[1] then
		return redis.call('ZADD', KEYS[1], 'XX', 1, ARGV[2]) end return 0" \
		2 "codeq:{fq}:leased" "codeq:{fq}:t:${id##*:}" "$token1" "$id" >/dev/null
	return 1
}
wait_for 15 expire || fail "the task was not taken over"
second=$(field "$id" worker | cut -d: -f2)
[ "$second" != "$first" ] || fail "taken over by the same worker"
[ "$(field "$id" lease_token)" != "$token1" ] || fail "no new lease token"
ok "lease expired: reaped and claimed again by worker $second with a new token"

wait_status "$id" completed 20
# Refused by the store, or, when a heartbeat round noticed the takeover
# first, abandoned by the worker (its handler stopped: LEASE_LOST).
refused() {
	grep -q "pid=$first msg=\"lease lost: another worker owns the task, verdict refused\" task=$id" \
		"$T_DIR/codeqd.log" ||
	grep -q "pid=$first msg=\"lease lost: stopping the handler, its result is abandoned\" task=$id" \
		"$T_DIR/codeqd.log"
}
wait_for 10 refused || fail "first worker's stale result was not refused"
ok "first worker's result refused or abandoned (stale lease token)"
wait_for 10 grep -q "pid=$second msg=\"task finished\" task=$id outcome=completed" "$T_DIR/codeqd.log" ||
	fail "second worker did not complete it"
assert_eq "stored result is the second attempt's" '"attempt 2"' "$(field "$id" result)"
stop_codeqd
check_counts fq 1
