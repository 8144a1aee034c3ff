#!/bin/sh
# storage_protocol.sh: the storage protocol as any Redis client sees it
# (docs/storage.md): tasks enqueued, claimed and completed with redis-cli
# EVAL of lib/scripts/*.lua, inspected with plain commands.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
command -v redis-cli >/dev/null || skip "redis-cli not installed"
start_redis
S="$top_srcdir/lib/scripts"
ev() { script=$1; shift; rcli EVAL "$(cat "$S/$script.lua")" "$@"; }

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
