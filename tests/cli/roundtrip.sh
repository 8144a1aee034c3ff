#!/bin/sh
# tests/cli/roundtrip.sh: a task's whole life through the codeq command against a
# private redis-server: enqueue, get, claim, heartbeat, complete, result;
# priorities; delays; idempotency; nack and re-claim; fail (retry and
# permanent); max attempts -> dlq list/requeue/purge; stats; fsck.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cli/lib.sh"
start_redis

# enqueue -> get -> claim -> heartbeat -> complete -> result
id=$(cq enqueue mail --payload '{"to":"a@example.org"}' --priority 3)
assert_eq "first id" "mail:1" "$id"
assert_eq "status after enqueue" ready "$(cq get "$id" --json | jget '["status"]')"
assert_eq "payload kept" '{"to": "a@example.org"}' "$(cq get "$id" --json | jget '["payload"]')"
cq get "$id" | grep -q '^status: *ready$' || fail "get: no 'status: ready' line"
task=$(cq claim mail --json --worker w1 --lease 30s)
assert_eq "claimed id" "$id" "$(echo "$task" | jget '["id"]')"
assert_eq "claimed worker" w1 "$(echo "$task" | jget '["worker"]')"
assert_eq "attempt counted" 1 "$(echo "$task" | jget '["attempts"]')"
token=$(echo "$task" | jget '["lease_token"]')
[ -n "$token" ] || fail "no lease token"
until1=$(echo "$task" | jget '["lease_until"]')
hb=$(cq heartbeat "$id" --token "$token" --lease 10m --json | jget '["lease_until"]')
[ "$hb" -gt "$until1" ] || fail "heartbeat did not extend the lease ($hb <= $until1)"
ok "heartbeat extended the lease"
run_cq result "$id"
assert_eq "result of an unfinished task exits" 75 "$RC"
assert_eq "complete --json" completed \
	"$(cq complete "$id" --token "$token" --result '{"sent":true}' --json | jget '["status"]')"
assert_eq "result" '{"sent":true}' "$(cq result "$id")"
# The longest --wait parses (int64 ms) and is bounded, not overflowed.
assert_eq "result --wait (the longest)" '{"sent":true}' \
	"$(cq result "$id" --wait 9223372036854775807ms)"
assert_eq "result --json status" completed "$(cq result "$id" --json | jget '["status"]')"

# nothing to claim: 75, silent with --quiet
expect 75 "codeq: claim: no task ready" claim mail
expect 75 "" claim mail --quiet

# priorities: higher first, FIFO within one; several queues in order
cq enqueue prio --payload '"a"' --priority 1 >/dev/null
cq enqueue prio --payload '"b"' --priority 9 >/dev/null
cq enqueue prio --payload '"c"' --priority 1 >/dev/null
cq enqueue prio --payload '"d"' --priority 9 >/dev/null
cq enqueue prio2 --payload '"e"' --priority 9 >/dev/null
order=$(cq claim prio prio2 --max 3 --json | jlines '["payload"]' | tr -d '\n')
assert_eq "claim order (priority, then FIFO)" "bda" "$order"
order=$(cq claim prio prio2 --max 3 --json | jlines '["payload"]' | tr -d '\n')
assert_eq "then the rest, the first queue emptied first" "ce" "$order"
expect 75 "" claim prio prio2 --quiet

# delays: not claimable before due; --at in the past is ready
id=$(cq enqueue later --delay 1h)
assert_eq "delayed status" delayed "$(cq get "$id" --json | jget '["status"]')"
expect 75 "" claim later --quiet
id=$(cq enqueue past --at 2001-09-09T01:46:40Z)
assert_eq "--at in the past is claimable" "$id" "$(cq claim past --json | jget '["id"]')"
id=$(cq enqueue soon --delay 200ms)
wait_for 10 "$CODEQ" claim soon --quiet || fail "delayed task never became claimable"
ok "a 200ms delay becomes claimable"

# idempotency: the same key gives the same id, flagged duplicate
id1=$(cq enqueue idem --idempotency-key order-7 --payload '{"n":1}')
out=$(cq enqueue idem --idempotency-key order-7 --payload '{"n":2}' --json)
assert_eq "duplicate id" "$id1" "$(echo "$out" | jget '["id"]')"
assert_eq "duplicate flag" True "$(echo "$out" | jget '["duplicate"]')"
run_cq enqueue idem --idempotency-key order-7
assert_eq "duplicate on stdout" "$id1" "$OUT"
echo "$ERR" | grep -q "already used" || fail "no duplicate note: $ERR"

# nack -> ready again with the error kept; a new claim has a new token
id=$(cq enqueue retry --max-attempts 2 --payload '{}')
t1=$(cq claim retry --json | jget '["lease_token"]')
assert_eq "nack --delay 0" ready \
	"$(cq nack "$id" --token "$t1" --delay 0 --error "temporary" --json | jget '["status"]')"
task=$(cq claim retry --json)
t2=$(echo "$task" | jget '["lease_token"]')
[ "$t1" != "$t2" ] || fail "re-claim kept the lease token"
assert_eq "error kept" temporary "$(echo "$task" | jget '["error"]')"
assert_eq "second attempt" 2 "$(echo "$task" | jget '["attempts"]')"
# the last attempt failing: dead-lettered
assert_eq "fail on the last attempt" dead \
	"$(cq fail "$id" --token "$t2" --error "still broken" --json | jget '["status"]')"
expect 1 "codeq: result: $id dead after 2 attempts: still broken" result "$id"

# fail --permanent: failed at once, whatever attempts are left
id=$(cq enqueue perm --max-attempts 5)
t=$(cq claim perm --json | jget '["lease_token"]')
cq fail "$id" --token "$t" --error "bad input" --permanent >/dev/null
assert_eq "permanent failure" failed "$(cq get "$id" --json | jget '["status"]')"

# dlq list / requeue (one, then all) / purge
for n in 1 2 3; do
	i=$(cq enqueue dq --max-attempts 1 --payload "{\"n\":$n}")
	t=$(cq claim dq --json | jget '["lease_token"]')
	cq nack "$i" --token "$t" --error "boom $n" >/dev/null
done
ids=$(cq dlq list dq --json | "$PYTHON3" -c 'import json,sys; print(" ".join(t["id"] for t in json.load(sys.stdin)))')
assert_eq "dlq list, oldest first" "dq:1 dq:2 dq:3" "$ids"
cq dlq list dq | grep -q "^dq:2	attempts=1/1	boom 2$" || fail "dlq list text"
assert_eq "dlq list --offset 1 --limit 1" '["dq:2"]' \
	"$(cq dlq list dq --offset 1 --limit 1 --json | "$PYTHON3" -c 'import json,sys; print(json.dumps([t["id"] for t in json.load(sys.stdin)]))')"
assert_eq "dlq requeue ID" "1 requeued" "$(cq dlq requeue dq dq:2)"
assert_eq "requeued task is ready" ready "$(cq get dq:2 --json | jget '["status"]')"
assert_eq "requeued attempts reset" 0 "$(cq get dq:2 --json | jget '["attempts"]')"
assert_eq "stats dlq" 2 "$(cq stats dq --json | jget '["dlq"]')"
assert_eq "dlq requeue all" '{"queue":"dq","requeued":2}' "$(cq dlq requeue dq --json)"
for n in 1 2 3; do
	task=$(cq claim dq --json)
	cq nack "$(echo "$task" | jget '["id"]')" --token "$(echo "$task" | jget '["lease_token"]')" >/dev/null
done
assert_eq "dlq purge" "3 purged" "$(cq dlq purge dq)"
assert_eq "dlq empty" "[]" "$(cq dlq list dq --json)"

# stats: per priority, counters, all queues
cq enqueue st --priority 7 >/dev/null
cq enqueue st --priority 7 >/dev/null
cq enqueue st --priority 2 >/dev/null
cq enqueue st --delay 1h >/dev/null
cq claim st >/dev/null
s=$(cq stats st --json)
assert_eq "ready by priority" "[0, 0, 1, 0, 0, 0, 0, 1, 0, 0]" \
	"$(echo "$s" | jget '["ready_by_priority"]')"
assert_eq "ready" 2 "$(echo "$s" | jget '["ready"]')"
assert_eq "delayed" 1 "$(echo "$s" | jget '["delayed"]')"
assert_eq "leased" 1 "$(echo "$s" | jget '["leased"]')"
assert_eq "enqueued" 4 "$(echo "$s" | jget '["enqueued"]')"
assert_eq "claimed" 1 "$(echo "$s" | jget '["claimed"]')"
cq stats st | grep -q '^ready: *2 (p7=1, p2=1)$' || fail "stats text: $(cq stats st)"
cq stats | grep -q '^st  ' || fail "stats of all queues lacks st"
queues=$(cq stats --json | "$PYTHON3" -c 'import json,sys; print(" ".join(sorted(q["queue"] for q in json.load(sys.stdin)["queues"])))')
assert_eq "every queue in stats" "dq idem later mail past perm prio prio2 retry soon st" "$queues"
# a registry member that is no queue name (added by hand) hides nothing
rcli SADD codeq:queues 'not a queue' >/dev/null
queues=$(cq stats --json | "$PYTHON3" -c 'import json,sys; print(" ".join(sorted(q["queue"] for q in json.load(sys.stdin)["queues"])))')
assert_eq "stats with a bad registry member" "dq idem later mail past perm prio prio2 retry soon st" "$queues"

# fsck: clean store (the bad registry member is no queue to check), then
# a task removed from its ready list by hand
assert_eq "fsck clean" "0 problems, 0 repaired" "$(cq fsck)"
rcli SREM codeq:queues 'not a queue' >/dev/null
rcli LREM 'codeq:{st}:ready:2' 0 st:3 >/dev/null
expect_match 65 '' fsck st
echo "$OUT" | grep -q '^st:3: status ready (priority 2) but in no container$' ||
	fail "fsck did not name st:3: $OUT"
ok "fsck: $OUT"
cq fsck --repair st >/dev/null
assert_eq "after repair" "0 problems, 0 repaired" "$(cq fsck st)"
assert_eq "st:3 claimable again" 2 "$(cq stats st --json | jget '["ready"]')"
