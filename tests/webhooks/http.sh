#!/bin/sh
# tests/webhooks/http.sh: webhooks/http.c against a real HTTP server on loopback.
# Signatures verify in both schemes under an independent implementation
# (the sink's Python hmac); keep-alive reuses connections; statuses are
# classified; Retry-After is read; a hanging endpoint times out while
# another completes; the loopback policy refuses on the resolved address.
. "$top_srcdir/tests/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"

HTTPC="$top_builddir/tests/webhooks/httpc"
SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"$PYTHON3" "$top_srcdir/tests/webhooks/sink.py" --port-file "$T_DIR/port" \
	--log "$T_DIR/sink.jsonl" --secret "$SECRET" \
	--plan /hang=hang --plan /flaky=500,200 --plan /busy=429:7 \
	--plan /gone=404 --plan /moved=301 2>"$T_DIR/sink.log" &
t_track $!
wait_for 10 test -s "$T_DIR/port" || fail "sink did not start"
U="http://127.0.0.1:$(cat "$T_DIR/port")"

SINK_SECRET=$SECRET "$HTTPC" -l -t 1500 "$U/hang" "$U/ok" "$U/flaky" \
	"$U/flaky" "$U/busy" "$U/gone" "$U/moved" >"$T_DIR/out" ||
	fail "webhooks_httpc failed"
cat "$T_DIR/out"

line() { grep -n "^$U$1 " "$T_DIR/out" | head -n 1; }
assert_eq "/ok" "200 delivered" "$(line /ok | cut -d' ' -f2,3)"
assert_eq "/flaky answers" "2" "$(grep -c "^$U/flaky " "$T_DIR/out")"
grep -q "^$U/flaky 500 retry" "$T_DIR/out" || fail "500 not classified retry"
grep -q "^$U/flaky 200 delivered" "$T_DIR/out" || fail "second try not 200"
assert_eq "429 Retry-After" "429 retry 7000" "$(line /busy | cut -d' ' -f2-4)"
assert_eq "404" "404 permanent" "$(line /gone | cut -d' ' -f2,3)"
assert_eq "301 is not followed" "301 permanent" "$(line /moved | cut -d' ' -f2,3)"
assert_eq "hang" "0 retry" "$(line /hang | cut -d' ' -f2,3)"
# Completion order: the hanging request finished last, after its timeout.
assert_eq "hanging request completes last" "/hang" \
	"$(tail -n 1 "$T_DIR/out" | cut -d' ' -f1 | sed "s|^$U||")"
grep -q "timed out" "$T_DIR/out" || fail "no timeout reported"

# Both signature schemes verify on every request.
"$PYTHON3" - "$T_DIR/sink.jsonl" <<'PY' || fail "signature check"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in rs if not (r["std_ok"] and r["codeq_ok"])]
assert rs and not bad, bad
print("ok - %d requests, both signatures verify" % len(rs))
PY

# Keep-alive: 40 requests over at most max_per_host (4) connections.
: >"$T_DIR/sink.jsonl"
"$HTTPC" -l -n 40 "$U/ka" >"$T_DIR/out2"
assert_eq "keep-alive deliveries" "40" "$(grep -c ' 200 delivered' "$T_DIR/out2")"
conns=$("$PYTHON3" -c 'import json,sys
print(len({json.loads(l)["port"] for l in open(sys.argv[1])}))' "$T_DIR/sink.jsonl")
[ "$conns" -le 4 ] || fail "40 requests used $conns connections (max 4)"
ok "40 requests over $conns connection(s)"

# Policy: loopback refused unless allowed, before any byte is sent.
: >"$T_DIR/sink.jsonl"
"$HTTPC" "$U/ok" "http://localhost:$(cat "$T_DIR/port")/ok" >"$T_DIR/out3"
assert_eq "refused targets" "2" "$(grep -c ' 0 permanent -1 target refused by policy: loopback' "$T_DIR/out3")"
assert_eq "nothing reached the sink" "0" "$(wc -l <"$T_DIR/sink.jsonl" | tr -d ' ')"
