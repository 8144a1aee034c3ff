#!/bin/sh
# tests/api/longpoll.sh - long polls: a claim (waitSeconds) ends as soon as
# a task arrives, or with 204 at its deadline; a result wait ends when the
# result is stored; 100 waiting claims hold no thread (other requests are
# served at once) and are each given one task of a batch; SIGTERM answers
# every waiter and codeq-api exits 0.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"

api_token p1 producer
api_token w1 codeq:claim,codeq:result
start_api "max_connections = 300"

# bg_call NAME METHOD PATH TOKEN [BODY]: call in the background; the
# status and the time taken land in $T_DIR/NAME.out, the body in NAME.body.
bg_call() {
	n=$1; shift
	curl -s -o "$T_DIR/$n.body" -w '%{http_code} %{time_total}\n' -X "$1" \
		-H "Authorization: Bearer secret-$3" ${4:+--data-binary "$4"} \
		"$API_URL$2" >"$T_DIR/$n.out" 2>&1 &
	eval "PID_$n=$!"
}
status_of() { cut -d' ' -f1 "$T_DIR/$1.out"; }
# time_between NAME LO HI: the call took LO-HI seconds.
time_between() {
	t=$(cut -d' ' -f2 "$T_DIR/$1.out")
	"$PYTHON3" -c "import sys; sys.exit(0 if $2 <= $t <= $3 else 1)" ||
		fail "$1 took ${t}s, expected $2-$3"
	ok "$1 took ${t}s"
}

# ---- a claim waits for work
bg_call c1 POST /tasks/claim w1 '{"commands":["jobs"],"waitSeconds":10}'
sleep 0.5
expect "create while a claim waits" 202 POST /tasks p1 '{"command":"jobs","payload":{"n":1}}'
ID=$(jf 'j["id"]')
wait "$PID_c1"
assert_eq "the waiting claim got it" 200 "$(status_of c1)"
time_between c1 0.4 2.0
assert_eq "the waiting claim's task" "$ID" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T_DIR/c1.body")"

# ---- and ends empty at its deadline
bg_call c2 POST /tasks/claim w1 '{"commands":["jobs"],"waitSeconds":1}'
wait "$PID_c2"
assert_eq "an empty wait ends with 204" 204 "$(status_of c2)"
time_between c2 0.9 2.5

# ---- a result wait ends when the result is stored
expect "create for a result" 202 POST /tasks p1 '{"command":"jobs","payload":{}}'
ID=$(jf 'j["id"]')
bg_call r1 GET "/tasks/$ID/result?waitSeconds=10" p1
sleep 0.5
expect "claim it" 200 POST /tasks/claim w1 '{"commands":["jobs"]}'
TOK=$(jf 'j["leaseToken"]')
expect "complete it" 200 POST "/tasks/$ID/result" w1 "{\"status\":\"COMPLETED\",\"result\":{\"v\":7},\"leaseToken\":\"$TOK\"}"
wait "$PID_r1"
assert_eq "the result wait got it" 200 "$(status_of r1)"
time_between r1 0.4 2.0
expect "create, never done" 202 POST /tasks p1 '{"command":"slow","payload":{}}'
ID=$(jf 'j["id"]')
expect "result not ready after its wait" 404 GET "/tasks/$ID/result?waitSeconds=1" p1
assert_eq "not ready, says so" "result not ready" "$(jf 'j["error"]')"

# ---- 100 waiters hold no thread; a batch feeds them all
i=0
while [ $i -lt 100 ]; do
	bg_call "w$i" POST /tasks/claim w1 '{"commands":["idle"],"waitSeconds":20}'
	i=$((i+1))
done
sleep 1
ST=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'Authorization: Bearer secret-p1' "$API_URL/tasks/$ID")
assert_eq "served while 100 claims wait" 200 "${ST% *}"
"$PYTHON3" -c "import sys; sys.exit(0 if ${ST#* } < 0.5 else 1)" || fail "took ${ST#* }s"
ok "in ${ST#* }s"
TASKS=$("$PYTHON3" -c 'print(",".join("{\"command\":\"idle\",\"payload\":{\"i\":%d}}" % i for i in range(100)))')
expect "a batch of 100" 200 POST /tasks/batch p1 "{\"tasks\":[$TASKS]}"
i=0
while [ $i -lt 100 ]; do eval "wait \$PID_w$i"; i=$((i+1)); done
n=$(cat "$T_DIR"/w*.out | grep -c '^200 ')
assert_eq "every waiter got a task" 100 "$n"
n=$(cat "$T_DIR"/w*.body | "$PYTHON3" -c 'import sys, json, re
ids = re.findall(r"\"id\":\"([^\"]+)\"", sys.stdin.read()); print(len(set(ids)))')
assert_eq "each a different one" 100 "$n"

# ---- SIGTERM answers the waiters
bg_call s1 POST /tasks/claim w1 '{"commands":["idle"],"waitSeconds":30}'
bg_call s2 GET "/tasks/$ID/result?waitSeconds=30" p1
sleep 0.5
stop_api
wait "$PID_s1" "$PID_s2"
assert_eq "a waiting claim at shutdown" 204 "$(status_of s1)"
time_between s1 0.3 3
assert_eq "a waiting result at shutdown" 404 "$(status_of s2)"
