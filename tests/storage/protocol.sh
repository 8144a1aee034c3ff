#!/bin/sh
# tests/storage/protocol.sh: the storage protocol as any Redis client sees it
# (docs/storage.md): tasks enqueued, claimed and completed with redis-cli
# EVAL of lib/scripts/*.lua, inspected with plain commands.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
command -v redis-cli >/dev/null || skip "redis-cli not installed"
start_redis
S="$top_srcdir/lib/scripts"
# A script as the build embeds it (lib/embed-scripts.sh): the shared
# prelude, then the script's own file.
ev() { script=$1; shift; rcli EVAL "$(cat "$S/prelude.lua" "$S/$script.lua")" "$@"; }

# enqueue: KEYS[1] seq; Q payload priority delay at max_attempts idem ttl webhook traceparent
out=$(ev enqueue 1 'codeq:{proto}:seq' proto '{"n":1}' 3 0 0 2 key1 60000 '' '')
assert_eq "enqueue reply" "proto:1
0
ready" "$out"
assert_eq "duplicate by idempotency key" "proto:1
1
ready" "$(ev enqueue 1 'codeq:{proto}:seq' proto '{"n":1}' 3 0 0 2 key1 60000 '' '')"
assert_eq "ready:3 holds it" "proto:1" "$(rcli LRANGE 'codeq:{proto}:ready:3' 0 -1)"
assert_eq "status field" "ready" "$(rcli HGET 'codeq:{proto}:t:1' status)"
rcli PTTL 'codeq:{proto}:idem:key1' | grep -Eq '^[0-9]+$' || fail "idempotency key has no TTL"
case $(ev enqueue 1 'codeq:{proto}:seq' proto '{}' 12 0 0 2 '' 0 '' '' 2>&1) in
*"INVAL priority: must be 0-9, got 12"*) ok "priority 12 refused";;
*) fail "priority 12 accepted";;
esac

# Several tasks in one call (9 arguments each): one refused before any
# write of its own, the others added; one stats update, one publish.
# (redis-cli prints an empty line after an error element.)
before=$(rcli HGET 'codeq:{pb}:stats' enqueued)
out=$(ev enqueue 1 'codeq:{pb}:seq' pb '{"n":1}' 0 0 0 2 '' 0 '' '' \
	'{"n":2}' 12 0 0 2 '' 0 '' '' '{"n":3}' 0 0 0 2 kb 60000 '' '' \
	'{"n":3}' 0 0 0 2 kb 60000 '' '' 2>&1)
assert_eq "batch reply" "pb:1
0
ready
INVAL priority: must be 0-9, got 12

pb:2
0
ready
pb:2
1
ready" "$out"
assert_eq "batch: stats.enqueued" "2" "$(rcli HGET 'codeq:{pb}:stats' enqueued)"
assert_eq "batch: ready:0" "pb:1 pb:2" "$(rcli LRANGE 'codeq:{pb}:ready:0' 0 -1 | tr '\n' ' ' | sed 's/ $//')"
[ -z "$before" ] || fail "queue pb was not new"
case $(ev enqueue 1 'codeq:{pb}:seq' pb '{}' 0 0 0 2 '' 0 '' 2>&1) in
*"not a multiple of 9"*) ok "a partial task's arguments refused";;
*) fail "a partial task's arguments accepted";;
esac

# claim: KEYS[1] leased; Q lease_ms worker n promote_limit -> task hashes
ev claim 1 'codeq:{proto}:leased' proto 30000 w1 1 100 >"$T_DIR/claim"
token=$(sed -n '/^lease_token$/{n;p;}' "$T_DIR/claim")
[ -n "$token" ] || fail "claim returned no lease_token: $(cat "$T_DIR/claim")"
ok "claimed with token $token"
assert_eq "attempts" "1" "$(rcli HGET 'codeq:{proto}:t:1' attempts)"
assert_eq "one lease" "1" "$(rcli ZCARD 'codeq:{proto}:leased')"

# A wrong token is refused (STALE), nothing changes.
case $(ev complete 1 'codeq:{proto}:t:1' proto proto:1 999 '{}' 60000 2>&1) in
*STALE*) ok "stale token refused";;
*) fail "stale token accepted";;
esac
assert_eq "still leased" "leased" "$(rcli HGET 'codeq:{proto}:t:1' status)"

# complete: KEYS[1] task hash; Q id token result retention_ms
assert_eq "complete" "1" "$(ev complete 1 'codeq:{proto}:t:1' proto proto:1 "$token" '{"ok":true}' 60000)"
assert_eq "completed" "completed" "$(rcli HGET 'codeq:{proto}:t:1' status)"
assert_eq "result" '{"ok":true}' "$(rcli HGET 'codeq:{proto}:t:1' result)"
assert_eq "lease gone" "0" "$(rcli ZCARD 'codeq:{proto}:leased')"
ttl=$(rcli PTTL 'codeq:{proto}:t:1')
[ "$ttl" -gt 0 ] && [ "$ttl" -le 60000 ] || fail "retention TTL $ttl"
ok "retention set ($ttl ms)"

# stats: counters as documented.
ev stats 1 'codeq:{proto}:stats' proto >"$T_DIR/stats"
grep -qx enqueued "$T_DIR/stats" && grep -qx completed "$T_DIR/stats" ||
	fail "stats reply: $(cat "$T_DIR/stats")"
assert_eq "stats.completed" "1" "$(rcli HGET 'codeq:{proto}:stats' completed)"

# complete of several tasks in one call: KEYS the task hashes; Q, then
# id token result retention_ms per task.  The pb tasks above, claimed.
ev claim 1 'codeq:{pb}:leased' pb 30000 w1 2 100 >"$T_DIR/claimpb"
t1=$(sed -n '/^lease_token$/{n;p;}' "$T_DIR/claimpb" | sed -n 1p)
t2=$(sed -n '/^lease_token$/{n;p;}' "$T_DIR/claimpb" | sed -n 2p)
out=$(ev complete 2 'codeq:{pb}:t:1' 'codeq:{pb}:t:2' pb pb:1 "$t1" '1' 60000 \
	pb:2 "$t1" '2' 60000 2>&1)
assert_eq "batch complete: one done, one stale" "1
STALE lease token $t1 is not the current one of task pb:2" "$out"
assert_eq "batch complete: pb:2 still leased" "leased" "$(rcli HGET 'codeq:{pb}:t:2' status)"
assert_eq "batch complete: the second try" "1" \
	"$(ev complete 1 'codeq:{pb}:t:2' pb pb:2 "$t2" '2' 60000)"

# nack after the last attempt: dead-lettered, with its result callback
# written to the outbox by the same script (the prelude's outbox_add).
ev enqueue 1 'codeq:{proto}:seq' proto '{}' 0 0 0 1 '' 0 'http://127.0.0.1:9/cb' '00-abc-def-01' >/dev/null
ev claim 1 'codeq:{proto}:leased' proto 30000 w1 1 100 >"$T_DIR/claim2"
token=$(sed -n '/^lease_token$/{n;p;}' "$T_DIR/claim2")
assert_eq "claimed the second task" "proto:2" "$(sed -n '/^id$/{n;p;}' "$T_DIR/claim2")"
# nack: KEYS[1] task hash; Q id token delay_ms error random
assert_eq "nack after the last attempt" "dead
0" "$(ev nack 1 'codeq:{proto}:t:2' proto proto:2 "$token" -1 boom 500000)"
assert_eq "in the DLQ" "proto:2" "$(rcli LRANGE 'codeq:{proto}:dlq' 0 -1)"
assert_eq "callback item status" "dead" "$(rcli HGET 'codeq:{proto}:cb:1' status)"
assert_eq "callback item task" "proto:2" "$(rcli HGET 'codeq:{proto}:cb:1' task_id)"
assert_eq "callback item error" "boom" "$(rcli HGET 'codeq:{proto}:cb:1' error)"
assert_eq "callback item traceparent" "00-abc-def-01" "$(rcli HGET 'codeq:{proto}:cb:1' traceparent)"
assert_eq "outbox holds it" "1" "$(rcli ZRANGE 'codeq:{proto}:outbox' 0 -1)"
# The token was cleared: a heartbeat by the late holder is STALE.
case $(ev heartbeat 1 'codeq:{proto}:t:2' proto proto:2 "$token" 30000 2>&1) in
*STALE*) ok "heartbeat after the nack refused as stale";;
*) fail "heartbeat after the nack accepted";;
esac
