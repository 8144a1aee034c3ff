#!/bin/sh
# metrics_http: the metrics listener (dispatcher/metrics_http.c) in a real
# libev loop against a real redis-server: /metrics shows queue depths read
# from the store and passes promtool; /healthz is 200, 503 with the pools'
# reason while a pool is down, 503 while the store is stopped, 200 again
# when it returns; unknown paths and methods are refused.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

command -v curl >/dev/null 2>&1 || skip "curl not installed"
start_redis
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
"$top_builddir/tests/metrics/httpd" "127.0.0.1:$PORT" "$REDIS_URL" "$T_DIR/pools" \
	>"$T_DIR/httpd.log" 2>&1 &
HTTPD=$!
t_track $HTTPD

code() { curl -s --max-time 10 -o "$T_DIR/body" -w '%{http_code}' "$@" || true; }
healthz_is() { [ "$(code "$URL/healthz")" = "$1" ]; }

wait_for 10 healthz_is 200 || fail "/healthz never answered 200 ($(cat "$T_DIR/body" 2>/dev/null))"
assert_eq "healthz body" "ok" "$(cat "$T_DIR/body")"

# A queue laid out as docs/storage.md describes: 2 ready (one 30 s old),
# 1 delayed, 1 leased, 1 dead, 1 callback waiting, 1 callback dead.
now=$(rcli TIME | head -1)
rcli SADD codeq:queues emails >/dev/null
rcli RPUSH 'codeq:{emails}:ready:0' emails:1 >/dev/null
rcli RPUSH 'codeq:{emails}:ready:5' emails:2 >/dev/null
rcli HSET 'codeq:{emails}:t:1' id emails:1 status ready created_at $(( (now - 30) * 1000 )) >/dev/null
rcli HSET 'codeq:{emails}:t:2' id emails:2 status ready created_at $(( now * 1000 )) >/dev/null
rcli ZADD 'codeq:{emails}:delayed' $(( (now + 600) * 1000 )) emails:3 >/dev/null
rcli ZADD 'codeq:{emails}:leased' $(( (now + 600) * 1000 )) emails:4 >/dev/null
rcli RPUSH 'codeq:{emails}:dlq' emails:5 >/dev/null
rcli ZADD 'codeq:{emails}:outbox' $(( now * 1000 )) 1 >/dev/null
rcli RPUSH 'codeq:{emails}:cbdlq' 2 >/dev/null

metric() { # metric 'name{labels}' -> value from the last scrape
	awk -v k="$1" '$1 == k { print $2 }' "$T_DIR/metrics"
}
scrape() { curl -sf --max-time 10 "$URL/metrics" >"$T_DIR/metrics"; }
depth_seen() { scrape && [ "$(metric 'codeq_queue_depth{queue="emails",state="ready"}')" = 2 ]; }
wait_for 10 depth_seen || fail "queue depth never showed 2 ready tasks"
assert_eq "ready" 2 "$(metric 'codeq_queue_depth{queue="emails",state="ready"}')"
assert_eq "delayed" 1 "$(metric 'codeq_queue_depth{queue="emails",state="delayed"}')"
assert_eq "leased" 1 "$(metric 'codeq_queue_depth{queue="emails",state="leased"}')"
assert_eq "dead" 1 "$(metric 'codeq_queue_depth{queue="emails",state="dead"}')"
assert_eq "callback outbox" 1 "$(metric 'codeq_callback_outbox_items{queue="emails"}')"
assert_eq "callback dlq" 1 "$(metric 'codeq_callback_dlq_items{queue="emails"}')"
assert_eq "store up" 1 "$(metric codeq_store_up)"
assert_eq "queues" 1 "$(metric codeq_queues)"
assert_eq "completed counter" 1 "$(metric 'codeq_tasks_completed_total{queue="emails",pool="mail"}')"
age=$(metric 'codeq_queue_oldest_ready_age_seconds{queue="emails"}')
awk -v a="$age" 'BEGIN { exit !(a >= 29 && a < 3600) }' || fail "oldest ready age: expected about 30 s, got '$age'"
ok "oldest ready age = $age s"
curl -sfI "$URL/metrics" | tr -d '\r' | grep -qi '^content-type: text/plain; version=0.0.4' ||
	fail "content type of /metrics is not the 0.0.4 text format"
ok "content type is text/plain; version=0.0.4"
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$T_DIR/metrics" >"$T_DIR/promtool.log" 2>&1 ||
		{ cat "$T_DIR/promtool.log"; fail "promtool rejected the live scrape"; }
	ok "promtool check metrics accepts the live scrape"
fi

assert_eq "unknown path" 404 "$(code "$URL/nope")"
assert_eq "POST /metrics" 405 "$(code -X POST "$URL/metrics")"

# A pool down: 503 with the reason given by the dispatcher.
echo "pool mail: 1 of 2 workers down" >"$T_DIR/pools"
sleep 1.1	# past the 1 s cache
wait_for 10 healthz_is 503 || fail "/healthz stayed $(code "$URL/healthz") with a pool down"
assert_eq "pool reason" "pool mail: 1 of 2 workers down" "$(cat "$T_DIR/body")"
rm -f "$T_DIR/pools"
wait_for 10 healthz_is 200 || fail "/healthz did not come back after the pool"
ok "healthz 503 while a pool is down, 200 after"

# The store stopped: 503 naming the store; /metrics still answers.
stop_redis
wait_for 15 healthz_is 503 || fail "/healthz stayed 200 with the store stopped"
grep -q '^store: ' "$T_DIR/body" || fail "503 reason does not name the store: $(cat "$T_DIR/body")"
ok "healthz 503 with the store stopped: $(cat "$T_DIR/body")"
scrape || fail "/metrics failed while the store is stopped"
assert_eq "store up (stopped)" 0 "$(metric codeq_store_up)"
[ -z "$(metric 'codeq_queue_depth{queue="emails",state="ready"}')" ] ||
	fail "stale queue depths served while the store is down"
ok "no stale queue depths while the store is down"
restart_redis
wait_for 15 healthz_is 200 || fail "/healthz did not return to 200 after the store restarted"
ok "healthz 200 again after the store restarted"
scrape
awk '$1 ~ /^codeq_store_reconnects_total/ && $2 >= 1 { f = 1 } END { exit !f }' "$T_DIR/metrics" ||
	fail "no store reconnect counted"
ok "store reconnect counted"
depth_seen || fail "queue depths did not come back"
ok "queue depths back after the restart"

# Many scrapes at once while the cache is stale: all suspended on one
# collection, all answered.
sleep 1.1
i=0; pids=""
while [ $i -lt 20 ]; do
	curl -sf --max-time 10 -o "$T_DIR/par.$i" "$URL/metrics" & pids="$pids $!"
	i=$((i+1))
done
for p in $pids; do wait $p || fail "a concurrent scrape failed"; done
assert_eq "concurrent scrapes with queue depths" 20 \
	"$(grep -l '^codeq_queue_depth{queue="emails",state="ready"} 2$' "$T_DIR"/par.* | wc -l)"
assert_eq "HEAD /healthz" 200 "$(code -I "$URL/healthz")"
if curl -sf --max-time 2 "http://[::1]:$PORT/healthz" >/dev/null 2>&1; then
	fail "listening on ::1 although configured for 127.0.0.1"
fi
ok "not reachable on another address"

# Many queues: a collection reads at most 200 (sorted by name), counts
# them all, and drops no update.
i=0
while [ $i -lt 210 ]; do
	printf 'SADD codeq:queues bulk%03d\nRPUSH codeq:{bulk%03d}:ready:0 bulk%03d:1\n' $i $i $i
	i=$((i+1))
done | rcli --pipe >/dev/null
many() { scrape && [ "$(metric codeq_queues)" = 211 ]; }
wait_for 10 many || fail "codeq_queues: $(metric codeq_queues)"
assert_eq "queue depth series for 200 queues" 800 "$(grep -c '^codeq_queue_depth{' "$T_DIR/metrics")"
[ -z "$(grep '^codeq_metrics_dropped_updates_total{' "$T_DIR/metrics")" ] ||
	fail "updates dropped: $(grep '^codeq_metrics_dropped' "$T_DIR/metrics")"
ok "211 queues: 200 read, none dropped"

# The same address twice: the second refuses to start, saying why.
if "$top_builddir/tests/metrics/httpd" "127.0.0.1:$PORT" "$REDIS_URL" "$T_DIR/pools" \
	>"$T_DIR/second.log" 2>&1; then fail "a second listener started on a used port"; fi
grep -q "listen 127.0.0.1:$PORT" "$T_DIR/second.log" || fail "no reason given: $(cat "$T_DIR/second.log")"
ok "port in use: $(cat "$T_DIR/second.log")"
"$top_builddir/tests/metrics/httpd" off "$REDIS_URL" "$T_DIR/pools" >"$T_DIR/off.log" 2>&1 ||
	fail "listen = off failed: $(cat "$T_DIR/off.log")"
grep -q disabled "$T_DIR/off.log" || fail "listen = off did not disable"
ok "listen = off disables the listener"
if "$top_builddir/tests/metrics/httpd" "no-port" "$REDIS_URL" "$T_DIR/pools" >"$T_DIR/bad.log" 2>&1; then
	fail "a bad listen address was accepted"
fi
ok "bad listen address refused: $(cat "$T_DIR/bad.log")"

kill -TERM $HTTPD
wait $HTTPD || fail "metrics_httpd did not exit cleanly"
ok "clean stop"

# A store that accepts connections and never answers: the collection's
# deadline ends it, /healthz says 503 (no request hangs), /metrics answers.
SPORT=$(free_port)
"$PYTHON3" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' "$SPORT" &
t_track $!
wait_for 10 "$PYTHON3" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$SPORT" ||
	fail "silent server did not start"
PORT2=$(free_port)
"$top_builddir/tests/metrics/httpd" "127.0.0.1:$PORT2" "redis://127.0.0.1:$SPORT/0" "$T_DIR/pools" \
	>"$T_DIR/httpd2.log" 2>&1 &
HTTPD2=$!
t_track $HTTPD2
wait_for 10 curl -s --max-time 10 -o /dev/null "http://127.0.0.1:$PORT2/healthz" ||
	fail "no answer from the listener on a silent store"
assert_eq "healthz on a silent store" 503 "$(code "http://127.0.0.1:$PORT2/healthz")"
assert_eq "reason" "store: timed out" "$(cat "$T_DIR/body")"
assert_eq "metrics on a silent store" 200 "$(code "http://127.0.0.1:$PORT2/metrics")"
kill -TERM $HTTPD2
wait $HTTPD2 || fail "metrics_httpd (silent store) did not exit cleanly"
ok "a silent store times out, nothing hangs"
