#!/bin/sh
# tests/cli/shard.sh: codeq shard list|verify|move over three stores, the
# home and shards b and c.  A queue on the home with ready, delayed,
# completed (with results), dead-lettered tasks and an idempotency key is
# moved to c: refused while a task is leased; copied and verified (run
# twice, and again after losing a key of the copy: interrupt-safe); a
# destination with foreign keys is refused; --finish is refused until
# the map puts the queue on c and while the source differs from the copy;
# then the home's keys go, every task and counter is the same from c, and
# the remaining work runs there.  Bad input exits as the other commands.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cli/lib.sh"
start_redis; P_B=$REDIS_PORT; U_B=$REDIS_URL
start_redis; P_C=$REDIS_PORT; U_C=$REDIS_URL
start_redis; P_H=$REDIS_PORT; U_H=$REDIS_URL
# The configuration names every store: no URL from the environment.
unset CODEQ_REDIS_URL

# conf FILE [QUEUES-OF-C]: home, b (holding "pinned"), c.
conf() {
	printf '[store]\nurl = %s\n\n[shard b]\nurl = %s\nqueues = pinned\n\n' \
		"$U_H" "$U_B" >"$1"
	printf '[shard c]\nurl = %s\n' "$U_C" >>"$1"
	[ -z "${2:-}" ] || printf 'queues = %s\n' "$2" >>"$1"
}
conf "$T_DIR/old.conf"
conf "$T_DIR/new.conf" q
C="-c $T_DIR/old.conf"
keys() { redis-cli -p "$1" --scan --pattern "codeq:{$2}:*" | wc -l; }

# The queue q on the home: one dead-lettered, two completed with results,
# ready ones of three priorities (one with an idempotency key), two
# delayed; "other" stays on the home, "pinned" is on b.
dead=$(cq $C enqueue q --priority 9 --max-attempts 1 --payload '{"n":0}')
tok=$(cq $C claim q --json | jget '["lease_token"]')
cq $C nack "$dead" --token "$tok" --error boom >/dev/null
for i in 1 2; do cq $C enqueue q --priority 5 --payload "{\"n\":$i}" >/dev/null; done
cq $C claim q --max 2 --json >"$T_DIR/claimed"
while read -r line; do
	id=$(echo "$line" | jget '["id"]') tok=$(echo "$line" | jget '["lease_token"]')
	cq $C complete "$id" --token "$tok" --result "{\"done\":\"$id\"}" >/dev/null
done <"$T_DIR/claimed"
for i in 3 4 5; do cq $C enqueue q --payload "{\"n\":$i}" >/dev/null; done
cq $C enqueue q --priority 2 --idempotency-key once --payload '{"n":6}' >/dev/null
cq $C enqueue q --priority 3 --payload '{"n":7}' >/dev/null
cq $C enqueue q --delay 1h --payload '{"n":8}' >/dev/null
cq $C enqueue q --delay 2h --payload '{"n":9}' >/dev/null
cq $C enqueue other >/dev/null
cq $C enqueue pinned >/dev/null
assert_eq "dead-lettered" 1 "$(cq $C stats q --json | jget '["dlq"]')"

# list
cq $C shard list >"$T_DIR/list"
grep -Eq "^b +redis://127.0.0.1:$P_B/0$" "$T_DIR/list" || fail "list: $(cat "$T_DIR/list")"
grep -Eq '^pinned +b$' "$T_DIR/list" || fail "list: pinned not on b"
grep -Eq '^q +home$' "$T_DIR/list" || fail "list: q not on home"
assert_eq "list --json stores" '["home", "b", "c"]' \
	"$(cq $C shard list --json | jget '["stores"]' | "$PYTHON3" -c 'import json,sys; print(json.dumps([s["name"] for s in json.load(sys.stdin)]))')"
printf '[store]\nurl = redis://u:secret@127.0.0.1:%s/0\n[shard b]\nurl = redis://:hush@127.0.0.1:%s/0\n' \
	"$P_H" "$P_B" >"$T_DIR/pw.conf"
run_cq -c "$T_DIR/pw.conf" shard list
case "$OUT$ERR" in *secret*|*hush*) fail "a password shown: $OUT $ERR" ;; esac
ok "list redacts passwords"

run_cq $C shard verify
assert_eq "verify before the move" 0 "$RC"
echo "$OUT" | grep -q '^3 queues, 0 misplaced$' || fail "verify: $OUT"
n=$(keys "$P_H" q)
ids=$(seq 1 10 | sed 's/^/q:/')
snapshot() {
	for id in $ids; do
		cq $C get "$id" --json | "$PYTHON3" -c 'import json,sys
d = json.load(sys.stdin); print(d["id"], d["status"], d.get("payload"), d.get("result"), d.get("due_at"))'
	done
}
before=$(snapshot)
stats() { cq $C stats q --json | "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin); d.pop("oldest_ready_ms"); print(json.dumps(d, sort_keys=True))'; }
stats_before=$(stats)

# Bad input.
expect_match 64 'no such store' $C shard move q --to nowhere
expect_match 64 'QUEUE' $C shard move 'bad queue' --to c
expect_match 64 'on home already' $C shard move q --to home
expect_match 64 'required' $C shard move q
expect_match 64 'for shard move' $C shard verify --to c
printf '[store]\nurl = %s\n[shard c]\nurl = redis://127.0.0.1:1/0\n' "$U_H" >"$T_DIR/down.conf"
expect_match 69 'shard c' -c "$T_DIR/down.conf" shard verify

# Not quiet: a leased task.
task=$(cq $C claim q --json)
expect_match 77 'queue q has 1 leased task on home: stop its producers and workers' \
	$C shard move q --to c
assert_eq "nothing copied while leased" 0 "$(keys "$P_C" q)"
cq $C complete "$(echo "$task" | jget '["id"]')" --token "$(echo "$task" | jget '["lease_token"]')" \
	--result '{"done":"leased"}' >/dev/null
before=$(snapshot)
stats_before=$(stats)
n=$(keys "$P_H" q)

# Step 1: dry run, copy, rerun, rerun after a lost key.
cq $C shard move q --to c --dry-run | grep -q "would copy $n keys from home to shard c (0 already" ||
	fail "dry run: $OUT"
assert_eq "dry run copies nothing" 0 "$(keys "$P_C" q)"
cq $C shard move q --to c >"$T_DIR/move"
grep -q "copied $n keys from home to shard c ($n written, 0 already identical), verified" "$T_DIR/move" ||
	fail "move: $(cat "$T_DIR/move")"
grep -q 'queues = q in \[shard c\]' "$T_DIR/move" || fail "move: no next step: $(cat "$T_DIR/move")"
assert_eq "keys on c" "$n" "$(keys "$P_C" q)"
assert_eq "a task's expiry kept" 1 "$(redis-cli -p "$P_C" pttl 'codeq:{q}:t:2' | awk '{print ($1 > 0)}')"
assert_eq "the seq key has none" -1 "$(redis-cli -p "$P_C" pttl 'codeq:{q}:seq')"
run_cq $C shard verify
assert_eq "verify after the copy" 65 "$RC"
echo "$OUT" | grep -q "^queue q: keys on shard c ($n keys), the map puts it on home" ||
	fail "verify: $OUT"
run_cq $C shard verify q --json
assert_eq "verify --json: misplaced" 1 "$(echo "$OUT" | jget '["misplaced"]')"
cq $C shard move q --to c | grep -q "(0 written, $n already identical)" || fail "rerun"
ok "step 1 again: nothing to write"
redis-cli -p "$P_C" del 'codeq:{q}:ready:0' >/dev/null
cq $C shard move q --to c | grep -q "(1 written, $((n - 1)) already identical)" || fail "rerun after a lost key"
ok "step 1 after an interrupted copy writes what is missing"
redis-cli -p "$P_C" hset 'codeq:{q}:t:99' status ready >/dev/null
expect_match 77 'shard c holds keys of q that are not home.s \(codeq:\{q\}:t:99\)' $C shard move q --to c
redis-cli -p "$P_C" del 'codeq:{q}:t:99' >/dev/null

# Step 2.
expect_match 77 'the map still puts q on home: change the configuration first' \
	$C shard move q --to c --finish
C="-c $T_DIR/new.conf"
cq $C shard list | grep -Eq '^q +c$' || fail "list: q not on c"
redis-cli -p "$P_H" hincrby 'codeq:{q}:stats' enqueued 1 >/dev/null
expect_match 77 'q changed on home since it was copied to shard c' $C shard move q --to c --finish
redis-cli -p "$P_H" hincrby 'codeq:{q}:stats' enqueued -1 >/dev/null
cq $C shard move q --to c --finish --dry-run | grep -q "would delete $n keys on home" || fail "finish dry run"
assert_eq "finish dry run deletes nothing" $((n + 1)) "$(keys "$P_H" q)"
cq $C shard move q --to c --finish | grep -q "deleted $n keys on home" || fail "finish"
assert_eq "no key of q left on the home" 0 "$(keys "$P_H" q)"
run_cq $C shard verify
assert_eq "verify after the move" 0 "$RC"
assert_eq "every task the same, from c" "$before" "$(snapshot)"
assert_eq "the same counters, from c" "$stats_before" "$(stats)"
cq $C shard move q --to c --finish | grep -q 'already moved' || fail "second finish"
ok "a second --finish: already moved"
assert_eq "idempotency key moved" q:7 "$(cq $C enqueue q --idempotency-key once)"

# The remaining work runs on c.
done_n=0
while run_cq $C claim q --json && [ "$RC" -eq 0 ]; do
	cq $C complete "$(echo "$OUT" | jget '["id"]')" --token "$(echo "$OUT" | jget '["lease_token"]')" >/dev/null
	done_n=$((done_n + 1))
done
assert_eq "claim when empty" 75 "$RC"
assert_eq "ready tasks claimed and completed on c" 4 "$done_n"
assert_eq "completed" 7 "$(cq $C stats q --json | jget '["completed"]')"
id=$(cq $C enqueue q)
assert_eq "a new task numbered after the old ones" q:11 "$id"
assert_eq "on c" 1 "$(redis-cli -p "$P_C" exists 'codeq:{q}:t:11')"
assert_eq "not on the home" 0 "$(keys "$P_H" q)"

