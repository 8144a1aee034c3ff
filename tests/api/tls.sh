#!/bin/sh
# tests/api/tls.sh - codeq-api with tls_cert and tls_key: HTTPS served,
# plain HTTP on the same port refused; a key file that is missing stops
# it at start with the file named.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"
command -v openssl >/dev/null || skip "openssl not installed"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" >/dev/null 2>&1 ||
	fail "openssl could not make a certificate"
api_token p1 producer
start_api "tls_cert = $T_DIR/cert.pem
tls_key = $T_DIR/key.pem"
grep -q "tls=yes" "$T_DIR/api.log" || fail "not listening with TLS"
ST=$(curl -s -o "$T_DIR/body" -w '%{http_code}' --cacert "$T_DIR/cert.pem" \
	-H 'Authorization: Bearer secret-p1' --data-binary '{"command":"jobs"}' \
	"https://127.0.0.1:$API_PORT/v1/codeq/tasks")
assert_eq "create over HTTPS" 202 "$ST"
ST=$(curl -s -o /dev/null -w '%{http_code}' -m 5 \
	-H 'Authorization: Bearer secret-p1' "http://127.0.0.1:$API_PORT/v1/codeq/tasks/jobs:1" || true)
[ "$ST" != 200 ] || fail "plain HTTP answered on the TLS port"
ok "plain HTTP not served on the TLS port ($ST)"
stop_api

rm -f "$T_DIR/key.pem"
PORT=$(free_port)
printf '[store]\nurl = %s\n[api]\nlisten = 127.0.0.1:%s\ntokens_file = %s\ntls_cert = %s\ntls_key = %s\n' \
	"$REDIS_URL" "$PORT" "$API_TOKENS" "$T_DIR/cert.pem" "$T_DIR/key.pem" >"$T_DIR/bad.conf"
rc=0
"$CODEQ_API" --config "$T_DIR/bad.conf" >"$T_DIR/bad.log" 2>&1 || rc=$?
assert_eq "a missing key file: exit 78" 78 "$rc"
grep -q "key.pem" "$T_DIR/bad.log" || fail "the message does not name the file: $(cat "$T_DIR/bad.log")"
ok "the message names the key file"
