# tests/codeqd/lib.sh - helpers for the codeqd tests; source after lib.sh.

CODEQD_PID=
TEST_SO="$top_builddir/tests/handlers/.libs/test_handler.so"
EXAMPLE_SO="$top_builddir/examples/.libs/example_handler.so"

[ -x "$CODEQD" ] || skip "codeqd not built"
[ -x "$CODEQ" ] || skip "codeq CLI not built"

# write_conf FILE: a configuration for the private redis-server, with the
# webhook processes and the metrics listener off; pools come from stdin.
write_conf() {
	{
		printf '[store]\nurl = %s\n\n' "$REDIS_URL"
		printf '[codeqd]\ntick = 50ms\nreap_interval = 500ms\nshutdown_timeout = 10s\n'
		printf 'restart_backoff_max = 2s\nlog_level = debug\n\n'
		printf '[notifier]\nenabled = no\n\n[callbacks]\nenabled = no\n\n'
		printf '[metrics]\nlisten = off\n\n'
		cat
	} >"$1"
}

# start_codeqd CONF [ARGS...]: start codeqd in the foreground, wait until
# it says it is ready.  Log in $T_DIR/codeqd.log (appended).
start_codeqd() {
	conf=$1; shift
	"$CODEQD" -c "$conf" --foreground "$@" >>"$T_DIR/codeqd.log" 2>&1 &
	CODEQD_PID=$!
	t_track "$CODEQD_PID"
	wait_for 20 grep -q "pid=$CODEQD_PID msg=\"codeqd ready\"" "$T_DIR/codeqd.log" ||
		fail "codeqd did not become ready"
}

# stop_codeqd: SIGTERM and wait; fails unless it exits 0.
stop_codeqd() {
	kill -TERM "$CODEQD_PID"
	rc=0
	wait "$CODEQD_PID" || rc=$?
	[ "$rc" = 0 ] || fail "codeqd exited $rc after SIGTERM"
	CODEQD_PID=
	no_sanitizer_reports "$T_DIR/codeqd.log"
}

# Children's sanitizer reports land in codeqd's log, not in an exit status.
no_sanitizer_reports() {
	if grep -Eq 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$1"; then
		grep -E -A 20 'Sanitizer|runtime error:' "$1" | head -n 60
		fail "sanitizer report in $1"
	fi
}

cq() { "$CODEQ" "$@"; }

# start_notify_receiver SOCK LOG: a systemd NOTIFY_SOCKET stand-in, a
# unix datagram socket whose messages land in LOG one line each; it ends
# after STOPPING=1 (or with the test).  Needs $PYTHON3.
start_notify_receiver() {
	"$PYTHON3" - "$1" "$2" <<'EOP' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        data = s.recv(4096).decode()
        for line in data.split("\n"):
            log.write(line + "\n")
        if data.startswith("STOPPING=1"):
            break
EOP
	t_track $!
	wait_for 10 test -S "$1" || fail "no receiver socket $1"
}

# field ID NAME: one field of a task hash.
field() {
	q=${1%%:*}; seq=${1##*:}
	rcli HGET "codeq:{$q}:t:$seq" "$2"
}

is_status() { [ "$(field "$1" status)" = "$2" ]; }

# wait_status ID STATUS [SECONDS]
wait_status() {
	wait_for "${3:-20}" is_status "$1" "$2" ||
		fail "$1: status $(field "$1" status), expected $2 (error: $(field "$1" error))"
}

# codeqd_workers POOL: pids of that pool's workers (from the task hashes'
# worker field is not enough: ask ps).
worker_pids() {
	ps -o pid= --ppid "$CODEQD_PID" | tr -d ' '
}

# check_counts QUEUE TOTAL: every task of the queue is accounted for:
# none lost (TOTAL task hashes, each in one place per fsck), none leased.
check_counts() {
	q=$1; total=$2
	assert_eq "$q: tasks enqueued" "$total" "$(rcli GET "codeq:{$q}:seq")"
	i=1; n=0
	while [ $i -le "$total" ]; do
		s=$(rcli HGET "codeq:{$q}:t:$i" status)
		[ -n "$s" ] || fail "$q:$i lost (no task hash)"
		[ "$s" != leased ] || fail "$q:$i left leased"
		n=$((n+1)); i=$((i+1))
	done
	assert_eq "$q: leased set" 0 "$(rcli ZCARD "codeq:{$q}:leased")"
	cq fsck "$q" >"$T_DIR/fsck.out" 2>&1 || { cat "$T_DIR/fsck.out"; fail "$q: fsck found problems"; }
	ok "$q: $n tasks, none lost, none leased, fsck clean"
}

# due_now ID...: make delayed tasks of one queue due together, in one
# command, for the tick (or a claim) to promote as one batch.  Tasks
# enqueued with one --at can straddle their due time on a slow machine:
# the last enqueue then comes after the promotion and joins no batch.
due_now() {
	q=${1%%:*}; args=
	for id; do args="$args 0 $id"; done
	# shellcheck disable=SC2086
	n=$(rcli ZADD "codeq:{$q}:delayed" XX CH $args)
	[ "$n" = $# ] || fail "due_now: $n of $# tasks were delayed"
}
