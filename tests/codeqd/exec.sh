#!/bin/sh
# The exec handler through codeqd: CODEQ_* environment, payload on stdin,
# the exit-code contract (0, 75, 65, other, killed by a signal), non-JSON
# and empty stdout, stderr tail as the error, oversize output.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool x]
queues = ex
exec = $top_srcdir/tests/handlers/contract.sh
processes = 2
max_output = 1KiB
backoff_base = 100ms
backoff_max = 200ms
EOC
start_codeqd "$T_DIR/c.conf"

e() { cq enqueue ex --payload "{\"op\":\"$1\"}" ${2:+--max-attempts $2}; }
env_id=$(e env); text_id=$(e text); empty_id=$(e empty); retry_id=$(e retry)
bin_id=$(e binary)
perm_id=$(e perm); other_id=$(e other 2); sig_id=$(e signal 2); big_id=$(e big)
# A payload far larger than a pipe's buffer reaches stdin whole.
pad=$(head -c 300000 /dev/zero | tr '\0' a)
printf '{"op":"size","pad":"%s"}' "$pad" >"$T_DIR/big.json"
size_id=$(cq enqueue ex --payload-file "$T_DIR/big.json")

wait_status "$env_id" completed
r=$(field "$env_id" result)
echo "$r" | grep -q "\"id\":\"$env_id\",\"queue\":\"ex\",\"attempt\":1,\"max\":5" ||
	fail "environment: $r"
echo "$r" | grep -q '"pool":"x","payload":{"op":"env"}' || fail "payload/pool: $r"
echo "$r" | grep -Eq '"deadline":[0-9]{13},' || fail "deadline: $r"
ok "exit 0: stdout is the result; CODEQ_* environment and stdin payload seen"

wait_status "$text_id" completed
assert_eq "non-JSON stdout stored as a JSON string" '"plain text, not JSON"' "$(field "$text_id" result)"
wait_status "$bin_id" completed
assert_eq "invalid UTF-8 replaced, quotes escaped" "$(printf '"a\357\277\275b \\"q\\""')" \
	"$(field "$bin_id" result)"
wait_status "$empty_id" completed
assert_eq "empty stdout stored as" null "$(field "$empty_id" result)"

wait_status "$retry_id" completed
assert_eq "exit 75 then success: attempts" 2 "$(field "$retry_id" attempts)"
assert_eq "exit 75 then success: result" '"second time lucky"' "$(field "$retry_id" result)"

wait_status "$perm_id" failed
assert_eq "exit 65: failed after attempts" 1 "$(field "$perm_id" attempts)"
field "$perm_id" error | grep -q "exit 65.*bad input, giving up" ||
	fail "exit 65 error: $(field "$perm_id" error)"
ok "exit 65: failed permanently, stderr tail is the error"

wait_status "$other_id" dead
assert_eq "exit 3: retried until max attempts, then dead; attempts" 2 "$(field "$other_id" attempts)"
field "$other_id" error | grep -q "exit status 3.*something broke" ||
	fail "exit 3 error: $(field "$other_id" error)"

wait_status "$sig_id" dead
assert_eq "killed by a signal: retried; attempts" 2 "$(field "$sig_id" attempts)"
field "$sig_id" error | grep -q "killed by signal 9" || fail "signal error: $(field "$sig_id" error)"

wait_status "$big_id" failed
field "$big_id" error | grep -q "exceeded max_output (1024 bytes)" ||
	fail "oversize error: $(field "$big_id" error)"
assert_eq "oversize stdout: result not stored" "" "$(field "$big_id" result)"

wait_status "$size_id" completed
assert_eq "300 KB payload on stdin: bytes read" "$(wc -c <"$T_DIR/big.json" | tr -d ' ')" \
	"$(field "$size_id" result)"

stop_codeqd
check_counts ex 10
