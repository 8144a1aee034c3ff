#!/bin/sh
# tests/api/routes.sh - every /v1/codeq route of codeq-api on a real store,
# with curl: create, batch create, get, claim, batch claim, heartbeat (with
# and without the lease token), abandon, nack (requeue and DLQ), result
# (COMPLETED, FAILED), batch results, get result, subscriptions and their
# heartbeat, admin queues and stats, idempotency, delays.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"
jf_stdin() { "$PYTHON3" -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

api_token p1 producer
api_token w1 codeq:claim,codeq:heartbeat,codeq:abandon,codeq:nack,codeq:result,codeq:subscribe jobs,other
api_token a1 admin
start_api

# ---- create, get, claim, heartbeat, result
expect "create" 202 POST /tasks p1 '{"command":"jobs","payload":{"n":1},"priority":3,"maxAttempts":4,"webhook":"https://example.org/done"}'
ID=$(jf 'j["id"]')
assert_eq "created status" PENDING "$(jf 'j["status"]')"
assert_eq "payload is codeQ's JSON string" '{"n":1}' "$(jf 'j["payload"]')"
assert_eq "priority" 3 "$(jf 'j["priority"]')"
assert_eq "maxAttempts" 4 "$(jf 'j["maxAttempts"]')"
assert_eq "webhook" https://example.org/done "$(jf 'j["webhook"]')"
assert_eq "createdAt is RFC 3339" 1 "$(jf '1 if j["createdAt"].endswith("Z") and "T" in j["createdAt"] else 0')"

cp "$T_DIR/body" "$T_DIR/created"
expect "get" 200 GET "/tasks/$ID" w1
assert_eq "get id" "$ID" "$(jf 'j["id"]')"
assert_eq "get command" jobs "$(jf 'j["command"]')"
# The create answer is built from the request, not read back: it must say
# what the store holds, field for field (times within a second).
same=$("$PYTHON3" - "$T_DIR/created" "$T_DIR/body" <<'EOP'
import json, sys
from datetime import datetime
a, b = (json.load(open(f)) for f in sys.argv[1:3])
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
bad = [k for k in set(a) | set(b) if k not in ("createdAt", "updatedAt")
       and a.get(k) != b.get(k)]
bad += [k for k in ("createdAt", "updatedAt") if abs(t(a[k]) - t(b[k])) > 1]
print(",".join(sorted(bad)) or "same")
EOP
)
assert_eq "create's answer is the stored task" same "$same"

expect "claim" 200 POST /tasks/claim w1 '{"commands":["jobs"],"leaseSeconds":30}'
assert_eq "claimed id" "$ID" "$(jf 'j["id"]')"
assert_eq "claimed status" IN_PROGRESS "$(jf 'j["status"]')"
assert_eq "workerId is the token's name" w1 "$(jf 'j["workerId"]')"
assert_eq "attempts counted at claim" 1 "$(jf 'j["attempts"]')"
TOK=$(jf 'j["leaseToken"]')
assert_eq "lease token in the header too" "$TOK" "$(header X-CodeQ-Lease-Token)"
[ -n "$(jf 'j["leaseUntil"]')" ] || fail "no leaseUntil"

expect "heartbeat with the token" 200 POST "/tasks/$ID/heartbeat" w1 "{\"extendSeconds\":60,\"leaseToken\":\"$TOK\"}"
assert_eq "heartbeat ok" true "$(jf 'j["ok"]')"
CALL_H="X-CodeQ-Lease-Token: $TOK" expect "heartbeat, token in the header" 200 POST "/tasks/$ID/heartbeat" w1 '{}'
CALL_H="X-CodeQ-Lease-Token: $TOK" expect "heartbeat, no body" 200 POST "/tasks/$ID/heartbeat" w1
expect "heartbeat as codeQ's clients (no token: the caller's lease)" 200 POST "/tasks/$ID/heartbeat" w1 '{"extendSeconds":30}'

expect "result COMPLETED" 200 POST "/tasks/$ID/result" w1 "{\"status\":\"COMPLETED\",\"result\":{\"ok\":1},\"leaseToken\":\"$TOK\"}"
assert_eq "result record status" COMPLETED "$(jf 'j["status"]')"
assert_eq "result record taskId" "$ID" "$(jf 'j["taskId"]')"
assert_eq "result record result" '{"ok": 1}' "$(jf 'j["result"]')"
expect "get result" 200 GET "/tasks/$ID/result" p1
assert_eq "get result: task" COMPLETED "$(jf 'j["task"]["status"]')"
assert_eq "get result: result" 1 "$(jf 'j["result"]["result"]["ok"]')"
[ -n "$(jf 'j["result"]["completedAt"]')" ] || fail "no completedAt"

# ---- nack, abandon, FAILED, DLQ
expect "create 2" 202 POST /tasks p1 '{"command":"jobs","payload":{"n":2}}'
ID2=$(jf 'j["id"]')
expect "claim 2" 200 POST /tasks/claim w1 '{"commands":["jobs"]}'
TOK2=$(jf 'j["leaseToken"]')
expect "nack" 200 POST "/tasks/$ID2/nack" w1 "{\"delaySeconds\":0,\"reason\":\"busy\",\"leaseToken\":\"$TOK2\"}"
assert_eq "nack status" requeued "$(jf 'j["status"]')"
expect "get after nack" 200 GET "/tasks/$ID2" w1
assert_eq "nacked task pending" PENDING "$(jf 'j["status"]')"
assert_eq "nack reason recorded" busy "$(jf 'j["error"]')"
assert_eq "nack counts no second attempt" 1 "$(jf 'j["attempts"]')"
expect "claim 2 again" 200 POST /tasks/claim w1 '{"commands":["jobs"]}'
TOK2=$(jf 'j["leaseToken"]')
assert_eq "second claim, second attempt" 2 "$(jf 'j["attempts"]')"
expect "abandon" 200 POST "/tasks/$ID2/abandon" w1 "{\"leaseToken\":\"$TOK2\"}"
assert_eq "abandon status" requeued "$(jf 'j["status"]')"
expect "get after abandon" 200 GET "/tasks/$ID2" w1
assert_eq "abandon refunds the attempt" 1 "$(jf 'j["attempts"]')"
expect "claim 2, third time" 200 POST /tasks/claim w1 '{"commands":["jobs"]}'
TOK2=$(jf 'j["leaseToken"]')
expect "result FAILED" 200 POST "/tasks/$ID2/result" w1 "{\"status\":\"FAILED\",\"error\":\"bad input\",\"leaseToken\":\"$TOK2\"}"
assert_eq "FAILED record" FAILED "$(jf 'j["status"]')"
assert_eq "FAILED error" "bad input" "$(jf 'j["error"]')"

expect "create, one attempt" 202 POST /tasks p1 '{"command":"other","payload":{},"maxAttempts":1}'
ID3=$(jf 'j["id"]')
expect "claim from the token's own queues (no commands)" 200 POST /tasks/claim w1 '{}'
assert_eq "claimed from other" "$ID3" "$(jf 'j["id"]')"
expect "nack at the last attempt" 200 POST "/tasks/$ID3/nack" w1 '{"reason":"no"}'
assert_eq "nack to the DLQ" dlq "$(jf 'j["status"]')"

# ---- batches
expect "batch create" 200 POST /tasks/batch p1 '{"tasks":[{"command":"jobs","payload":{"i":1}},{"command":"jobs","payload":{"i":2},"priority":9},{"command":"bad queue"},{"command":"jobs","payload":{"i":3}}]}'
assert_eq "batch: 4 results" 4 "$(jf 'len(j["results"])')"
assert_eq "batch: the bad one has an error" 1 "$(jf '1 if "error" in j["results"][2] and "task" not in j["results"][2] else 0')"
assert_eq "batch: the others are tasks" PENDING "$(jf 'j["results"][1]["task"]["status"]')"
expect "batch claim" 200 POST /tasks/claim/batch w1 '{"commands":["jobs"],"count":10,"leaseSeconds":30}'
assert_eq "batch claim: 3 tasks" 3 "$(jf 'len(j["tasks"])')"
assert_eq "batch claim: priority 9 first" 9 "$(jf 'j["tasks"][0]["priority"]')"
RESULTS=$(jf '[{"taskId": t["id"], "leaseToken": t["leaseToken"], "status": "COMPLETED", "result": {"i": i}} for i, t in enumerate(j["tasks"])]')
expect "batch results" 200 POST /tasks/batch/results w1 "{\"results\":$RESULTS}"
assert_eq "batch results: all completed" "COMPLETED COMPLETED COMPLETED" "$(jf '" ".join(r["result"]["status"] for r in j["results"])')"
expect "batch create 2" 200 POST /tasks/batch p1 '{"tasks":[{"command":"jobs"},{"command":"jobs"}]}'
expect "batch claim 2" 200 POST /tasks/claim/batch w1 '{"commands":["jobs"],"count":2}'
RESULTS=$(jf '[{"taskId": j["tasks"][0]["id"], "leaseToken": j["tasks"][0]["leaseToken"], "status": "FAILED", "error": "e1"}, {"taskId": j["tasks"][1]["id"], "leaseToken": "999999", "status": "COMPLETED"}, {"taskId": "jobs:99999", "leaseToken": "1", "status": "COMPLETED"}, {"status": "COMPLETED"}]')
expect "batch results, some refused" 200 POST /tasks/batch/results w1 "{\"results\":$RESULTS}"
assert_eq "batch: a FAILED item" FAILED "$(jf 'j["results"][0]["result"]["status"]')"
assert_eq "batch: a stale token refused alone" "stale lease token" "$(jf 'j["results"][1]["error"]')"
assert_eq "batch: an unknown task refused alone" 1 "$(jf '1 if "error" in j["results"][2] else 0')"
assert_eq "batch: an item without taskId" 1 "$(jf '1 if "error" in j["results"][3] else 0')"
expect "batch: the refused one is still leased" 200 GET "/tasks/$(jf 'j["results"][1]["taskId"]')" w1
assert_eq "still IN_PROGRESS" IN_PROGRESS "$(jf 'j["status"]')"
expect "and its holder can still finish it" 200 POST "/tasks/$(jf 'j["id"]')/result" w1 '{"status":"COMPLETED"}'
expect "batch claim on an empty queue" 204 POST /tasks/claim/batch w1 '{"commands":["jobs"],"count":10}'
expect "claim on an empty queue" 204 POST /tasks/claim w1 '{"commands":["jobs"]}'

# ---- idempotency, delays
expect "idempotent create" 202 POST /tasks p1 '{"command":"jobs","payload":{},"idempotencyKey":"k-1"}'
IDK=$(jf 'j["id"]')
expect "idempotent create again" 202 POST /tasks p1 '{"command":"jobs","payload":{"other":1},"idempotencyKey":"k-1"}'
assert_eq "same key, same task" "$IDK" "$(jf 'j["id"]')"
expect "delayed create" 202 POST /tasks p1 '{"command":"later","payload":{},"delaySeconds":3600}'
assert_eq "delayed: PENDING" PENDING "$(jf 'j["status"]')"
assert_eq "delayed: codeq's state" delayed "$(jf 'j["state"]')"
[ -n "$(jf 'j["runAt"]')" ] || fail "no runAt on a delayed task"
expect "runAt in the past" 202 POST /tasks p1 '{"command":"later","payload":{},"runAt":"2020-01-01T00:00:00Z"}'
assert_eq "runAt past: ready" ready "$(jf 'j["state"]')"

# ---- subscriptions
expect "subscribe" 200 POST /workers/subscriptions w1 '{"callbackUrl":"https://example.org/hook","eventTypes":["jobs"],"ttlSeconds":60,"deliveryMode":"group","groupId":"g1","minIntervalSeconds":1}'
SUB=$(jf 'j["subscriptionId"]')
[ -n "$(jf 'j["expiresAt"]')" ] || fail "no expiresAt"
expect "subscription heartbeat" 200 POST "/workers/subscriptions/$SUB/heartbeat" w1 '{"ttlSeconds":120}'
assert_eq "heartbeat: same id" "$SUB" "$(jf 'j["subscriptionId"]')"
expect "subscription of the token's queues" 200 POST /workers/subscriptions w1 '{"callbackUrl":"https://example.org/hook2"}'
expect "heartbeat of an unknown subscription" 404 POST /workers/subscriptions/sub_nope/heartbeat w1 '{}'

# ---- admin
expect "admin queues" 200 GET /admin/queues a1
assert_eq "admin queues lists jobs" 1 "$(jf '1 if "jobs" in [q["command"] for q in j["queues"]] else 0')"
expect "queue stats" 200 GET /admin/queues/jobs a1
assert_eq "stats: completed" 5 "$(jf 'j["counters"]["completed"]')"
assert_eq "stats: ready" 1 "$(jf 'j["ready"]')"
expect "queue stats other: dlq" 200 GET /admin/queues/other a1
assert_eq "stats: dlq" 1 "$(jf 'j["dlq"]')"

# ---- the example client: produce, work, result
EX="$top_srcdir/examples/http_client.py"
export CODEQ_API="http://127.0.0.1:$API_PORT" CODEQ_TOKEN=secret-a1
"$PYTHON3" "$EX" produce example 3 >"$T_DIR/ex.ids" || fail "example produce"
assert_eq "example produced" 3 "$(wc -l <"$T_DIR/ex.ids")"
"$PYTHON3" "$EX" work example --once >"$T_DIR/ex.work" || fail "example work"
assert_eq "example worked" 3 "$(grep -c ' 200 ' "$T_DIR/ex.work")"
"$PYTHON3" "$EX" result "$(head -n1 "$T_DIR/ex.ids")" 5 >"$T_DIR/ex.result"
assert_eq "example result" 'HELLO 0' "$(sed 's/^200 //' "$T_DIR/ex.result" | jf_stdin 'j["result"]["result"]["text"]')"

stop_api
