#!/bin/sh
# tests/api/drain.sh - a producer and 8 remote workers run 2,000 tasks
# over HTTP (tests/api/drain.py: urllib, single and batch routes, long
# polls): every task completed exactly once, the queue empty after.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"

api_token p1 producer drain
api_token w1 codeq:claim,codeq:result drain
api_token a1 admin
start_api
"$PYTHON3" "$top_srcdir/tests/api/drain.py" "$API_URL" 2000 8 ||
	fail "the drain over HTTP"
ok "2000 tasks, none lost, none twice"
stop_api
