#!/bin/sh
# storage_crash: the store process killed with SIGKILL (no shutdown, no
# final flush) and restarted on the same directory loses nothing codeq was
# told was done: every acknowledged enqueue, claim and completion is there
# and every task is in exactly one place (codeq fsck).  redis-server keeps
# its AOF, KVRocks its RocksDB write-ahead log; both are written before the
# reply, so a process crash (not a power loss) keeps them.
. "$top_srcdir/tests/lib.sh"
[ -x "$CODEQ" ] || skip "codeq CLI not built"
start_redis
cq() { "$CODEQ" "$@"; }

N=1000
i=0
while [ $i -lt $N ]; do
	printf '{"payload":{"i":%d},"priority":%d}\n' $i $((i % 10))
	i=$((i+1))
done >"$T_DIR/tasks.jsonl"
cq enqueue crash --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
# Ten claimed and completed, five claimed and left leased.
for k in 1 2 3 4 5 6 7 8 9 10; do
	cq claim crash --lease 10m >"$T_DIR/c" || fail "claim $k"
	id=$(sed -n 's/^id: *//p' "$T_DIR/c"); tok=$(sed -n 's/^lease_token: *//p' "$T_DIR/c")
	[ -n "$id" ] && [ -n "$tok" ] || fail "claim output: $(cat "$T_DIR/c")"
	cq complete "$id" --token "$tok" --result "{\"k\":$k}" >/dev/null || fail "complete $id"
done
for k in 1 2 3 4 5; do cq claim crash --lease 10m >/dev/null || fail "claim"; done
last=$id

kill -KILL "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null || true
ok "store killed with SIGKILL"
restart_redis
wait_for 20 sh -c "\"$CODEQ\" stats crash >/dev/null 2>&1" || fail "store not answering after the restart"

assert_eq "enqueued" $N "$(rcli HGET 'codeq:{crash}:stats' enqueued)"
assert_eq "completed" 10 "$(rcli HGET 'codeq:{crash}:stats' completed)"
assert_eq "leased" 5 "$(rcli ZCARD 'codeq:{crash}:leased')"
ready=0
for p in 0 1 2 3 4 5 6 7 8 9; do
	ready=$((ready + $(rcli LLEN "codeq:{crash}:ready:$p")))
done
assert_eq "ready" $((N - 15)) "$ready"
assert_eq "the last result" '{"k":10}' "$(rcli HGET "codeq:{${last%%:*}}:t:${last##*:}" result)"
cq fsck crash >"$T_DIR/fsck" 2>&1 || fail "fsck after the crash: $(cat "$T_DIR/fsck")"
ok "fsck: every task in exactly one place"
