#!/bin/sh
# Handlers run as the pool's user when codeqd starts as root (exec and
# .so workers drop privileges after the fork), and as root otherwise
# with a warning.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
id nobody >/dev/null 2>&1 || skip "no user nobody"
start_redis

uid=$(id -u nobody)
write_conf "$T_DIR/c.conf" <<EOC
[pool u]
queues = uq
command = id -u; id -G
user = nobody
processes = 1

[pool r]
queues = rq
command = id -u
processes = 1
EOC
chmod 755 "$T_DIR"
start_codeqd "$T_DIR/c.conf"
id=$(cq enqueue uq); wait_status "$id" completed
field "$id" result | grep -q "^\"$uid" || fail "handler ran as $(field "$id" result)"
field "$id" result | grep -Eq '(^| )0( |"|$)' && fail "root group kept: $(field "$id" result)"
ok "pool with user = nobody runs handlers as uid $uid, without root's groups"
wpid=$(field "$id" worker | cut -d: -f2)
assert_eq "the worker itself runs as" "$uid" "$(ps -o uid= -p "$wpid" | tr -d ' ')"
id2=$(cq enqueue rq); wait_status "$id2" completed
assert_eq "pool without user runs as root" 0 "$(field "$id2" result)"
grep -q 'msg="pool runs its handlers as root (no user set)" pool=r' "$T_DIR/codeqd.log" ||
	fail "no warning about root"
stop_codeqd
check_counts uq 1
check_counts rq 1
