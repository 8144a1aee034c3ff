#!/bin/sh
# tests/api/codeqd.sh: codeq-api as codeqd's child ([api] enabled): it
# serves; killed, it is restarted and serves again; producers' tasks made
# over HTTP run on codeqd's pool; WORK_AVAILABLE carries its claimUrl.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
. "$top_srcdir/tests/api/lib.sh"
start_redis
api_token prod producer
API_PORT=$(free_port)
API_URL="http://127.0.0.1:$API_PORT/v1/codeq"
write_conf "$T_DIR/c.conf" <<EOC
[api]
enabled = yes
listen = 127.0.0.1:$API_PORT
tokens_file = $API_TOKENS
[pool p]
queues = hq
so = $TEST_SO
processes = 2
EOC
start_codeqd "$T_DIR/c.conf"
wait_for 10 grep -q "proc=api .*msg=listening" "$T_DIR/codeqd.log" ||
	fail "the api child did not start"
n=0
while [ $n -lt 50 ]; do
	call POST /tasks prod '{"command":"hq","payload":{"n":1}}'
	[ "$ST" = 202 ] || fail "create: $ST $(cat "$T_DIR/body")"
	n=$((n + 1))
done
ok "50 tasks created over HTTP through codeqd's api child"
pid=$(grep "proc=api .*msg=listening" "$T_DIR/codeqd.log" | tail -n 1 |
	sed 's/.* pid=\([0-9]*\) .*/\1/')
kill -KILL "$pid"
wait_for 20 sh -c "[ \$(grep -c 'proc=api .*msg=listening' '$T_DIR/codeqd.log') -ge 2 ]" ||
	fail "the api child was not restarted"
call POST /tasks prod '{"command":"hq","payload":{"n":2}}'
[ "$ST" = 202 ] || fail "create after restart: $ST"
ok "api child killed with SIGKILL, restarted by codeqd, serves again"
wait_for 30 sh -c "[ \"\$(\"$CODEQ\" stats hq --json | \"$PYTHON3\" -c 'import json,sys; print(json.load(sys.stdin)[\"completed\"])')\" = 51 ]" ||
	fail "not every HTTP task completed: $("$CODEQ" stats hq --json)"
ok "all 51 tasks completed on codeqd's pool"
stop_codeqd
ok "codeqd and its api child stopped cleanly"
