#!/bin/sh
# A handler holds nothing of codeq's, and a worker cannot make codeqd
# touch anything outside its own handler and pool:
# - an exec handler's descriptors are 0, 1 and 2, nothing else;
# - one that writes to every other descriptor number reaches nothing
#   (not the store, not codeqd's socket, not the configuration memfd);
# - a .so handler (it runs inside the worker) that forges a HANDLER frame
#   naming an unrelated process group and kills its worker: codeqd kills
#   the worker only, the unrelated group lives;
# - one that forges a CLAIMED of another queue's lease: codeqd refuses it
#   and does not give that lease back when the worker dies.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
FORGE_SO="$top_builddir/tests/handlers/.libs/test_handler_forge.so"
[ -f "$FORGE_SO" ] || skip "test_handler_forge.so not built"
start_redis

# An unrelated process group: a session leader of its own.
"$PYTHON3" -c 'import os, time
os.setsid()
time.sleep(300)' &
VICTIM=$!
t_track "$VICTIM"
wait_for 10 sh -c "[ \"\$(ps -o pgid= -p $VICTIM | tr -d ' ')\" = $VICTIM ]" ||
	fail "the unrelated process group did not start"

write_conf "$T_DIR/c.conf" <<EOC
[pool fds]
queues = fdq
command = ls -m /proc/\$\$/fd
processes = 1

[pool probe]
queues = probeq
command = for n in \$(seq 3 255); do if (printf 'PING\\r\\n' >&\$n) 2>/dev/null; then echo "fd \$n open"; fi; done; echo end
processes = 1

[pool forge]
queues = forgeq
so = $FORGE_SO
processes = 1
backoff_base = 100ms
EOC
start_codeqd "$T_DIR/c.conf"

id=$(cq enqueue fdq)
wait_status "$id" completed
assert_eq "an exec handler's descriptors" '"0, 1, 2"' "$(field "$id" result)"

id=$(cq enqueue probeq)
wait_status "$id" completed
assert_eq "no descriptor beyond 2 reaches anything" '"end"' "$(field "$id" result)"

deaths() { grep -c 'msg="child died".*pool=forge' "$T_DIR/codeqd.log" || true; }

cq enqueue forgeq --payload "{\"pgid\":$VICTIM}" --max-attempts 1 >/dev/null
wait_for 20 grep -q 'msg="child died".*pool=forge' "$T_DIR/codeqd.log" ||
	fail "the forging worker did not die"
grep -q 'msg="refused a handler report"' "$T_DIR/codeqd.log" ||
	fail "codeqd did not refuse the forged HANDLER frame"
sleep 0.3
kill -0 "$VICTIM" 2>/dev/null ||
	fail "codeqd killed a process group that is not the worker's handler"
ok "a forged HANDLER frame is refused; the unrelated process group lives"

# A lease of a queue no pool of this worker serves, taken by another
# client: the forged report must not make codeqd give it back.
vid=$(cq enqueue victimq)
tok=$(cq claim victimq --lease 60s --json | sed -n 's/.*"lease_token":"\([0-9]*\)".*/\1/p')
[ -n "$tok" ] || fail "could not claim the victim task"
n=$(deaths)
cq enqueue forgeq --payload "{\"queue\":\"victimq\",\"id\":\"$vid\",\"token\":\"$tok\"}" \
	--max-attempts 1 >/dev/null
wait_for 20 sh -c "[ \$(grep -c 'msg=\"child died\".*pool=forge' $T_DIR/codeqd.log) -gt $n ]" ||
	fail "the forging worker did not die"
grep -q 'msg="refused a lease report".*queue=victimq' "$T_DIR/codeqd.log" ||
	fail "codeqd did not refuse the forged CLAIMED frame"
sleep 0.5
assert_eq "the other client's lease is untouched" leased "$(field "$vid" status)"
assert_eq "... and its token" "$tok" "$(field "$vid" lease_token)"
stop_codeqd
