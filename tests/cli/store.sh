#!/bin/sh
# tests/cli/store.sh: where the codeq command finds its store and what it says
# when it cannot use it: refused, a connect that never completes, a store
# that never answers (each: exit 69 within the configured timeout, no
# hang), malformed URLs (64 from the command line, 78 from the file), a
# configuration file with an error (78, file:line), --redis over
# CODEQ_REDIS_URL over [store] url, password_file.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cli/lib.sh"
unset CODEQ_REDIS_URL

# run_cq under a hang guard: a hang is a failure, not a slow pass
guarded() {
	set +e
	timeout 30 "$CODEQ" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	set -e
	ERR=$(cat "$T_DIR/err")
	[ "$RC" -ne 124 ] || fail "codeq $* hung"
}

# refused: nothing listens on the port
port=$(free_port)
guarded --redis "redis://127.0.0.1:$port/0" stats
assert_eq "refused: exit" 69 "$RC"
assert_eq "refused: message" "codeq: stats: store 127.0.0.1:$port: Connection refused" "$ERR"

# a listener whose accept queue is full: the SYN is dropped, connect()
# never completes; and a listener that accepts and never answers
"$PYTHON3" - "$T_DIR/ports" <<'PY' &
import socket, sys, time
full = socket.socket(); full.bind(("127.0.0.1", 0)); full.listen(0)
fillers = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    c.connect_ex(full.getsockname()); fillers.append(c)
mute = socket.socket(); mute.bind(("127.0.0.1", 0)); mute.listen(8)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d\n" % (full.getsockname()[1], mute.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
mute.settimeout(0.2)
end = time.time() + 120
while time.time() < end:
    try:
        held.append(mute.accept()[0])
    except socket.timeout:
        pass
PY
t_track $!
wait_for 10 test -s "$T_DIR/ports" || fail "test listeners did not start"
read -r full mute <"$T_DIR/ports"
printf '[store]\nconnect_timeout = 500ms\ncommand_timeout = 500ms\n' >"$T_DIR/fast.conf"
guarded -c "$T_DIR/fast.conf" --redis "redis://127.0.0.1:$full/0" stats
assert_eq "connect never completes: exit" 69 "$RC"
echo "$ERR" | grep -Eq "^codeq: stats: store 127.0.0.1:$full: .*(timed out|Connection)" ||
	fail "connect timeout message: $ERR"
ok "connect timeout: $ERR"
guarded -c "$T_DIR/fast.conf" --redis "redis://127.0.0.1:$mute/0" get q:1
assert_eq "store never answers: exit" 69 "$RC"
echo "$ERR" | grep -Eq "^codeq: get: .*127.0.0.1:$mute.*(timed out|Resource temporarily unavailable)" ||
	fail "command timeout message: $ERR"
ok "command timeout: $ERR"

# malformed store URLs
expect 64 "codeq: stats: --redis: store URL: must start with redis://, unix:// or redis+unix://, got 'http://localhost'" \
	--redis http://localhost stats
expect_match 64 "^codeq: stats: --redis: store URL: " --redis 'redis://localhost:99999' stats
set +e
CODEQ_REDIS_URL=nonsense "$CODEQ" stats 2>"$T_DIR/err"
rc=$?
set -e
assert_eq "bad CODEQ_REDIS_URL: exit" 64 "$rc"
assert_eq "bad CODEQ_REDIS_URL: message" \
	"codeq: stats: CODEQ_REDIS_URL: store URL: must start with redis://, unix:// or redis+unix://, got 'nonsense'" "$(cat "$T_DIR/err")"
printf '[store]\n; the store\nurl = redis:/localhost\n' >"$T_DIR/badurl.conf"
expect 78 "codeq: $T_DIR/badurl.conf:3: url: must start with redis://, unix:// or redis+unix:// (expected redis://[[user][:password]@]host[:port][/db] or unix://[[user][:password]@]/path[?db=N]), got 'redis:/localhost'" \
	-c "$T_DIR/badurl.conf" stats
# ...and a URL's password never appears in the message about it
expect 64 "codeq: stats: --redis: store URL: must start with redis://, unix:// or redis+unix://, got 'rediss://***@db:6379'" \
	--redis 'rediss://:hunter2@db:6379' stats
printf '[store]\nurl = redis://:hunter2@db:99999\n' >"$T_DIR/pwurl.conf"
expect 78 "codeq: $T_DIR/pwurl.conf:2: url: port must be 1-65535 (expected redis://[[user][:password]@]host[:port][/db] or unix://[[user][:password]@]/path[?db=N]), got 'redis://***@db:99999'" \
	-c "$T_DIR/pwurl.conf" stats

# a configuration file with an error: file:line, exit 78; --help still works
printf '[store]\nurl = redis://127.0.0.1:1\n\n[pool p]\nqueues = q\nexec = /bin/true\nprocesses = 0\n' >"$T_DIR/bad.conf"
expect 78 "codeq: $T_DIR/bad.conf:7: processes: must be 1-1024, got 0" -c "$T_DIR/bad.conf" stats
printf '[store]\nconnect_timeout = soon\n' >"$T_DIR/bad2.conf"
expect 78 "codeq: $T_DIR/bad2.conf:2: connect_timeout: must be a duration like 250ms, 30s, 5m, 2h, 7d or a number of seconds, got 'soon'" \
	-c "$T_DIR/bad2.conf" enqueue q
expect 78 "codeq: $T_DIR/none.conf: cannot open: No such file or directory" -c "$T_DIR/none.conf" stats
run_cq -c "$T_DIR/bad.conf" enqueue --help
assert_eq "--help despite a bad configuration" 0 "$RC"

# which URL wins: --redis, then CODEQ_REDIS_URL, then [store] url
start_redis
unset CODEQ_REDIS_URL
printf '[store]\nurl = %s\n' "$REDIS_URL" >"$T_DIR/good.conf"
printf '[store]\nurl = redis://127.0.0.1:%s/0\n' "$port" >"$T_DIR/wrong.conf"
assert_eq "[store] url used" "p:1" "$(cq -c "$T_DIR/good.conf" enqueue p)"
assert_eq "CODEQ_REDIS_URL over [store] url" "p:2" \
	"$(CODEQ_REDIS_URL=$REDIS_URL "$CODEQ" -c "$T_DIR/wrong.conf" enqueue p)"
assert_eq "--redis over both" "p:3" \
	"$(CODEQ_REDIS_URL=redis://127.0.0.1:$port/0 "$CODEQ" -c "$T_DIR/wrong.conf" --redis "$REDIS_URL" enqueue p)"
assert_eq "--redis and --config after the command" "p:4" \
	"$(cq enqueue p --config "$T_DIR/wrong.conf" --redis "$REDIS_URL")"
guarded -c "$T_DIR/good.conf" --redis "redis://127.0.0.1:$port/0" enqueue p
assert_eq "--redis wins even when wrong" 69 "$RC"
if on_kvrocks; then
	# SELECT is a no-op on KVRocks: database 3 would be database 0.
	guarded --redis "redis://127.0.0.1:$REDIS_PORT/3" enqueue p
	[ "$RC" != 0 ] || fail "database 3 accepted on KVRocks"
	case $ERR in *"is KVRocks, which has no database 3"*) ;;
	*) fail "no clear error for database 3 on KVRocks: $ERR" ;; esac
	ok "database 3 refused on KVRocks: $ERR"
else
	assert_eq "db number honoured" "" "$(redis-cli -p "$REDIS_PORT" -n 3 keys '*')"
	assert_eq "enqueue into db 3" "p:1" "$(cq --redis "redis://127.0.0.1:$REDIS_PORT/3" enqueue p)"
	[ -n "$(redis-cli -p "$REDIS_PORT" -n 3 keys '*')" ] || fail "nothing written to db 3"
	ok "db 3 written"
fi

# a password: from password_file (never on the command line), or the URL
start_redis --requirepass 's3cret pass'
unset CODEQ_REDIS_URL
printf 's3cret pass\n' >"$T_DIR/pw"
printf '[store]\nurl = %s\npassword_file = %s\n' "$REDIS_URL" "$T_DIR/pw" >"$T_DIR/pw.conf"
assert_eq "password_file" "s:1" "$(cq -c "$T_DIR/pw.conf" enqueue s)"
guarded --redis "$REDIS_URL" enqueue s
[ "$RC" -ne 0 ] || fail "no password accepted"
echo "$ERR" | grep -qi "auth" || fail "no-password message: $ERR"
ok "without the password: exit $RC: $ERR"
echo "$ERR" | grep -q "s3cret" && fail "password in a message"
printf '[store]\nurl = %s\npassword_file = %s/nope\n' "$REDIS_URL" "$T_DIR" >"$T_DIR/nopw.conf"
expect 78 "codeq: stats: $T_DIR/nopw.conf: [store] password_file: $T_DIR/nope: No such file or directory" \
	-c "$T_DIR/nopw.conf" stats
