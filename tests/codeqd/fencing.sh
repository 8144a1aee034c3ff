#!/bin/sh
# Fencing: a worker whose lease was taken over cannot complete the task.
# The lease of a running task is made to look expired; the reaper
# requeues the task and the pool's other worker claims it with a new
# token.  When the first handler finishes, the store refuses its result
# (stale token) -- unless a heartbeat round noticed first and the first
# worker stopped its handler; the task ends with the second worker's result.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool f]
queues = fq
command = g=$T_DIR/go.\$CODEQ_ATTEMPT; while [ ! -e \$g ] && [ -d $T_DIR ]; do sleep 0.05; done; echo "\\"attempt \$CODEQ_ATTEMPT\\""
processes = 2
lease = 120s
EOC
# Each attempt's handler waits until the test opens its gate (go.N): the
# first must still run when the reaper takes the task over, however slow
# the machine, and it must finish before the second does.
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
wait_for 60 expire || fail "the task was not taken over"
second=$(field "$id" worker | cut -d: -f2)
[ "$second" != "$first" ] || fail "taken over by the same worker"
[ "$(field "$id" lease_token)" != "$token1" ] || fail "no new lease token"
ok "lease expired: reaped and claimed again by worker $second with a new token"

touch "$T_DIR/go.1"
# Refused by the store, or, when a heartbeat round noticed the takeover
# first, abandoned by the worker (its handler stopped: LEASE_LOST).
refused() {
	grep -q "pid=$first msg=\"lease lost: another worker owns the task, verdict refused\" task=$id" \
		"$T_DIR/codeqd.log" ||
	grep -q "pid=$first msg=\"lease lost: stopping the handler, its result is abandoned\" task=$id" \
		"$T_DIR/codeqd.log"
}
wait_for 60 refused || fail "first worker's stale result was not refused"
ok "first worker's result refused or abandoned (stale lease token)"
is_status "$id" leased || fail "$id: status $(field "$id" status) after the stale result, expected leased"
touch "$T_DIR/go.2"
wait_status "$id" completed 60
wait_for 60 grep -q "pid=$second msg=\"task finished\" task=$id outcome=completed" "$T_DIR/codeqd.log" ||
	fail "second worker did not complete it"
assert_eq "stored result is the second attempt's" '"attempt 2"' "$(field "$id" result)"
stop_codeqd
check_counts fq 1
