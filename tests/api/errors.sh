#!/bin/sh
# tests/api/errors.sh - every error status of codeq-api: 400 (bad JSON,
# bad fields), 401 (no or unknown token), 403 (scope, queue), 404 (route,
# task), 405, 409 (stale lease token, wrong state), 413 (Content-Length and
# chunked), 429 with Retry-After, 503 (store down) -- and that the server
# is still serving after all of them.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"

api_token p1 producer
api_token pq producer mine
api_token w1 codeq:claim,codeq:heartbeat,codeq:nack,codeq:result jobs
api_token w2 codeq:claim,codeq:heartbeat,codeq:nack,codeq:result jobs
api_token r1 producer limited
api_token c1 codeq:claim
api_token s1 codeq:subscribe
start_api "max_body = 4KiB"

# ---- 400
expect "bad JSON" 400 POST /tasks p1 '{"command":'
assert_eq "bad JSON says why" 1 "$(jf '1 if "invalid JSON" in j["error"] else 0')"
expect "body not an object" 400 POST /tasks p1 '[1,2]'
expect "no command" 400 POST /tasks p1 '{"payload":{}}'
expect "bad queue name" 400 POST /tasks p1 '{"command":"a b"}'
expect "priority out of range" 400 POST /tasks p1 '{"command":"jobs","priority":12}'
expect "priority not a number" 400 POST /tasks p1 '{"command":"jobs","priority":"high"}'
expect "bad runAt" 400 POST /tasks p1 '{"command":"jobs","runAt":"tomorrow"}'
expect "negative delaySeconds" 400 POST /tasks p1 '{"command":"jobs","delaySeconds":-1}'
expect "batch of 101" 400 POST /tasks/batch p1 "{\"tasks\":[$(python3 -c 'print(",".join(["{\"command\":\"jobs\"}"]*101))')]}"
expect "empty batch" 400 POST /tasks/batch p1 '{"tasks":[]}'
expect "claim without commands, token of every queue" 400 POST /tasks/claim c1 '{}'
expect "bad result status" 400 POST /tasks/jobs:1/result w1 '{"status":"DONE"}'
expect "bad extendSeconds" 400 POST /tasks/jobs:1/heartbeat w1 '{"extendSeconds":0}'
expect "bad waitSeconds" 400 GET '/tasks/jobs:1/result?waitSeconds=x' w1
expect "bad callbackUrl" 400 POST /workers/subscriptions s1 '{"callbackUrl":"ftp://x"}'

# ---- 401, 403
expect "no token" 401 POST /tasks ''
assert_eq "401 names the scheme" 'Bearer realm="codeq"' "$(header WWW-Authenticate)"
expect "unknown token" 401 POST /tasks nobody '{"command":"jobs"}'
expect "producer cannot claim" 403 POST /tasks/claim p1 '{"commands":["jobs"]}'
expect "worker cannot create" 403 POST /tasks w1 '{"command":"jobs"}'
expect "worker is not admin" 403 GET /admin/queues w1
expect "queue not in the token's list (create)" 403 POST /tasks pq '{"command":"jobs"}'
expect "queue not in the token's list (claim)" 403 POST /tasks/claim w1 '{"commands":["jobs","mail"]}'
expect "queue not in the token's list (get)" 403 GET /tasks/jobs:1 pq
expect "mine is fine" 202 POST /tasks pq '{"command":"mine"}'

# ---- 404, 405
expect "no such route" 404 GET /nothing p1
expect "no such task" 404 GET /tasks/jobs:999 w1
expect "not a task id" 404 GET /tasks/nocolon w1
expect "method not allowed" 405 DELETE /tasks/jobs:1 p1

# ---- 409: fencing
expect "create" 202 POST /tasks p1 '{"command":"jobs","payload":{}}'
ID=$(jf 'j["id"]')
expect "claim" 200 POST /tasks/claim w1 '{"commands":["jobs"],"leaseSeconds":1}'
OLD=$(jf 'j["leaseToken"]')
sleep 1.3
# The lease expired; the reaper (codeqd's, here the CLI's) requeues it
# after its backoff, and another worker's long poll takes it.
"$CODEQ" reap jobs >/dev/null || fail "codeq reap"
expect "claimed again" 200 POST /tasks/claim w2 '{"commands":["jobs"],"leaseSeconds":30,"waitSeconds":10}'
NEW=$(jf 'j["leaseToken"]')
[ "$NEW" != "$OLD" ] || fail "a new claim kept the old token"
ok "claimed again with a new token"
expect "heartbeat with the stale token" 409 POST "/tasks/$ID/heartbeat" w1 "{\"leaseToken\":\"$OLD\"}"
assert_eq "409 says stale" 1 "$(jf '1 if "stale" in j["error"] else 0')"
expect "result with the stale token" 409 POST "/tasks/$ID/result" w1 "{\"status\":\"COMPLETED\",\"leaseToken\":\"$OLD\"}"
expect "nack with the stale token" 409 POST "/tasks/$ID/nack" w1 "{\"leaseToken\":\"$OLD\"}"
expect "codeQ client, no token, lease held by another worker" 409 POST "/tasks/$ID/heartbeat" w1 '{}'
expect "the current holder still can" 200 POST "/tasks/$ID/result" w2 "{\"status\":\"COMPLETED\",\"leaseToken\":\"$NEW\"}"
expect "result twice" 409 POST "/tasks/$ID/result" w2 "{\"status\":\"COMPLETED\",\"leaseToken\":\"$NEW\"}"
expect "get shows the second worker's result" 200 GET "/tasks/$ID" w1
assert_eq "completed once" COMPLETED "$(jf 'j["status"]')"

# ---- 413
BIG=$(python3 -c 'print("{\"command\":\"jobs\",\"payload\":\"" + "x" * 5000 + "\"}")')
expect "body over max_body (Content-Length)" 413 POST /tasks p1 "$BIG"
ST=$(printf %s "$BIG" | curl -s -o "$T_DIR/body" -w '%{http_code}' -X POST \
	-H 'Authorization: Bearer secret-p1' -H 'Transfer-Encoding: chunked' \
	--data-binary @- "$API_URL/tasks")
assert_eq "body over max_body (chunked)" 413 "$ST"

# ---- 429: 2 a second, bursts of 3, per token
stop_api
start_api "rate_limit = 2
rate_burst = 3"
n429=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	call POST /tasks r1 '{"command":"limited"}'
	[ "$ST" = 429 ] && { n429=$((n429+1)); RA=$(header Retry-After); }
done
[ "$n429" -ge 4 ] || fail "rate limit: expected 429s, got $n429"
ok "rate limit: $n429 of 10 refused"
assert_eq "Retry-After" 1 "$RA"
expect "another token is not limited by r1's bucket" 202 POST /tasks pq '{"command":"mine"}'
sleep 1.1
expect "the bucket refills" 202 POST /tasks r1 '{"command":"limited"}'

# ---- 503: the store goes away, then comes back
stop_redis
expect "store down" 503 GET "/tasks/$ID" w1
restart_redis
ok=0
for i in $(seq 1 40); do
	call GET "/tasks/$ID" w1
	[ "$ST" = 200 ] && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || fail "not serving after the store came back: $ST"
ok "serving again after the store came back"
stop_api
