#!/bin/sh
# metrics_codeqd: /metrics and /healthz of a real codeqd during a real run.
# Every counter must match what happened: 20 exec tasks with result
# callbacks, .so tasks that retry, fail, dead-letter, and one whose worker
# is killed with SIGKILL mid-task; the webhook counter equals the requests
# the sink received; queue depths and leases come back to zero; the live
# scrape passes promtool; /healthz is 503 while the store is stopped and
# 200 again when it returns, with the reconnection counted; a SIGHUP that
# changes the store and the listen address is followed.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
command -v curl >/dev/null 2>&1 || skip "curl not installed"
start_redis
start_sink S

MPORT=$(free_port)
M="http://127.0.0.1:$MPORT"
WH_METRICS=127.0.0.1:$MPORT wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[notifier]
enabled = no
[callbacks]
backoff_base = 100ms
backoff_max = 500ms
batch_window = 20ms
[pool ex]
queues = ex
command = cat
processes = 2
[pool so]
queues = so
so = $TEST_SO
processes = 2
backoff_base = 100ms
EOC
start_codeqd "$T_DIR/c.conf"

code() { curl -s --max-time 10 -o "$T_DIR/body" -w '%{http_code}' "$@" || true; }
healthz_is() { [ "$(code "$M/healthz")" = "$1" ]; }
scrape() { curl -sf --max-time 10 "$M/metrics" >"$T_DIR/metrics"; }
# metric 'name{labels}': its value in the last scrape ("" when absent).
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T_DIR/metrics"; }
# is METRIC VALUE: scrape and compare (for wait_for).
is() { scrape && [ "$(metric "$1")" = "$2" ]; }
expect() {
	wait_for 15 is "$1" "$2" || fail "$1: expected $2, got '$(metric "$1")'"
	ok "$1 = $2"
}

wait_for 20 healthz_is 200 || fail "/healthz: $(cat "$T_DIR/body")"
ok "/healthz 200 with the store up and every pool running"
scrape || fail "/metrics"
assert_eq "build info" 1 "$(metric "codeq_build_info{version=\"$(cq --version | awk '{print $NF}')\"}")"

# 20 exec tasks, each with a result callback.
i=0
while [ $i -lt 20 ]; do
	cq enqueue ex --payload "{\"n\":$i}" --webhook "$S_URL/r" >/dev/null
	i=$((i+1))
done
# .so tasks: two retry once then complete; one retries at its last
# attempt (dead-lettered); one fails permanently.
cq enqueue so --payload '{"op":"retry","ms":10}' >/dev/null			# so:1
cq enqueue so --payload '{"op":"retry","ms":10}' >/dev/null			# so:2
cq enqueue so --payload '{"op":"retry","ms":10}' --max-attempts 1 >/dev/null	# so:3
cq enqueue so --payload '{"op":"fail"}' >/dev/null				# so:4
st() { [ "$(rcli HGET "codeq:{$1}:t:$2" status)" = "$3" ]; }
i=1
while [ $i -le 20 ]; do
	wait_for 30 st ex $i completed || fail "ex:$i not completed"
	i=$((i+1))
done
ok "20 exec tasks completed"
wait_for 30 st so 1 completed || fail "so:1 not completed"
wait_for 30 st so 2 completed || fail "so:2 not completed"
wait_for 30 st so 3 dead || fail "so:3 not dead"
wait_for 30 st so 4 failed || fail "so:4 not failed"

# A delayed task: made ready by the dispatcher's promote timer.
cq enqueue so --payload '{"op":"echo"}' --delay 300ms >/dev/null		# so:5
wait_for 30 st so 5 completed || fail "so:5 (delayed) not completed"

# One task whose worker is killed in the middle: given back, run again.
# It runs while "hold" exists: a fixed sleep could end before the kill.
touch "$T_DIR/hold"
cq enqueue so --payload "{\"op\":\"hold\",\"file\":\"$T_DIR/hold\"}" >/dev/null	# so:6
wait_for 20 st so 6 leased || fail "so:6 never leased"
wpid=$(rcli HGET 'codeq:{so}:t:6' worker | cut -d: -f2)
[ -n "$wpid" ] && kill -0 "$wpid" 2>/dev/null || fail "no live worker for so:6 ($wpid)"
kill -KILL "$wpid"
rm -f "$T_DIR/hold"
wait_for 30 st so 6 completed || fail "so:6 not completed after its worker died"
ok "so:6 completed by another worker after kill -9 of $wpid"

# The counters: exactly what happened.
expect 'codeq_tasks_claimed_total{queue="ex",pool="ex"}' 20
expect 'codeq_tasks_completed_total{queue="ex",pool="ex"}' 20
expect 'codeq_handler_duration_seconds_count{pool="ex"}' 20
expect 'codeq_tasks_claimed_total{queue="so",pool="so"}' 9
expect 'codeq_tasks_completed_total{queue="so",pool="so"}' 4
expect 'codeq_tasks_retried_total{queue="so",pool="so"}' 3
expect 'codeq_tasks_failed_total{queue="so",pool="so"}' 1
expect 'codeq_tasks_dead_lettered_total{queue="so",pool="so"}' 1
expect 'codeq_tasks_abandoned_total{queue="so",pool="so",reason="worker_died"}' 1
expect 'codeq_worker_restarts_total{pool="so",reason="signal"}' 1
# 8 handler runs finished in a worker; the killed one never reported.
expect 'codeq_handler_duration_seconds_count{pool="so"}' 8
awk '$1 ~ /^codeq_claim_duration_seconds_count/ { n += $2 } END { exit !(n >= 29) }' "$T_DIR/metrics" ||
	fail "claim latency histogram: $(grep claim_duration_seconds_count "$T_DIR/metrics")"
ok "claim latency observed for every claim (29 claims that got a task)"
awk '$1 == "codeq_tasks_promoted_total" && $2 >= 1 { f = 1 } END { exit !f }' "$T_DIR/metrics" ||
	fail "promotion not counted: $(grep promoted "$T_DIR/metrics")"
ok "the delayed task's promotion counted"

# Queues from the store: nothing ready or leased, one dead task.
expect 'codeq_queue_depth{queue="ex",state="ready"}' 0
expect 'codeq_queue_depth{queue="so",state="leased"}' 0
expect 'codeq_queue_depth{queue="so",state="dead"}' 1
expect 'codeq_leases_held{pool="so"}' 0
expect 'codeq_leases_held{pool="ex"}' 0
expect 'codeq_pool_up{pool="so"}' 1

# Result callbacks: all 20 delivered; the counter equals the requests the
# sink saw (batching sends several results in one request).
wait_for 30 delivered_at_least 20 S /r || fail "only $(task_ids S /r | grep -c .) callbacks delivered"
wait_for 15 is_zero outbox_size ex || fail "outbox of ex not empty"
expect 'codeq_callback_outbox_items{queue="ex"}' 0
expect 'codeq_webhook_requests_total{kind="result",outcome="success"}' "$(requests S /r)"
ok "$(requests S /r) callback requests for 20 results"

if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T_DIR/metrics" >"$T_DIR/promtool.log" 2>&1 ||
		{ cat "$T_DIR/promtool.log"; fail "promtool rejected codeqd's exposition"; }
	ok "promtool check metrics accepts codeqd's exposition"
fi

# The store goes away and comes back.
stop_redis
wait_for 20 healthz_is 503 || fail "/healthz stayed 200 with the store stopped"
grep -q '^store: ' "$T_DIR/body" || fail "503 does not name the store: $(cat "$T_DIR/body")"
ok "/healthz 503 with the store stopped: $(cat "$T_DIR/body")"
expect codeq_store_up 0
restart_redis
wait_for 30 healthz_is 200 || fail "/healthz not back to 200: $(cat "$T_DIR/body")"
ok "/healthz 200 again after the store restarted"
expect codeq_store_up 1
# Both of the dispatcher's links came back: its own (promote, reap,
# heartbeats) and the metrics collection's.
reconnected() {
	scrape && awk '$1 == "codeq_store_reconnects_total{proc=\"dispatcher\"}" && $2 >= 2 { f = 1 }
		END { exit !f }' "$T_DIR/metrics"
}
wait_for 15 reconnected || fail "reconnections: $(grep store_reconnects "$T_DIR/metrics")"
ok "reconnections counted: $(grep '^codeq_store_reconnects_total' "$T_DIR/metrics" | tr '\n' ' ')"

# SIGHUP with another store and another listen address: the listener
# moves, and the depths come from the new store.
R2=$(free_port)
"$REDIS_SERVER" --bind 127.0.0.1 --port "$R2" --save '' --appendonly no \
	--daemonize no --logfile "$T_DIR/redis2.log" &
t_track $!
wait_for 10 redis-cli -p "$R2" ping || fail "second redis-server did not start"
cq --redis "redis://127.0.0.1:$R2/0" enqueue other --payload '{}' --delay 1h >/dev/null
M2PORT=$(free_port)
sed -i -e "s|^url = .*|url = redis://127.0.0.1:$R2/0|" \
	-e "s|^listen = .*|listen = 127.0.0.1:$M2PORT|" "$T_DIR/c.conf"
kill -HUP "$CODEQD_PID"
M="http://127.0.0.1:$M2PORT"
wait_for 20 is 'codeq_queue_depth{queue="other",state="delayed"}' 1 ||
	fail "no depths from the new store on the new address"
[ -z "$(metric 'codeq_queue_depth{queue="ex",state="ready"}')" ] || fail "old store's queues still shown"
curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" >/dev/null && fail "old address still answers"
ok "after SIGHUP: new listen address, depths from the new store"
# The counters survived the reload.
assert_eq "completed after reload" 20 "$(metric 'codeq_tasks_completed_total{queue="ex",pool="ex"}')"

stop_codeqd
ok "codeqd stopped cleanly"
