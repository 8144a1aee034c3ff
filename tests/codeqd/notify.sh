#!/bin/sh
# systemd notification protocol against a real unix datagram socket set
# as NOTIFY_SOCKET: READY=1 once the pools are up, STATUS=, WATCHDOG=1
# (WATCHDOG_USEC set), RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on
# SIGTERM.  Children must not see NOTIFY_SOCKET.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis

sock="$T_DIR/notify.sock"
start_notify_receiver "$sock" "$T_DIR/notify.log"

write_conf "$T_DIR/c.conf" <<EOC
[pool n]
queues = nq
command = env
processes = 2
EOC
NOTIFY_SOCKET="$sock" WATCHDOG_USEC=200000 start_codeqd "$T_DIR/c.conf"
wait_for 10 grep -q '^READY=1$' "$T_DIR/notify.log" || fail "no READY=1"
ok "READY=1 received"
wait_for 10 grep -q '^STATUS=n 2/2 up 0 busy; 0 leases; store ok' "$T_DIR/notify.log" ||
	fail "no STATUS= summary: $(grep STATUS "$T_DIR/notify.log")"
ok "STATUS= $(grep '^STATUS=' "$T_DIR/notify.log" | tail -n 1 | cut -d= -f2-)"
wait_for 10 sh -c "[ \$(grep -c '^WATCHDOG=1\$' '$T_DIR/notify.log') -ge 3 ]" || fail "no WATCHDOG=1"
ok "WATCHDOG=1 sent repeatedly"

id=$(cq enqueue nq); wait_status "$id" completed
field "$id" result | grep -q NOTIFY_SOCKET && fail "a handler saw NOTIFY_SOCKET"
field "$id" result | grep -q WATCHDOG_USEC && fail "a handler saw WATCHDOG_USEC"
ok "handlers do not inherit NOTIFY_SOCKET / WATCHDOG_USEC"

kill -HUP "$CODEQD_PID"
wait_for 10 grep -q '^RELOADING=1$' "$T_DIR/notify.log" || fail "no RELOADING=1"
wait_for 10 sh -c "[ \$(grep -c '^READY=1\$' '$T_DIR/notify.log') -ge 2 ]" || fail "no READY=1 after reload"
grep -q '^MONOTONIC_USEC=[0-9]' "$T_DIR/notify.log" || fail "RELOADING=1 without MONOTONIC_USEC"
ok "SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1"
stop_codeqd
wait_for 10 grep -q '^STOPPING=1$' "$T_DIR/notify.log" || fail "no STOPPING=1"
ok "SIGTERM: STOPPING=1"
check_counts nq 1
