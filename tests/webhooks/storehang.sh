#!/bin/sh
# The store hangs (SIGSTOP) under the webhook processes.
# Callbacks: while the callbacks process drains a deep outbox with round
# trips in flight, its calls time out ([store] command_timeout), the
# process stays up, reconnects when the store answers again, and every
# callback is delivered; the outbox and the callbacks DLQ end empty.
# Notifier: a signal whose depth read the store never answers; the queue
# is notified all the same (its depth unknown: a notification is
# advisory), and once the store is back the next signal is read and
# notified as usual, by the same process.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink S

N=3000
conf() {
	WH_STORE="command_timeout = 1s" wh_conf "$T_DIR/$1.conf" <<EOC
$(webhooks_section yes 1s)
[notifier]
enabled = ${3:-no}
coalesce = 300ms
scan_interval = 1h
[callbacks]
enabled = $2
batch_max = 5
max_attempts = 100
backoff_base = 100ms
backoff_max = 1s
visibility = 6s
[pool p]
queues = sh
so = $TEST_SO
processes = 2
EOC
}
conf fill no
conf drain yes
conf notify no yes

# The outbox fills with the callbacks process off.
start_codeqd "$T_DIR/fill.conf"
enqueue_with_webhook sh $N "$S_URL/h"
wait_for 60 size_is $N completed sh || fail "tasks not completed"
stop_codeqd
assert_eq "outbox filled" "$N" "$(outbox_size sh)"
mv "$T_DIR/codeqd.log" "$T_DIR/codeqd-fill.log"
ok "$N callbacks waiting in the outbox"

# Drain, 5 to a POST to the Python sink (a few seconds), and stop the
# store once the first requests have arrived.
start_codeqd "$T_DIR/drain.conf"
wait_for 30 at_least 20 S /h || fail "no callbacks delivered"
kill -STOP "$REDIS_PID"
sleep 3
kill -CONT "$REDIS_PID"
before=$(requests S /h)
[ "$before" -lt $((N / 5)) ] ||
	fail "the outbox was drained before the store stopped; nothing tested"
# (the first call to time out may be on its synchronous connection,
# which lists the queues: the warning is logged once per outage)
wait_for 20 grep -q 'proc=callbacks .*msg="store unavailable"' "$T_DIR/codeqd.log" ||
	fail "the callbacks process did not notice the hung store"
wait_for 20 grep -q 'proc=callbacks .*msg="store available again"' "$T_DIR/codeqd.log" ||
	fail "the callbacks process did not see the store come back"
ok "the store hung for 3 s mid-drain ($before requests before); its calls timed out, and it came back"

wait_for 60 delivered_at_least $N S /h ||
	fail "only $(task_ids S /h | grep -c .) of $N callbacks delivered"
wait_for 20 is_zero outbox_size sh || fail "outbox not empty: $(outbox_size sh)"
assert_eq "callbacks DLQ" 0 "$(cbdlq_size sh)"
starts=$(grep -c 'proc=callbacks .*msg="callbacks started"' "$T_DIR/codeqd.log")
assert_eq "callbacks process starts" 1 "$starts"
ok "every one of $N callbacks delivered ($(requests S /h) requests), by the same process"
stop_codeqd
mv "$T_DIR/codeqd.log" "$T_DIR/codeqd-drain.log"

# ---- the notifier ----------------------------------------------------
start_codeqd "$T_DIR/notify.conf"
sid=$(cq subscribe wq --url "$S_URL/wa") || fail "subscribe"
subs_seen() { grep -q 'proc=notifier .*msg="subscriptions changed" count=1' "$T_DIR/codeqd.log"; }
wait_for 10 subs_seen || fail "the notifier did not see the subscription"
cq enqueue wq >/dev/null || fail "enqueue"
wait_for 10 at_least 1 S /wa || fail "no WORK_AVAILABLE"
# A signal, then the store stops before the window (300 ms) closes: the
# depth read that follows is never answered.
cq enqueue wq >/dev/null || fail "enqueue"
kill -STOP "$REDIS_PID"
wait_for 10 at_least 2 S /wa || { kill -CONT "$REDIS_PID"; fail "no WORK_AVAILABLE while the store hangs"; }
kill -CONT "$REDIS_PID"
# (its depth read times out, or the subscriptions' refresh on its
# synchronous connection does first: the warning is logged once)
wait_for 10 grep -q 'proc=notifier .*msg="store unavailable"' "$T_DIR/codeqd.log" ||
	fail "the notifier did not notice the hung store"
ok "the store hung mid-window: the queue was notified all the same"
sleep 1	# past the store backoff
cq enqueue wq >/dev/null || fail "enqueue"
wait_for 10 at_least 3 S /wa || fail "no WORK_AVAILABLE after the store came back"
sinkpy S <<'PY' || fail "notifications"
wa = [r["json"] for r in rs if r["path"] == "/wa"]
assert all(j["eventType"] == "WORK_AVAILABLE" for j in wa), wa
print("ok - %d WORK_AVAILABLE POSTs, the last after the store came back" % len(wa))
PY
starts=$(grep -c 'proc=notifier .*msg="notifier started"' "$T_DIR/codeqd.log")
assert_eq "notifier process starts" 1 "$starts"
cq subscriptions remove "$sid" >/dev/null || fail "unsubscribe"
stop_codeqd
