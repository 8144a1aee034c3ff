#!/bin/sh
# A queue no pool of this host serves (its workers are remote: codeq-api's
# HTTP claims, a libcodeq program, another host): codeqd still reaps its
# expired leases and makes its delayed tasks ready, and publishes them, at
# their due time, with no claim asking first.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
start_redis

write_conf "$T_DIR/c.conf" <<EOC
[pool l]
queues = local
so = $TEST_SO
processes = 1
EOC
start_codeqd "$T_DIR/c.conf"

id=$(cq enqueue far)
cq claim far --lease 1s --worker elsewhere --quiet >/dev/null ||
	fail "claim on the remote queue"
is_status "$id" leased || fail "not leased: $(field "$id" status)"
wait_for 10 is_status "$id" ready ||
	fail "an expired lease of a queue no pool serves was not reaped"
assert_eq "the reaped task's error" "lease expired" "$(field "$id" error)"
ok "an expired lease on a queue no pool serves is requeued"

rcli SUBSCRIBE codeq:ready >"$T_DIR/ready.sub" &
t_track $!
d=$(cq enqueue far --delay 1500ms)
is_status "$d" delayed || fail "not delayed: $(field "$d" status)"
wait_for 10 is_status "$d" ready ||
	fail "a delayed task of a queue no pool serves never became ready"
wait_for 5 grep -q "^far 1$" "$T_DIR/ready.sub" ||
	fail "its promotion was not published: $(cat "$T_DIR/ready.sub")"
ok "a delayed task on a queue no pool serves becomes ready and is published"
stop_codeqd
