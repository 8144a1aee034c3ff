#!/bin/sh
# The store over a unix socket, logged in as a Redis 6 ACL user, in every
# process: the CLI (a unix:// URL with user and %-encoded password, and a
# configuration file's unix://user@/path with password_file), codeqd's
# dispatcher (leases, wake subscription, metrics), its workers, the
# notifier and the callbacks process.  On redis-server the default user is
# switched off, so nothing can have used it; KVRocks has no ACL users, so
# there the socket alone is tested.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
command -v curl >/dev/null 2>&1 || skip "curl not installed"
SOCK="$T_DIR/store.sock"
start_redis --unixsocket "$SOCK" --unixsocketperm 700
wait_for 10 test -S "$SOCK" || fail "no store socket"

if on_kvrocks; then
	CODEQ_REDIS_URL="unix://$SOCK"
	STORE_URL="unix://$SOCK"
	PWLINE=
	rcli() { redis-cli -s "$SOCK" "$@"; }
	# No ACL users there: a URL with one is refused, saying why.
	rc=0
	err=$("$CODEQ" --redis "unix://cq:pw@$SOCK" stats 2>&1) || rc=$?
	assert_eq "a user on KVRocks: exit" 77 "$rc"
	echo "$err" | grep -q "it has no ACL users" || fail "message: $err"
	ok "a user on KVRocks: $err"
else
	rcli ACL SETUSER cq on '>cq pw' '~*' '&*' '+@all' >/dev/null ||
		fail "ACL SETUSER"
	rcli ACL SETUSER default off >/dev/null || fail "ACL SETUSER default off"
	rcli() { redis-cli -s "$SOCK" --user cq --pass 'cq pw' --no-auth-warning "$@"; }
	[ "$(rcli PING)" = PONG ] || fail "user cq cannot log in"
	CODEQ_REDIS_URL="redis+unix://cq:cq%20pw@$SOCK"
	STORE_URL="unix://cq@$SOCK"
	printf 'cq pw\n' >"$T_DIR/pw"
	PWLINE="password_file = $T_DIR/pw"
	# Without the user, nothing gets in.
	rc=0
	err=$("$CODEQ" --redis "unix://$SOCK" stats 2>&1) || rc=$?
	assert_eq "default user refused: exit" 77 "$rc"
fi
export CODEQ_REDIS_URL

# The CLI, from the URL and from a configuration file.
id=$(cq enqueue sq --payload '{"n":1}') || fail "enqueue over the socket"
ok "CLI enqueue over the socket: $id"
printf '[store]\nurl = %s\n%s\n' "$STORE_URL" "$PWLINE" >"$T_DIR/cli.conf"
env -u CODEQ_REDIS_URL "$CODEQ" -c "$T_DIR/cli.conf" stats sq >"$T_DIR/stats" ||
	fail "stats with the configuration file"
grep -q 'ready' "$T_DIR/stats" || fail "stats: $(cat "$T_DIR/stats")"
ok "CLI with unix://user@/path and password_file"

start_sink S
MPORT=$(free_port)
WH_METRICS=127.0.0.1:$MPORT wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[callbacks]
batch_window = 20ms
batch_max = 1
[pool p]
queues = wq
so = $TEST_SO
processes = 2
EOC
sed -i "s|^url = .*|url = $STORE_URL\n$PWLINE|" "$T_DIR/c.conf"
# codeqd takes its store from the file alone: no CODEQ_REDIS_URL here.
cli_url=$CODEQ_REDIS_URL
unset CODEQ_REDIS_URL
start_codeqd "$T_DIR/c.conf"
CODEQ_REDIS_URL=$cli_url
export CODEQ_REDIS_URL

enqueue_with_webhook wq 20 "$S_URL/done"
wait_for 30 at_least 20 S /done || fail "callbacks: $(requests S /done) of 20"
ok "20 tasks ran and their 20 result callbacks were delivered"
[ "$(curl -s --max-time 10 "http://127.0.0.1:$MPORT/healthz")" = ok ] ||
	fail "/healthz: $(curl -s "http://127.0.0.1:$MPORT/healthz")"
ok "/healthz 200 (the metrics link reads the store)"
grep -E 'level=(warning|error)' "$T_DIR/codeqd.log" | grep -iv 'as root' |
	grep -i 'store\|connect\|auth' && fail "store warnings in the log"

if ! on_kvrocks; then
	# Every connection codeq holds is user cq over the socket; one
	# subscribes (the dispatcher's wake link).
	rcli CLIENT LIST >"$T_DIR/clients"
	n=$(grep -vc 'cmd=client' "$T_DIR/clients" || true)
	[ "$n" -ge 5 ] || fail "only $n codeq connections: $(cat "$T_DIR/clients")"
	grep -v 'cmd=client' "$T_DIR/clients" | grep -v ' user=cq ' &&
		fail "a connection not as user cq"
	grep -v 'cmd=client' "$T_DIR/clients" | grep -v "addr=$SOCK" &&
		fail "a connection not over the socket"
	grep -q 'cmd=subscribe\|sub=[1-9]' "$T_DIR/clients" ||
		fail "no subscribed connection"
	ok "$n connections, all user cq over $SOCK, one subscribed"
fi
grep -q "CODEQ_REDIS_URL is ignored" "$T_DIR/codeqd.log" &&
	fail "a warning about a variable that was not set"
stop_codeqd

# codeqd says it ignores a CODEQ_REDIS_URL that differs from its file.
CODEQ_REDIS_URL="redis://:secret@127.0.0.1:1/0" \
	"$CODEQD" -c "$T_DIR/c.conf" --foreground >>"$T_DIR/codeqd2.log" 2>&1 &
CODEQD_PID=$!
t_track "$CODEQD_PID"
wait_for 20 grep -q "msg=\"codeqd ready\"" "$T_DIR/codeqd2.log" ||
	fail "codeqd did not become ready: $(tail -5 "$T_DIR/codeqd2.log")"
grep 'CODEQ_REDIS_URL is ignored: codeqd uses \[store\] url of its configuration file' \
	"$T_DIR/codeqd2.log" | grep -q 'redis://\*\*\*@127.0.0.1:1/0' || fail "no warning: $(grep CODEQ_REDIS_URL "$T_DIR/codeqd2.log")"
grep -q secret "$T_DIR/codeqd2.log" && fail "the password in the log"
ok "a differing CODEQ_REDIS_URL is ignored, with a warning"
stop_codeqd
