#!/bin/sh
# A pool's max_attempts caps the attempts of the tasks it runs (the
# smaller of the task's own and the pool's): a failing task goes to the
# DLQ after the pool's limit, handlers see that limit, and the task's own
# max_attempts is left as enqueued.  The cap applies to the dispatcher's
# give-back of a dead worker's task too.  The pool's backoff settings are
# stored for its queues, even when the store was down when codeqd started.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool c]
queues = cq
command = echo "max \$CODEQ_MAX_ATTEMPTS" >&2; exit 1
processes = 1
max_attempts = 2
backoff_base = 50ms
backoff_max = 200ms
backoff_jitter = 0

[pool s]
queues = sq
so = $TEST_SO
processes = 1
max_attempts = 1
EOC
# The store is down when codeqd starts: the backoff is written once it
# is back.
stop_redis
start_codeqd "$T_DIR/c.conf"
restart_redis
conf() { [ "$(rcli HGET 'codeq:{cq}:conf' "$1")" = "$2" ]; }
wait_for 15 conf backoff_base_ms 50 || fail "pool backoff not stored: $(rcli HGETALL 'codeq:{cq}:conf')"
conf backoff_max_ms 200 || fail "backoff_max_ms: $(rcli HGET 'codeq:{cq}:conf' backoff_max_ms)"
conf jitter_pct 0 || fail "jitter_pct: $(rcli HGET 'codeq:{cq}:conf' jitter_pct)"
ok "pool backoff stored for its queue after a start with the store down"

# Capped by the pool: 2 attempts, not 10.
a=$(cq enqueue cq --max-attempts 10)
wait_status "$a" dead
assert_eq "$a attempts (pool max_attempts 2)" 2 "$(field "$a" attempts)"
assert_eq "$a keeps its own max_attempts" 10 "$(field "$a" max_attempts)"
case $(field "$a" error) in
*"max 2"*) ok "the handler saw CODEQ_MAX_ATTEMPTS=2" ;;
*) fail "handler's CODEQ_MAX_ATTEMPTS: $(field "$a" error)" ;;
esac
# The task's own limit when it is the smaller.
b=$(cq enqueue cq --max-attempts 1)
wait_status "$b" dead
assert_eq "$b attempts (its own max_attempts 1)" 1 "$(field "$b" attempts)"
assert_eq "dead-lettered" 2 "$(rcli LLEN 'codeq:{cq}:dlq')"

# The give-back of a crashed worker's task at the pool's limit: DLQ.
k=$(cq enqueue sq --payload '{"op":"crash"}' --max-attempts 5)
wait_status "$k" dead
assert_eq "$k attempts (pool max_attempts 1)" 1 "$(field "$k" attempts)"
grep -q "msg=\"task given back\" task=$k reason=\"worker exited on signal 11\" now=dead" \
	"$T_DIR/codeqd.log" || fail "give-back did not dead-letter $k"
ok "the dispatcher's give-back applies the pool's max_attempts"
stop_codeqd
check_counts cq 2
check_counts sq 1
