#!/bin/sh
# tests/api/restart.sh - a producer and remote workers run 10,000 tasks
# over HTTP through codeqd's api child while it is killed (SIGKILL) three
# times and restarted by codeqd: none lost, none made twice
# (tests/api/restart.py says how the clients retry).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
. "$top_srcdir/tests/api/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis
api_token p1 producer survive
api_token w1 codeq:claim,codeq:result survive
api_token a1 admin
API_PORT=$(free_port)
write_conf "$T_DIR/c.conf" <<EOC
[api]
enabled = yes
listen = 127.0.0.1:$API_PORT
tokens_file = $API_TOKENS
# codeqd needs a pool; the HTTP workers are the only ones on "survive".
[pool local]
queues = local
so = $TEST_SO
processes = 1
EOC
start_codeqd "$T_DIR/c.conf"
wait_for 10 grep -q "proc=api .*msg=listening" "$T_DIR/codeqd.log" ||
	fail "the api child did not start"
"$PYTHON3" "$top_srcdir/tests/api/restart.py" \
	"http://127.0.0.1:$API_PORT/v1/codeq" 10000 4 "$T_DIR/codeqd.log" ||
	fail "10,000 tasks over HTTP with the api child killed"
ok "10,000 tasks over HTTP, the api child killed 3 times: none lost, none twice"
[ "$(grep -c 'proc=api .*msg=listening' "$T_DIR/codeqd.log")" -ge 4 ] ||
	fail "codeqd did not restart its api child each time"
stop_codeqd
ok "codeqd and its api child stopped cleanly"
