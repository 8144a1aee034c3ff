#!/bin/sh
# SIGHUP: a good new configuration restarts the pools that changed and
# keeps the others (same worker pids, a running task not interrupted); a
# bad one is reported with file:line and the old configuration keeps
# running; a new log level and retention reach the workers kept; a
# restarted pool's prefetched tasks go back without spending an attempt.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

pools() {
	cat <<EOC
[pool a]
queues = qa
command = if grep -q long; then sleep 1.5; fi; echo '"$1"'
processes = 1

[pool b]
queues = qb
command = sleep 2; echo '"b"'
processes = 2
EOC
}
pools v1 | write_conf "$T_DIR/c.conf"
start_codeqd "$T_DIR/c.conf"
id=$(cq enqueue qa); wait_status "$id" completed
assert_eq "before reload" '"v1"' "$(field "$id" result)"
long=$(cq enqueue qb)
wait_status "$long" leased
bworker=$(field "$long" worker | cut -d: -f2)
# A task of the pool about to change, running during the reload.
arun=$(cq enqueue qa --payload '{"long":true}')
wait_status "$arun" leased

pools v2 | write_conf "$T_DIR/c.conf"
kill -HUP "$CODEQD_PID"
wait_for 10 grep -q 'msg="configuration reloaded"' "$T_DIR/codeqd.log" || fail "no reload"
grep -q 'msg="pool changed: restarting" pool=a' "$T_DIR/codeqd.log" || fail "pool a not restarted"
grep -q 'msg="pool changed: restarting" pool=b' "$T_DIR/codeqd.log" && fail "pool b restarted"
id=$(cq enqueue qa); wait_status "$id" completed
assert_eq "after reload" '"v2"' "$(field "$id" result)"
wait_status "$arun" completed
assert_eq "changed pool's running task finished under the old configuration" '"v1"' \
	"$(field "$arun" result)"
assert_eq "... on its first attempt" 1 "$(field "$arun" attempts)"
wait_status "$long" completed
assert_eq "unchanged pool's task ran on in the same worker" "$bworker" \
	"$(field "$long" worker | cut -d: -f2)"
kill -0 "$bworker" || fail "unchanged pool's worker was restarted"
ok "good reload: changed pool restarted, unchanged pool untouched"

printf '[pool c]\nqueues = qc\nprocesses = 0\n' >>"$T_DIR/c.conf"
line=$(grep -n 'processes = 0' "$T_DIR/c.conf" | cut -d: -f1)
kill -HUP "$CODEQD_PID"
wait_for 10 grep -q 'msg="reload failed: keeping the running configuration"' "$T_DIR/codeqd.log" ||
	fail "bad reload not reported"
grep 'reload failed' "$T_DIR/codeqd.log" | grep -q "c.conf:$line:" || fail "no file:line in the report"
kill -0 "$CODEQD_PID" || fail "codeqd died"
id=$(cq enqueue qa); wait_status "$id" completed
assert_eq "old configuration still runs" '"v2"' "$(field "$id" result)"
ok "bad reload reported with file:line, old configuration kept"

# Settings that need no restart reach the workers that are kept: the log
# level (debug -> info) and the store's retention (7 days -> 1 hour).
pools v2 | write_conf "$T_DIR/c.conf"
sed -i -e 's/^log_level = debug/log_level = info/' \
	-e 's|^url = .*|&\nretention = 1h|' "$T_DIR/c.conf"
reloads() { [ "$(grep -c 'msg="configuration reloaded"' "$T_DIR/codeqd.log")" -ge "$1" ]; }
restarts=$(grep -c 'msg="pool changed: restarting"' "$T_DIR/codeqd.log")
kill -HUP "$CODEQD_PID"
wait_for 10 reloads 2 || fail "no second reload"
assert_eq "pools restarted by a log level / retention change" "$restarts" \
	"$(grep -c 'msg="pool changed: restarting"' "$T_DIR/codeqd.log")"
id=$(cq enqueue qb); wait_status "$id" completed
w=$(field "$id" worker | cut -d: -f2)
wait_for 10 grep -q "pid=$w msg=\"task finished\" task=$id outcome=completed" "$T_DIR/codeqd.log" ||
	fail "info line missing"
grep -q "pid=$w msg=\"task started\" task=$id" "$T_DIR/codeqd.log" &&
	fail "worker $w still logs debug lines after the reload to info"
ok "kept worker $w logs at the new level"
ttl=$(rcli PTTL "codeq:{qb}:t:${id##*:}")
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3600000 ] || fail "retention not applied: PTTL $ttl"
ok "kept worker stores results with the new retention (PTTL $ttl ms)"

# A pool restarted by a reload while its worker holds a prefetched batch:
# the running task finishes, the two never started are released (attempt
# refunded, not nacked) and run by the new pool on their first attempt.
rpool() {
	printf '\n[pool r]\nqueues = qr\nprocesses = 1\nprefetch = 3\n'
	printf 'command = echo >%s/r.$CODEQ_TASK_ID; if grep -q long; then sleep 4; fi; echo %s\n' \
		"$T_DIR" "'\"$1\"'"
}
rpool rv1 >>"$T_DIR/c.conf"
kill -HUP "$CODEQD_PID"
wait_for 10 reloads 3 || fail "pool r not added"
r1=$(cq enqueue qr --delay 1h --payload '{"long":true}')
r2=$(cq enqueue qr --delay 1h); r3=$(cq enqueue qr --delay 1h)
due_now "$r1" "$r2" "$r3"
batch() { [ "$(rcli ZCARD "codeq:{qr}:leased")" = 3 ]; }
wait_for 15 batch || fail "the batch was not claimed together"
wait_for 10 test -e "$T_DIR/r.$r1" || fail "$r1 did not start"
sed -i -e 's/"rv1"/"rv2"/' "$T_DIR/c.conf"
kill -HUP "$CODEQD_PID"
wait_for 10 grep -q 'msg="pool changed: restarting" pool=r' "$T_DIR/codeqd.log" ||
	fail "pool r not restarted"
for id in $r1 $r2 $r3; do wait_status "$id" completed 30; done
assert_eq "$r1 (running during the reload) result" '"rv1"' "$(field "$r1" result)"
for id in $r1 $r2 $r3; do
	assert_eq "$id completed on attempt" 1 "$(field "$id" attempts)"
done
for id in $r2 $r3; do
	assert_eq "$id run by the new pool" '"rv2"' "$(field "$id" result)"
	grep -q "msg=\"task finished\" task=$id outcome=released" "$T_DIR/codeqd.log" ||
		fail "$id was not released by the retiring worker"
done
ok "reload: a retiring worker's prefetched tasks released, no attempt spent"
stop_codeqd
check_counts qa 4
check_counts qb 2
check_counts qr 3
