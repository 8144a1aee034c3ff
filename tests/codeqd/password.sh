#!/bin/sh
# dispatcher_password: a store that refuses codeqd's password.  codeqd says
# so at error level ("the store refused the password"), keeps /healthz at
# 503 with that reason, does not tell systemd READY=1 (its STATUS= says
# why), and a daemonizing codeqd's parent says so on its terminal.  It
# keeps retrying: once the store takes the password (rotated on the
# server), it becomes ready and runs tasks.  The CLI exits 77 saying so.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
command -v curl >/dev/null 2>&1 || skip "curl not installed"
start_redis --requirepass 'right pw'

sock="$T_DIR/notify.sock"
start_notify_receiver "$sock" "$T_DIR/notify.log"

MPORT=$(free_port)
printf 'new pw\n' >"$T_DIR/pw"
write_conf "$T_DIR/c.conf" <<EOC
[pool n]
queues = pq
command = cat
processes = 1
EOC
sed -i "s|^url = .*|&\npassword_file = $T_DIR/pw|; s|^listen = off|listen = 127.0.0.1:$MPORT|" "$T_DIR/c.conf"

# The CLI: exit 77 (EX_NOPERM), and the words.
rc=0
err=$(cq -c "$T_DIR/c.conf" enqueue pq 2>&1) || rc=$?
assert_eq "CLI exit status with a refused password" 77 "$rc"
echo "$err" | grep -q "refused the password" || fail "CLI message: $err"
echo "$err" | grep -q "new pw" && fail "the password in a message: $err"
ok "CLI: exit 77: $err"

NOTIFY_SOCKET="$sock" "$CODEQD" -c "$T_DIR/c.conf" --foreground >>"$T_DIR/codeqd.log" 2>&1 &
CODEQD_PID=$!
t_track "$CODEQD_PID"
wait_for 20 grep -q 'level=error proc=dispatcher .* msg="the store refused the password' "$T_DIR/codeqd.log" ||
	fail "no error-level refusal in the log"
ok "logged: $(grep -m1 'refused the password' "$T_DIR/codeqd.log" | cut -c1-160)"
grep -q 'store unreachable' "$T_DIR/codeqd.log" && fail "a refusal logged as 'store unreachable'"
grep -q 'new pw' "$T_DIR/codeqd.log" && fail "the password in the log"

code() { curl -s --max-time 10 -o "$T_DIR/body" -w '%{http_code}' "$@" || true; }
healthz_is() { [ "$(code "http://127.0.0.1:$MPORT/healthz")" = "$1" ]; }
wait_for 20 healthz_is 503 || fail "/healthz not 503"
grep -q "refused the password" "$T_DIR/body" || fail "/healthz reason: $(cat "$T_DIR/body")"
ok "/healthz 503: $(cat "$T_DIR/body")"
wait_for 10 grep -q '^STATUS=.*store refused the password' "$T_DIR/notify.log" ||
	fail "no STATUS= with the refusal: $(grep STATUS "$T_DIR/notify.log")"
sleep 1	# the pool is long up: READY would have been sent by now
grep -q '^READY=1$' "$T_DIR/notify.log" && fail "READY=1 sent with a refused password"
grep -q 'msg="codeqd ready"' "$T_DIR/codeqd.log" && fail "'codeqd ready' logged"
ok "no READY=1, no 'codeqd ready'; STATUS= says the store refused the password"

# A daemonizing codeqd: its parent says so and keeps waiting.
sed "s|^listen = .*|listen = off|; s|^\[codeqd\]\$|&\npidfile = $T_DIR/d.pid|" \
	"$T_DIR/c.conf" >"$T_DIR/d.conf"
"$CODEQD" -c "$T_DIR/d.conf" >"$T_DIR/parent.out" 2>&1 &
parent=$!
t_track "$parent"
wait_for 20 grep -q "^codeqd: the store refused the password" "$T_DIR/parent.out" ||
	fail "the daemonizing parent said nothing: $(cat "$T_DIR/parent.out")"
kill -0 "$parent" 2>/dev/null || fail "the parent exited with a refused password"
ok "daemonizing parent: $(grep -m1 "^codeqd: the store refused" "$T_DIR/parent.out")"
wait_for 10 test -s "$T_DIR/d.pid" || fail "no pidfile"
dpid=$(cat "$T_DIR/d.pid")
t_track "$dpid"

# The password is rotated on the server: both become ready and work.
rcli() { redis-cli -p "$REDIS_PORT" -a 'right pw' --no-auth-warning "$@"; }
[ "$(rcli CONFIG SET requirepass 'new pw')" = OK ] || fail "CONFIG SET requirepass"
rcli() { redis-cli -p "$REDIS_PORT" -a 'new pw' --no-auth-warning "$@"; }
wait_for 30 grep -q '^READY=1$' "$T_DIR/notify.log" || fail "no READY=1 once the password is taken"
ok "READY=1 once the store takes the password"
wait_for 20 healthz_is 200 || fail "/healthz not back to 200: $(cat "$T_DIR/body")"
ok "/healthz 200"
rc=0
wait "$parent" || rc=$?
assert_eq "the daemonizing parent's exit status once ready" 0 "$rc"
ok "daemonizing parent exits 0 once ready"
kill -TERM "$dpid"
wait_for 20 sh -c "! kill -0 $dpid 2>/dev/null" || fail "daemon did not stop"
id=$(cq -c "$T_DIR/c.conf" enqueue pq --payload '{"a":1}')
wait_status "$id" completed
ok "a task runs after the rotation"
stop_codeqd
