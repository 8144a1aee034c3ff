#!/bin/sh
# tests/cli/errors.sh: every bad input of the codeq command gets one clear line
# naming the field, and the exit status codeq(1) documents; nothing bad
# reaches the store.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cli/lib.sh"
start_redis

# priority outside 0-9
expect 64 "codeq: enqueue: --priority: must be 0-9, got 12" enqueue q --priority 12
expect 64 "codeq: enqueue: --priority: must be 0-9, got -1" enqueue q --priority -1
expect 64 "codeq: enqueue: --priority: must be 0-9, got high" enqueue q --priority high

# payload that is not JSON
expect 65 "codeq: enqueue: --payload: not valid JSON: invalid token near 'abc' (line 1, column 3)" \
	enqueue q --payload abc
expect 65 "codeq: enqueue: --payload: not valid JSON: unexpected token near end of file (line 1, column 5)" \
	enqueue q --payload '{"a":'
printf '{"a": [1, 2}' >"$T_DIR/bad.json"
expect_match 65 "^codeq: enqueue: --payload-file: not valid JSON: .*\\(line 1, column 12\\)$" \
	enqueue q --payload-file "$T_DIR/bad.json"
expect_match 65 "^codeq: complete: --result: not valid JSON: " \
	complete q:1 --token 1 --result '{'

# payload over the limit: the default 1 MiB, and a configured one
"$PYTHON3" -c 'print("{\"x\": \"" + "a" * (1024 * 1024) + "\"}")' >"$T_DIR/big.json"
expect 65 "codeq: enqueue: --payload-file: $T_DIR/big.json: over the limit of 1MiB (max_payload)" \
	enqueue q --payload-file "$T_DIR/big.json"
printf '[store]\nmax_payload = 1KiB\n' >"$T_DIR/small.conf"
big=$("$PYTHON3" -c 'print("[" + ",".join(["1"] * 600) + "]")')
expect 65 "codeq: enqueue: --payload: 1201 bytes, over the limit of 1KiB (max_payload)" \
	-c "$T_DIR/small.conf" enqueue q --payload "$big"

# malformed durations and times
expect 64 "codeq: enqueue: --delay: must be a duration like 250ms, 30s, 5m, 2h, 7d or a number of seconds, got '5x'" \
	enqueue q --delay 5x
expect 64 "codeq: claim: --lease: must be a duration like 250ms, 30s, 5m, 2h, 7d or a number of seconds, got '-3s'" \
	claim q --lease -3s
expect 64 "codeq: claim: --lease: must be 100ms-1d, got 2d" claim q --lease 2d
expect 64 "codeq: result: --wait: must be a duration like 250ms, 30s, 5m, 2h, 7d or a number of seconds, got '1 m'" \
	result q:1 --wait '1 m'
expect 64 "codeq: nack: --delay: must be a duration like 250ms, 30s, 5m, 2h, 7d or a number of seconds, got 'soon'" \
	nack q:1 --token 1 --delay soon
expect 64 "codeq: enqueue: --at: must be an RFC 3339 time like 2026-11-23T18:00:00Z or epoch seconds, got 'tomorrow'" \
	enqueue q --at tomorrow

# other values
expect 64 "codeq: enqueue: --max-attempts: must be 1-1000, got 0" enqueue q --max-attempts 0
expect 64 "codeq: enqueue: QUEUE: invalid queue name 'b@d' (1-100 characters of A-Z a-z 0-9 _ . -)" \
	enqueue 'b@d'
expect 64 "codeq: claim: --max: must be 1-1000, got 5000" claim q --max 5000
expect 64 "codeq: get: ID: not a task id (QUEUE:NUMBER), got 'nope'" get nope
expect_match 65 "^codeq: enqueue: --webhook: must be an http:// or https:// URL" \
	enqueue q --webhook ftp://example.org/x
# durations past 100 years are refused (now + duration must not overflow)
expect 65 "codeq: enqueue: --delay: longer than 100 years, got 3600000000000000 ms" \
	enqueue q --delay 1000000000h
expect 65 "codeq: nack: delay: longer than 100 years, got 9223372036854775807 ms" \
	nack q:1 --token 1 --delay 9223372036854775807ms
expect 65 "codeq: subscribe: ttl: longer than 100 years, got 9223372036854775000 ms" \
	subscribe q --url http://127.0.0.1:9/ --ttl 9223372036854775s
expect 65 "codeq: enqueue: --at: must be a time between 1970 and 9999, got 253402300800000" \
	enqueue q --at 253402300800
# a webhook without a host is refused at enqueue, as subscriptions' are
expect 65 "codeq: enqueue: --webhook: URL has no host, got 'http:///cb'" \
	enqueue q --webhook http:///cb
expect_match 65 "^codeq: enqueue: --webhook: URL is not valid: .*, got 'https://'$" \
	enqueue q --webhook https://

# usage errors: the message, then where to look
expect 64 "codeq: enqueue: missing QUEUE
Try 'codeq enqueue --help'." enqueue
expect 64 "codeq: frob: unknown command
Try 'codeq --help'." frob
expect 64 "codeq: enqueue: --colour: unknown option
Try 'codeq enqueue --help'." enqueue q --colour
expect 64 "codeq: enqueue: --priority: needs a value
Try 'codeq enqueue --help'." enqueue q --priority
expect 64 "codeq: complete: --token: required (the lease token claim printed)
Try 'codeq complete --help'." complete q:1
expect 64 "codeq: fail: --error: required (why the attempt failed)
Try 'codeq fail --help'." fail q:1 --token 3
expect 64 "codeq: heartbeat: --delay: not an option of heartbeat
Try 'codeq heartbeat --help'." heartbeat q:1 --token 3 --delay 1s
expect 64 "codeq: enqueue: --delay and --at: give one
Try 'codeq enqueue --help'." enqueue q --delay 1s --at 0
expect 64 "codeq: dlq: shuffle: unknown (list, requeue or purge)
Try 'codeq dlq --help'." dlq shuffle q
expect 64 "codeq: callbacks: shuffle: unknown (list, replay or purge)
Try 'codeq callbacks --help'." callbacks dlq shuffle q
expect 64 "codeq: subscriptions: frob: unknown (list, renew or remove)
Try 'codeq subscriptions --help'." subscriptions frob x
expect 64 "codeq: dlq: --limit: must be 1-1000000000, got 0" dlq list q --limit 0
expect 64 "codeq: callbacks: --offset: must be 0-1000000000, got -1" \
	callbacks dlq list q --offset -1
expect 64 "codeq: claim: --lease: must be 100ms-1d, got 50ms" claim q --lease 50ms
expect 64 "codeq: heartbeat: --lease: must be 100ms-1d, got 2d" \
	heartbeat q:1 --token 3 --lease 2d
expect 66 "codeq: enqueue: --payload-file: $T_DIR/none: No such file or directory" \
	enqueue q --payload-file "$T_DIR/none"

# none of the above reached the store
assert_eq "nothing enqueued" "" "$(rcli --scan --pattern 'codeq:{q}:t:*')"

# unknown task id
expect 66 "codeq: get: task q:999 not found (unknown, or expired after its retention)" get q:999
expect_match 66 "^codeq: result: task q:999 not found" result q:999
expect 66 "codeq: complete: task q:999: not found" complete q:999 --token 1

# stale lease token: the task was given back and claimed again (as after
# an expired lease), so the first token is no longer current
id=$(cq enqueue fence --payload '{"n":1}')
old=$(cq claim fence --json | jget '["lease_token"]')
cq nack "$id" --token "$old" --delay 0 >/dev/null
new=$(cq claim fence --json | jget '["lease_token"]')
[ "$old" != "$new" ] || fail "re-claim kept the token"
expect 77 "codeq: complete: lease token $old is not the current one of task $id" \
	complete "$id" --token "$old" --result '{"late":true}'
expect_match 77 "^codeq: heartbeat: lease token $old is not the current one" \
	heartbeat "$id" --token "$old"
expect_match 77 "^codeq: nack: lease token $old is not the current one" nack "$id" --token "$old"
expect_match 77 "^codeq: fail: lease token $old is not the current one" \
	fail "$id" --token "$old" --error late
cq complete "$id" --token "$new" --result '{"winner":true}' >/dev/null
assert_eq "the current holder's result stands" '{"winner":true}' "$(cq result "$id")"

# a finished task takes no more completions, whatever the token
expect_match 77 "^codeq: complete: " complete "$id" --token "$new"

# the same after a real lease expiry: reap gives the task back (attempt
# counted, after the backoff), another worker claims it, the first
# worker's token is refused
id=$(cq enqueue expiry --payload '{}')
old=$(cq claim expiry --lease 100ms --worker slow --json | jget '["lease_token"]')
sleep 0.2
assert_eq "reap" "expiry: 1 reaped, 0 promoted" "$(cq reap expiry)"
wait_for 20 "$CODEQ" claim expiry --worker fast --quiet || fail "reaped task never claimable"
task=$(cq get "$id" --json)
assert_eq "claimed by the second worker" fast "$(echo "$task" | jget '["worker"]')"
assert_eq "both attempts counted" 2 "$(echo "$task" | jget '["attempts"]')"
expect 77 "codeq: complete: lease token $old is not the current one of task $id" \
	complete "$id" --token "$old"

# --help of every command: exit 0, usage on stdout
for c in enqueue get result claim heartbeat complete fail nack stats dlq fsck reap; do
	run_cq "$c" --help
	[ "$RC" -eq 0 ] && echo "$OUT" | grep -q "^usage: codeq $c" ||
		fail "codeq $c --help: exit $RC, $OUT"
done
ok "every command has --help"
run_cq help claim
echo "$OUT" | grep -q "^usage: codeq claim" || fail "codeq help claim"
run_cq --version
echo "$OUT" | grep -Eq '^codeq [0-9]+\.[0-9]+' || fail "--version: $OUT"
ok "help and version"
