#!/bin/sh
# Result callbacks through codeqd: payload and both signatures verified
# independently; traceparent passed through; a failed task's callback;
# 500-then-200 retried with a stable webhook-id; 429 Retry-After honoured;
# 404 -> callbacks DLQ, listed with its last status, replayed; a hanging
# endpoint times out and is retried while another endpoint proceeds.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink S --plan /flaky=500,200 --plan /busy=429:2,200 --plan /gone=404
start_sink H --plan /hang=hang --plan /hang2=hang

MPORT=$(free_port)
WH_METRICS=127.0.0.1:$MPORT wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section yes 3s)
[notifier]
enabled = no
[callbacks]
backoff_base = 100ms
backoff_max = 500ms
batch_window = 20ms
batch_max = 2
[pool p]
queues = cb
so = $TEST_SO
processes = 2
EOC
start_codeqd "$T_DIR/c.conf"

TP=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
ok_id=$(cq enqueue cb --payload '{"op":"echo","n":1}' --webhook "$S_URL/ok" --traceparent $TP)
fail_id=$(cq enqueue cb --payload '{"op":"fail"}' --webhook "$S_URL/failed")
wait_for 20 at_least 1 S /ok || fail "no callback for $ok_id"
wait_for 20 at_least 1 S /failed || fail "no callback for $fail_id"

sinkpy S "$ok_id" "$fail_id" "$TP" <<'PY' || fail "callback payloads"
ok_id, fail_id, tp = sys.argv[2:5]
by = {r["path"]: r for r in rs}
ok, bad = by["/ok"], by["/failed"]
for r in (ok, bad):
    assert r["std_ok"], "Standard Webhooks signature does not verify"
    assert r["codeq_ok"], "X-CodeQ-Signature does not verify"
    assert r["headers"]["content-type"] == "application/json"
    assert r["headers"]["webhook-id"] == r["json"]["webhookId"]
    # Unique beyond this store: a random part, then the item number.
    assert re.fullmatch(r"cb_[0-9a-f]{24}_[0-9]+", r["json"]["webhookId"]), r["json"]
assert ok["json"]["webhookId"] != bad["json"]["webhookId"]
j = ok["json"]
assert j["taskId"] == ok_id and j["queue"] == "cb", j
assert j["eventType"] == "TASK_COMPLETED" and j["status"] == "COMPLETED", j
assert j["result"] == {"op": "echo", "n": 1}, j
assert j["attempts"] == 1 and j["error"] is None, j
assert j["completedAt"].endswith("Z"), j
assert ok["headers"].get("traceparent") == tp, ok["headers"]
assert j["traceparent"] == tp
j = bad["json"]
assert j["taskId"] == fail_id and j["status"] == "FAILED", j
assert j["eventType"] == "TASK_FAILED" and j["error"], j
assert "traceparent" not in bad["headers"]
print("ok - payloads, both signatures, traceparent")
PY

# 500 then 200: retried with the same webhook-id, then acked.
f_id=$(cq enqueue cb --payload '{"op":"echo"}' --webhook "$S_URL/flaky")
wait_for 20 at_least 2 S /flaky || fail "500 was not retried"
wait_for 10 is_zero outbox_size cb || fail "outbox not empty after the 200"
sinkpy S <<'PY' || fail "retry of a 500"
fl = [r for r in rs if r["path"] == "/flaky"]
assert [r["step"] for r in fl] == ["500", "200"], [r["step"] for r in fl]
assert fl[0]["headers"]["webhook-id"] == fl[1]["headers"]["webhook-id"]
assert fl[0]["body"] == fl[1]["body"]
print("ok - 500 then 200: retried, same webhook-id and body")
PY

# 429 with Retry-After: 2 -> not retried before 2 s (the backoff alone
# would retry after ~100 ms).
b_id=$(cq enqueue cb --payload '{"op":"echo"}' --webhook "$S_URL/busy")
wait_for 20 at_least 2 S /busy || fail "429 was not retried"
sinkpy S <<'PY' || fail "Retry-After"
b = [r for r in rs if r["path"] == "/busy"]
gap = b[1]["t"] - b[0]["t"]
assert gap >= 1.9, "retried %.2f s after a 429 with Retry-After: 2" % gap
print("ok - 429 Retry-After 2 honoured (%.1f s)" % gap)
PY

# 404: permanent -> callbacks DLQ with the last status; replay delivers.
g_id=$(cq enqueue cb --payload '{"op":"echo"}' --webhook "$S_URL/gone")
wait_for 20 size_is 1 cbdlq_size cb || fail "404 did not dead-letter"
assert_eq "404 sent once" 1 "$(requests S /gone)"
cq callbacks dlq list cb --json >"$T_DIR/dlq.json"
"$PYTHON3" - "$T_DIR/dlq.json" "$g_id" <<'PY' || fail "callbacks dlq list"
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 1 and v[0]["taskId"] == sys.argv[2], v
assert v[0]["lastStatus"] == 404 and "404" in v[0]["lastError"], v
print("ok - callbacks dlq list: %s lastStatus 404" % v[0]["taskId"])
PY
plan S /gone 200
assert_eq "replayed" "1 replayed" "$(cq callbacks dlq replay cb)"
wait_for 20 at_least 2 S /gone || fail "replayed callback not sent"
wait_for 10 is_zero outbox_size cb || fail "replayed item not acked"
assert_eq "callbacks DLQ after replay" 0 "$(cbdlq_size cb)"

# A hanging endpoint (its own sink) times out (3 s) and is retried; 300
# more callbacks for it pile up (more than the callbacks process holds at
# once: batch_max 2 here); another endpoint's callbacks go through
# meanwhile.
h_id=$(cq enqueue cb --payload '{"op":"echo"}' --webhook "$H_URL/hang")
wait_for 20 at_least 1 H /hang || fail "hanging endpoint not called"
i=0
while [ $i -lt 300 ]; do
	printf '{"payload":{"op":"echo"},"webhook":"%s/hang2"}\n' "$H_URL"
	i=$((i+1))
done >"$T_DIR/hang.jsonl"
cq enqueue cb --bulk "$T_DIR/hang.jsonl" >/dev/null
wait_for 20 at_least 1 H /hang2 || fail "hanging endpoint not called"
i=0
while [ $i -lt 5 ]; do
	cq enqueue cb --payload '{"op":"echo"}' --webhook "$S_URL/fast" >/dev/null
	i=$((i+1))
done
wait_for 20 delivered_at_least 5 S /fast || fail "callbacks stuck behind a hanging endpoint"
wait_for 30 at_least 2 H /hang || fail "hanging request did not time out and retry"
"$PYTHON3" - "$T_DIR/S.jsonl" "$T_DIR/H.jsonl" <<'PY' || fail "hang ordering"
import json, sys
fast = [json.loads(l)["t"] for l in open(sys.argv[1]) if '"/fast"' in l]
hang = [json.loads(l)["t"] for l in open(sys.argv[2]) if '"/hang"' in l]
assert max(fast) < hang[1], "fast callbacks waited for the hanging one"
print("ok - 5 callbacks delivered while another endpoint hung with 301 "
      "waiting; it was retried %.1f s later" % (hang[1] - hang[0]))
PY
grep -q 'timed out' "$T_DIR/codeqd.log" || fail "timeout not logged"

# The callbacks process reports its outcomes to codeqd (IPC_COUNTERS).
metric() {
	curl -fsS "http://127.0.0.1:$MPORT/metrics" |
		grep "^codeq_webhook_requests_total{kind=\"result\",outcome=\"$1\"}" |
		awk '{ print $2 }'
}
has_metric() { v=$(metric "$1"); [ -n "$v" ] && [ "${v%.*}" -ge "$2" ]; }
if grep -q 'msg="metrics: listening"' "$T_DIR/codeqd.log"; then
	wait_for 10 has_metric success 5 || fail "success counter: $(metric success)"
	wait_for 10 has_metric retry 3 || fail "retry counter: $(metric retry)"
	wait_for 10 has_metric permanent 1 || fail "permanent counter: $(metric permanent)"
	ok "webhook counters exported: success $(metric success), retry $(metric retry), permanent $(metric permanent)"
else
	echo "# codeqd has no metrics listener yet: counters not checked"
fi

stop_codeqd
grep -q 'proc=callbacks.*msg=stopping' "$T_DIR/codeqd.log" || fail "callbacks did not stop cleanly"
ok "codeqd and its callbacks process stopped cleanly"
