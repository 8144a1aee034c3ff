#!/bin/sh
# A plain drain of many no-op tasks with prefetch and a short lease: the
# pool's batched heartbeat often runs after a worker completed a task in
# the store but before its DONE reached the dispatcher.  The store then
# refuses that heartbeat with STATE (the task is completed, the token
# still its own): a finished race, not a lost lease.  No "lease lost"
# warning, no LEASE_LOST to the worker, codeq_leases_lost_total stays 0.
# (A real loss, another token, is tests/codeqd/leaselost.sh.)
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
command -v curl >/dev/null || skip "curl not installed"
start_redis

N=3000
port=$(free_port)
write_conf "$T_DIR/c.conf" <<EOC
[pool h]
queues = hq
so = $TEST_SO
processes = 2
prefetch = 16
lease = 1s
EOC
sed -i "s/^listen = off/listen = 127.0.0.1:$port/" "$T_DIR/c.conf"

# Tasks 100 per bulk enqueue with a pause between: enqueued at once, 3000
# drain in well under a second, often before a heartbeat round sees a
# lease.  Paced, and each task taking a millisecond (so that a fast
# machine's workers still hold leases most of the time), the drain spans
# many rounds; it goes on (up to 10 times N) until at least 3 rounds
# found leases to extend.
"$PYTHON3" -c "
for i in range(100):
    print('{\"payload\": {\"op\": \"sleep\", \"ms\": 1, \"n\": %d}}' % i)" >"$T_DIR/tasks.jsonl"
m() { curl -fs "http://127.0.0.1:$port/metrics" >"$T_DIR/metrics"; grep -q "$1" "$T_DIR/metrics"; }
rounds() {
	if m '^codeq_heartbeat_rounds_total '; then
		grep '^codeq_heartbeat_rounds_total ' "$T_DIR/metrics" | cut -d' ' -f2
	else
		echo 0
	fi
}
start_codeqd "$T_DIR/c.conf"
n=0
while [ $n -lt "$N" ] || { [ "$(rounds)" -lt 3 ] && [ $n -lt $((N * 10)) ]; }; do
	cq enqueue hq --bulk "$T_DIR/tasks.jsonl" >"$T_DIR/bulk.out" || fail "bulk enqueue failed"
	[ "$(cat "$T_DIR/bulk.out")" = "100 enqueued, 0 duplicates, 0 bad lines (of 100)" ] ||
		fail "bulk enqueue: $(cat "$T_DIR/bulk.out")"
	n=$((n + 100))
	sleep 0.05
done
N=$n
ok "$N tasks enqueued"
completed() {
	[ "$(cq stats hq --json | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["completed"])')" = "$N" ]
}
wait_for 180 completed || fail "not all $N tasks completed: $(cq stats hq --json)"
ok "$N tasks completed"

# The metrics follow the counters about once a second.
wait_for 10 m '^codeq_heartbeat_rounds_total [3-9]\|^codeq_heartbeat_rounds_total [1-9][0-9]' ||
	fail "no heartbeat round: $(grep heartbeat_rounds "$T_DIR/metrics")"
sleep 1
m '^codeq_leases_lost_total ' || fail "no codeq_leases_lost_total"
races=$(grep '^codeq_heartbeats_after_finish_total ' "$T_DIR/metrics" | cut -d' ' -f2)
echo "# heartbeat rounds: $(grep '^codeq_heartbeat_rounds_total ' "$T_DIR/metrics" | cut -d' ' -f2)," \
	"heartbeats after finish: ${races:-?}"
nlost=$(grep -c 'lease lost' "$T_DIR/codeqd.log" || true)
if [ "$nlost" != 0 ]; then
	grep 'lease lost' "$T_DIR/codeqd.log" | head -n 5
	fail "$nlost \"lease lost\" lines in codeqd's log"
fi
ok "no \"lease lost\" line in codeqd's log"
assert_eq "codeq_leases_lost_total" 0 \
	"$(grep '^codeq_leases_lost_total ' "$T_DIR/metrics" | cut -d' ' -f2)"
grep -q 'msg="restarting the worker' "$T_DIR/codeqd.log" && fail "a worker was restarted"
stop_codeqd
check_counts hq "$N"
