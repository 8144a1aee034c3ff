#!/bin/sh
# tests/api/jwt.sh - JWT bearers over real HTTP: keys made with the openssl
# command, the JWKS and RS256 tokens written by Python, codeq-api with
# jwks_file, jwt_issuer and jwt_audience.  A producer's JWT creates (202);
# an expired one, a forged one, alg none and a wrong audience are 401; a
# missing scope or queue 403; claims carry the subject as workerId, long
# polls too; the rate limit is the subject's, whichever of its tokens is
# used (429 with Retry-After); a bad JWKS stops it at startup, naming the
# file.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
command -v openssl >/dev/null || skip "openssl command not installed"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis
. "$top_srcdir/tests/api/lib.sh"

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$T_DIR/key.pem" 2>/dev/null || fail "openssl genpkey"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$T_DIR/other.pem" 2>/dev/null || fail "openssl genpkey"

cat >"$T_DIR/jwt.py" <<'EOF'
import base64, json, subprocess, sys, time

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

if sys.argv[1] == "jwks":
    # jwks KEY.pem KID: the public key as a JWKS.
    out = subprocess.run(["openssl", "rsa", "-in", sys.argv[2], "-noout",
                          "-modulus"], capture_output=True, check=True)
    n = bytes.fromhex(out.stdout.decode().strip().split("=", 1)[1])
    print(json.dumps({"keys": [{"kty": "RSA", "kid": sys.argv[3],
                                "n": b64(n), "e": "AQAB", "alg": "RS256",
                                "use": "sig"}]}))
else:
    # token KEY.pem KID CLAIMS [ALG]: exp, nbf, iat are relative to now.
    claims = json.loads(sys.argv[4])
    now = int(time.time())
    for k in ("exp", "nbf", "iat"):
        if k in claims:
            claims[k] += now
    alg = sys.argv[5] if len(sys.argv) > 5 else "RS256"
    h = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": sys.argv[3]}).encode())
    p = b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sys.argv[2]],
                         input=(h + "." + p).encode(), capture_output=True,
                         check=True).stdout
    print(h + "." + p + "." + (b64(sig) if alg == "RS256" else ""))
EOF
"$PYTHON3" "$T_DIR/jwt.py" jwks "$T_DIR/key.pem" k1 >"$T_DIR/jwks.json" ||
	fail "writing the JWKS"

# jwt SUB SCOPE [MORE-CLAIMS [KEY [ALG]]]: a token of the issuer and
# audience codeq-api wants, for an hour.
jwt() {
	"$PYTHON3" "$T_DIR/jwt.py" token "${4:-$T_DIR/key.pem}" k1 \
		"{\"sub\":\"$1\",\"scope\":\"$2\",\"iss\":\"https://idp.test/\",\"aud\":[\"x\",\"codeq\"],\"exp\":3600,\"iat\":0${3:+,$3}}" \
		${5:-} || fail "signing a token"
}

# jexpect WHAT STATUS METHOD PATH JWT [BODY]
jexpect() {
	what=$1 want=$2
	ST=$(curl -s -o "$T_DIR/body" -D "$T_DIR/headers" -w '%{http_code}' \
		-X "$3" -H "Authorization: Bearer $5" \
		-H 'Content-Type: application/json' \
		${6:+--data-binary "$6"} "$API_URL$4")
	[ "$ST" = "$want" ] || fail "$what: expected HTTP $want, got $ST: $(cat "$T_DIR/body")"
	ok "$what: $ST"
}

# A bad JWKS is a startup error naming the file.
echo '{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}' >"$T_DIR/bad.json"
API_PORT=$(free_port)
printf '[store]\nurl = %s\n[api]\nlisten = 127.0.0.1:%s\njwks_file = %s\n' \
	"$REDIS_URL" "$API_PORT" "$T_DIR/bad.json" >"$T_DIR/bad.conf"
rc=0
"$CODEQ_API" --config "$T_DIR/bad.conf" >"$T_DIR/bad.log" 2>&1 || rc=$?
assert_eq "a bad JWKS stops codeq-api" 78 "$rc"
grep -q "bad.json: keys\[0\]: not a valid RSA public key" "$T_DIR/bad.log" ||
	fail "the startup error does not name the JWKS: $(cat "$T_DIR/bad.log")"
ok "the startup error names the file and the key"

api_token p1 producer
start_api "jwks_file = $T_DIR/jwks.json
jwt_issuer = https://idp.test/
jwt_audience = codeq
rate_limit = 1
rate_burst = 4"

SHOP=$(jwt shop producer)
jexpect "create with a producer JWT" 202 POST /tasks "$SHOP" '{"command":"jobs","payload":{"n":1}}'
expect "an opaque token still works beside JWTs" 202 POST /tasks p1 '{"command":"jobs"}'

jexpect "expired" 401 POST /tasks "$(jwt shop producer '"exp":-120')" '{"command":"jobs"}'
assert_eq "expired says so" "expired token" "$(jf 'j["error"]')"
assert_eq "401 names the scheme" 'Bearer realm="codeq"' "$(header WWW-Authenticate)"
jexpect "within the leeway" 202 POST /tasks "$(jwt lately producer '"exp":-20')" '{"command":"jobs"}'
jexpect "signed by another key" 401 POST /tasks "$(jwt shop producer '' "$T_DIR/other.pem")" '{"command":"jobs"}'
assert_eq "bad signature says so" "bad signature" "$(jf 'j["error"]')"
jexpect "alg none" 401 POST /tasks "$(jwt shop producer '' "$T_DIR/key.pem" none)" '{"command":"jobs"}'
jexpect "wrong audience" 401 POST /tasks "$(jwt shop producer '"aud":"other"')" '{"command":"jobs"}'
assert_eq "wrong audience says so" "wrong audience" "$(jf 'j["error"]')"
jexpect "wrong issuer" 401 POST /tasks "$(jwt shop producer '"iss":"https://evil.test/"')" '{"command":"jobs"}'

jexpect "a producer cannot claim" 403 POST /tasks/claim "$SHOP" '{"commands":["jobs"]}'
MINE=$(jwt mine producer '"queues":["mine"]')
jexpect "queue not in the claim's list" 403 POST /tasks "$MINE" '{"command":"jobs"}'
jexpect "its own queue" 202 POST /tasks "$MINE" '{"command":"mine"}'

W=$(jwt remote-7 "codeq:claim codeq:result" '"queues":["jobs"]')
jexpect "claim with a worker JWT" 200 POST /tasks/claim "$W" '{"commands":["jobs"],"leaseSeconds":30}'
assert_eq "workerId is the subject" remote-7 "$(jf 'j["workerId"]')"
ID=$(jf 'j["id"]')
jexpect "result without a lease token: the subject owns the lease" 200 \
	POST "/tasks/$ID/result" "$W" '{"status":"COMPLETED","result":{"ok":true}}'
jexpect "the queue limit holds for claims" 403 POST /tasks/claim "$W" '{"commands":["mine"]}'

# A long poll keeps its JWT's identity while it is suspended.
W8=$(jwt remote-8 codeq:claim '"queues":["lp"]')
curl -s -o "$T_DIR/lp" -w '%{http_code}' -X POST -H "Authorization: Bearer $W8" \
	-H 'Content-Type: application/json' \
	--data-binary '{"commands":["lp"],"waitSeconds":10}' \
	"$API_URL/tasks/claim" >"$T_DIR/lp.st" &
LP=$!
sleep 0.5
jexpect "create while a JWT's claim waits" 202 POST /tasks "$SHOP" '{"command":"lp"}'
wait "$LP" || fail "the long poll's curl"
assert_eq "the long poll got it" 200 "$(cat "$T_DIR/lp.st")"
assert_eq "as its subject" remote-8 "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["workerId"])' "$T_DIR/lp")"

# The subject's bucket: 4 at once, then 1/s, whichever token it uses.
B1=$(jwt burst producer)
B2=$(jwt burst producer '"jti":"second"')	# made now: no refill meanwhile
for i in 1 2 3 4; do
	jexpect "burst $i" 202 POST /tasks "$B1" '{"command":"jobs"}'
done
jexpect "over the subject's burst" 429 POST /tasks "$B1" '{"command":"jobs"}'
[ -n "$(header Retry-After)" ] || fail "429 without Retry-After"
ok "429 has Retry-After: $(header Retry-After)"
jexpect "another token of the same subject" 429 POST /tasks "$B2" '{"command":"jobs"}'
jexpect "another subject has its own bucket" 202 POST /tasks "$SHOP" '{"command":"jobs"}'

if grep -q "$(echo "$SHOP" | cut -d. -f3 | cut -c1-40)" "$T_DIR/api.log"; then
	fail "a token is in the log"
fi
grep -q 'why="expired token"\|why=expired' "$T_DIR/api.log" ||
	fail "refusals are not logged with their reason"
ok "refusals logged with their reason, never the token"
stop_api
ok "stopped cleanly"
