#!/bin/sh
# The shared-object handler through codeqd: results, retry-after, permanent
# failure, a non-JSON result, a SIGSEGV in the handler (one worker restart
# and one attempt, nothing else), and a handler whose init refuses to start
# (the pool is reported as crash-looping instead of restarted in a loop).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool so]
queues = soq
so = $TEST_SO
processes = 2
backoff_base = 100ms
backoff_max = 200ms

[pool example]
queues = shout
so = $EXAMPLE_SO
handler_config = by the test
processes = 1
EOC
start_codeqd "$T_DIR/c.conf"

e() { cq enqueue soq --payload "$1" ${2:+--max-attempts $2}; }
echo_id=$(e '{"op":"echo","x":[1,2]}'); retry_id=$(e '{"op":"retry","ms":100}')
fail_id=$(e '{"op":"fail"}'); text_id=$(e '{"op":"text"}')
ex_id=$(cq enqueue shout --payload '{"text":"two words"}')

wait_status "$echo_id" completed
assert_eq "echo result" '{"op":"echo","x":[1,2]}' "$(field "$echo_id" result)"
wait_status "$retry_id" completed
assert_eq "RETRY then OK: attempts" 2 "$(field "$retry_id" attempts)"
wait_status "$fail_id" failed
assert_eq "FAIL: error" "permanent failure requested" "$(field "$fail_id" error)"
wait_status "$text_id" completed
assert_eq "non-JSON result stored as a JSON string" '"plain text"' "$(field "$text_id" result)"
wait_status "$ex_id" completed
assert_eq "example handler" '{"upper":"TWO WORDS","words":2,"by":"by the test","attempt":1}' \
	"$(field "$ex_id" result)"

# A crash: the task comes back at once (not after the 30 s lease), with
# the attempt counted and the reason recorded; max_attempts 2 -> dead.
starts=$(grep -c 'msg="child started"' "$T_DIR/codeqd.log" || true)
crash_id=$(e '{"op":"crash"}' 2)
wait_status "$crash_id" dead
assert_eq "SIGSEGV: attempts" 2 "$(field "$crash_id" attempts)"
assert_eq "SIGSEGV: error" "worker exited on signal 11" "$(field "$crash_id" error)"
wait_for 10 sh -c "[ \$(grep -c 'msg=\"child started\"' '$T_DIR/codeqd.log') -ge $((starts + 2)) ]" ||
	fail "crashed workers were not restarted"
after_id=$(e '{"op":"echo"}')
wait_status "$after_id" completed
ok "after two crashes the pool still works"
stop_codeqd
check_counts soq 6
check_counts shout 1

# init() refuses: the workers exit at once, again and again.
write_conf "$T_DIR/r.conf" <<EOC
[pool refuse]
queues = rq
so = $TEST_SO
handler_config = refuse
processes = 1
EOC
"$CODEQD" -c "$T_DIR/r.conf" --foreground >"$T_DIR/refuse.log" 2>&1 &
pid=$!; t_track $pid
wait_for 20 grep -q "pool is crash-looping" "$T_DIR/refuse.log" ||
	fail "crash loop not reported"
ok "a pool whose handler cannot start is reported as crash-looping"
grep -q 'init refused to start' "$T_DIR/refuse.log" || fail "init refusal not logged"
n1=$(grep -c 'msg="child died"' "$T_DIR/refuse.log")
sleep 2
n2=$(grep -c 'msg="child died"' "$T_DIR/refuse.log")
[ $((n2 - n1)) -le 4 ] || fail "restarts not slowed down: $((n2 - n1)) in 2 s"
ok "crash-looping pool restarted with backoff ($((n2 - n1)) restarts in 2 s)"
kill -TERM $pid; wait $pid || fail "codeqd did not exit 0"

# The worker checks the ABI version too (the file may be replaced while
# codeqd runs; codeqd -c checks it at start, see tests/codeqd/config.sh).
cp "$TEST_SO" "$T_DIR/h.so"
sed "s|$TEST_SO|$T_DIR/h.so|" "$T_DIR/r.conf" | grep -v handler_config >"$T_DIR/abi.conf"
"$CODEQD" -c "$T_DIR/abi.conf" --foreground >"$T_DIR/abi.log" 2>&1 &
pid=$!; t_track $pid
wait_for 20 grep -q 'msg="codeqd ready"' "$T_DIR/abi.log" || fail "codeqd not ready"
cp "$top_builddir/tests/handlers/.libs/test_handler_badabi.so" "$T_DIR/h.so.new"
mv "$T_DIR/h.so.new" "$T_DIR/h.so"
kill -9 "$(ps -o pid= --ppid $pid | head -n 1)"
wait_for 20 grep -q "handler ABI version 99, codeqd speaks 1" "$T_DIR/abi.log" ||
	fail "wrong ABI version not refused by the restarted worker"
ok "a restarted worker refuses a .so replaced by one of another ABI version"
kill -TERM $pid; wait $pid || fail "codeqd did not exit 0"
