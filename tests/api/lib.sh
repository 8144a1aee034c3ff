# tests/api/lib.sh - codeq-api on a free loopback port; source after
# tests/lib.sh and start_redis.
#
# Tokens: each test token's secret is "secret-NAME"; the file holds only
# its SHA-256, as an operator's would.

CODEQ_API="$top_builddir/codeq-api"
[ -x "$CODEQ_API" ] || skip "codeq-api not built"
command -v curl >/dev/null || skip "curl not installed"

API_TOKENS="$T_DIR/api-tokens"
: >"$API_TOKENS"

# api_token NAME SCOPES [QUEUES]: adds a token to the tokens file.
api_token() {
	h=$(printf %s "secret-$1" | sha256sum | cut -c1-64)
	echo "$h $1 $2 ${3:-}" >>"$API_TOKENS"
}

# start_api [EXTRA-API-KEYS]: codeq-api with [api] listen on a free port
# and the keys given (one "key = value" a line); sets API_URL, API_PID.
start_api() {
	API_PORT=$(free_port)
	{
		printf '[store]\nurl = %s\n\n' "$REDIS_URL"
		printf '[api]\nlisten = 127.0.0.1:%s\ntokens_file = %s\n' \
			"$API_PORT" "$API_TOKENS"
		printf '%s\n' "${1:-}"
	} >"$T_DIR/api.conf"
	"$CODEQ_API" --config "$T_DIR/api.conf" --log-level debug \
		>>"$T_DIR/api.log" 2>&1 &
	API_PID=$!
	t_track "$API_PID"
	API_URL="http://127.0.0.1:$API_PORT/v1/codeq"
	wait_for 10 grep -q "pid=$API_PID msg=listening" "$T_DIR/api.log" ||
		fail "codeq-api did not start"
}

# stop_api: SIGTERM; fails unless it exits 0 without sanitizer reports.
stop_api() {
	kill -TERM "$API_PID"
	rc=0
	wait "$API_PID" || rc=$?
	[ "$rc" = 0 ] || fail "codeq-api exited $rc after SIGTERM"
	if grep -Eq 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' \
	    "$T_DIR/api.log"; then
		grep -E -A 20 'Sanitizer|runtime error:' "$T_DIR/api.log" | head -n 60
		fail "sanitizer report in api.log"
	fi
}

# call METHOD PATH TOKEN-NAME [BODY]: one request; ST is its status, the
# body is in $T_DIR/body, the headers in $T_DIR/headers.  CALL_H: one
# more request header.
call() {
	auth=
	[ -z "$3" ] || auth="Authorization: Bearer secret-$3"
	ST=$(curl -s -o "$T_DIR/body" -D "$T_DIR/headers" -w '%{http_code}' \
		-X "$1" ${auth:+-H "$auth"} -H 'Content-Type: application/json' \
		${CALL_H:+-H "$CALL_H"} \
		${4:+--data-binary "$4"} "$API_URL$2")
}

# expect WHAT STATUS METHOD PATH TOKEN [BODY]
expect() {
	what=$1 want=$2; shift 2
	call "$@"
	[ "$ST" = "$want" ] || fail "$what: expected HTTP $want, got $ST: $(cat "$T_DIR/body")"
	ok "$what: $ST"
}

# jf EXPR: a Python expression over the last body (j), printed.
jf() {
	"$PYTHON3" -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list, bool)) else json.dumps(v))' "$T_DIR/body" "$1"
}

# header NAME: a header of the last response.
header() {
	tr -d '\r' <"$T_DIR/headers" | awk -v n="$1" 'BEGIN{IGNORECASE=1}
		index(tolower($0), tolower(n) ": ") == 1 { sub(/^[^:]*: /, ""); print }'
}
