#!/bin/sh
# The webhook processes on a store with a password, in database 2: their
# asynchronous connections (the outbox scripts, the queue depths, the
# subscriber) send AUTH, and SELECT where keys are read, like the rest of
# codeq.  A depth read in the wrong database would find the queue empty
# and notify nobody.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis --requirepass 'hook pass'
unset CODEQ_REDIS_URL
printf 'hook pass\n' >"$T_DIR/pw"
DB=2
on_kvrocks && DB=0	# KVRocks has one keyspace (codeq refuses /2 there)
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$DB"
start_sink S

WH_STORE="password_file = $T_DIR/pw" wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[notifier]
coalesce = 100ms
[pool p]
queues = aq
so = $TEST_SO
processes = 1
EOC
start_codeqd "$T_DIR/c.conf"
c() { "$CODEQ" -c "$T_DIR/c.conf" "$@"; }

sid=$(c subscribe wq --url "$S_URL/wa") || fail "subscribe"
subs_seen() { grep -q 'proc=notifier .*msg="subscriptions changed" count=1' "$T_DIR/codeqd.log"; }
wait_for 10 subs_seen || fail "the notifier did not see the subscription"
c enqueue wq >/dev/null || fail "enqueue wq"
c enqueue wq >/dev/null || fail "enqueue wq"
wait_for 10 at_least 1 S /wa || fail "no WORK_AVAILABLE"
id=$(c enqueue aq --payload '{"op":"echo"}' --webhook "$S_URL/cb") || fail "enqueue aq"
wait_for 10 at_least 1 S /cb || fail "no result callback"
sinkpy S "$id" <<'PY' || fail "webhooks"
wa = [r["json"] for r in rs if r["path"] == "/wa"]
ready = sum(q["ready"] for j in wa for q in j["queues"] if q["queue"] == "wq")
assert ready >= 1, wa
cb = [r["json"] for r in rs if r["path"] == "/cb"]
assert cb[0]["taskId"] == sys.argv[2] and cb[0]["status"] == "COMPLETED", cb
print("ok - WORK_AVAILABLE for wq (ready %d) and the result callback of %s" % (ready, sys.argv[2]))
PY
wait_for 10 is_zero redis-cli -p "$REDIS_PORT" -a 'hook pass' --no-auth-warning -n "$DB" \
	ZCARD 'codeq:{aq}:outbox' || fail "the callback was not acked"
grep -q 'msg="store unavailable"' "$T_DIR/codeqd.log" &&
	fail "a process could not use the store: $(grep 'store unavailable' "$T_DIR/codeqd.log" | head -1)"
ok "the outbox is empty: the ack went to database $DB"
c subscriptions remove "$sid" >/dev/null || fail "unsubscribe"
stop_codeqd
