#!/bin/sh
# metrics_top: `codeq top` shows every queue's depths and the rates from
# the store's counters; frames follow each other on a pipe, are redrawn in
# place on a terminal (cursor home, lines cleared, cursor restored at the
# end), and come as JSON Lines with --json; a stopped store is reported in
# the frame, not fatal.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
[ -x "$CODEQ" ] || skip "codeq CLI not built"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis
cq() { "$CODEQ" "$@"; }

for i in 1 2 3; do cq enqueue alpha --payload '{}' >/dev/null; done
cq enqueue alpha --payload '{}' --delay 1h >/dev/null
cq enqueue beta --payload '{}' --priority 7 >/dev/null

cq top --iterations 2 --interval 100ms >"$T_DIR/plain" || fail "codeq top failed"
assert_eq "frames on a pipe" 2 "$(grep -c '^codeq top - ' "$T_DIR/plain")"
grep -q "$(printf '\033')" "$T_DIR/plain" && fail "escape sequences written to a pipe"
row=$(grep '^alpha ' "$T_DIR/plain" | tail -n 1)
set -- $row
assert_eq "alpha ready" 3 "$2"
assert_eq "alpha delayed" 1 "$3"
assert_eq "beta ready" 1 "$(grep '^beta ' "$T_DIR/plain" | tail -n 1 | awk '{print $2}')"

# Rates: 4 tasks enqueued between two frames show as a positive rate.
cq top alpha --json --iterations 2 --interval 3s >"$T_DIR/json" &
TOP=$!
wait_for 10 test -s "$T_DIR/json" || fail "no first frame"
for i in 1 2 3 4; do cq enqueue alpha --payload '{}' >/dev/null; done
wait $TOP || fail "codeq top --json failed"
"$PYTHON3" - "$T_DIR/json" <<'PY' || fail "JSON frames"
import json, sys
frames = [json.loads(l) for l in open(sys.argv[1])]
assert len(frames) == 2, frames
a0, a1 = frames[0]["queues"][0], frames[1]["queues"][0]
assert a0["queue"] == "alpha" and [q["queue"] for q in frames[0]["queues"]] == ["alpha"]
assert a0["ready"] == 3 and a1["ready"] == 7, (a0, a1)
assert "rates" not in a0, a0
dt = (frames[1]["time_ms"] - frames[0]["time_ms"]) / 1000
r = a1["rates"]["enqueued"]
assert 4 / (dt + 1) < r <= 4 / (dt - 1), (r, dt)
assert a1["rates"]["completed"] == 0
print("ok - JSON frames; enqueued rate %.2f/s for 4 tasks in %.1f s" % (r, dt))
PY

# On a terminal (script(1) gives it one): redrawn in place.
if command -v script >/dev/null 2>&1; then
	script -qc "'$CODEQ' --redis '$REDIS_URL' top --iterations 2 --interval 100ms" /dev/null \
		>"$T_DIR/tty" </dev/null || fail "codeq top on a terminal failed"
	grep -q "$(printf '\033\\[H')" "$T_DIR/tty" || fail "no cursor-home on a terminal"
	grep -q "$(printf '\033\\[K')" "$T_DIR/tty" || fail "lines not cleared on a terminal"
	tail -c 20 "$T_DIR/tty" | grep -q "$(printf '\033\\[?25h')" || fail "cursor not restored at the end"
	ok "terminal: redrawn in place, cursor restored"
fi

# The store stops while top runs: the frame says so, top goes on.
cq top --iterations 30 --interval 100ms >"$T_DIR/down" 2>&1 &
TOP=$!
wait_for 10 grep -q '^alpha ' "$T_DIR/down" || fail "no frame before the store stopped"
stop_redis
wait $TOP || fail "codeq top exited $? with the store stopped"
grep -q '^error: .*store' "$T_DIR/down" || fail "store failure not shown: $(tail -n 5 "$T_DIR/down")"
ok "a stopped store is shown in the frame; top keeps running"
