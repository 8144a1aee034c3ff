/* tests/unit/api_jwt.c - api/jwt.c with real RSA keys: the test makes
 * two 2048-bit keys, writes their JWKS, signs its own tokens with
 * EVP_DigestSign and checks what jwt_verify accepts and refuses (and
 * why), the JWKS file's errors, and the subjects' LRU table. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "unit.h"
#include "jwt.h"

#define NOW_MS 1700000000000LL
#define NOW 1700000000LL

static EVP_PKEY *key1, *key2;	/* made once, before the tests fork */
static char path[128], why[256];
static struct jwt_keys keys;
static struct jwt_policy pol = { NULL, NULL, 60000 };
static struct api_token tok;

static void
b64url(const unsigned char *b, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
		    (i + 2 < n ? b[i + 2] : 0);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = a[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

/* "n" or "e" of key, base64url, into out. */
static void
key_param(EVP_PKEY *k, const char *name, char *out)
{
	unsigned char bin[1024];
	BIGNUM *bn = NULL;
	int n;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	n = BN_bn2bin(bn, bin);
	BN_free(bn);
	b64url(bin, (size_t)n, out);
}

static void
jwk(EVP_PKEY *k, const char *kid, char *out, size_t len)
{
	char n[1400], e[16];

	key_param(k, OSSL_PKEY_PARAM_RSA_N, n);
	key_param(k, OSSL_PKEY_PARAM_RSA_E, e);
	snprintf(out, len, "{\"kty\":\"RSA\",%s%s%s\"n\":\"%s\",\"e\":\"%s\","
	    "\"alg\":\"RS256\",\"use\":\"sig\"}", kid ? "\"kid\":\"" : "",
	    kid ? kid : "", kid ? "\"," : "", n, e);
}

static int
load_text(const char *text, char *err, size_t errlen)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/api_jwt.%d",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	jwt_keys_free(&keys);
	return jwt_keys_load(path, &keys, err, errlen);
}

/* The JWKS of key1 ("k1") and, when both, key2 ("k2"). */
static void
load_jwks(int both, const char *kid1)
{
	char j1[2000], j2[2000], text[4200], err[512];

	jwk(key1, kid1, j1, sizeof(j1));
	jwk(key2, "k2", j2, sizeof(j2));
	snprintf(text, sizeof(text), "{\"keys\":[%s%s%s]}", j1, both ? "," : "",
	    both ? j2 : "");
	ck_assert_msg(load_text(text, err, sizeof(err)) == 0, "%s", err);
}

static void
setup(void)
{
	load_jwks(1, "k1");
}

static void
teardown(void)
{
	jwt_keys_free(&keys);
	jwt_token_clear(&tok);
	unlink(path);
}

/* h64.p64 (already encoded) signed RS256 with k: the compact text. */
static char *
sign_raw(EVP_PKEY *k, const char *h64, const char *p64)
{
	size_t siglen = 512;
	unsigned char sig[512];
	char *t = malloc(strlen(h64) + strlen(p64) + 4 * siglen / 3 + 8);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	ck_assert_ptr_nonnull(t);
	sprintf(t, "%s.%s", h64, p64);
	ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
	ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen,
	    (const unsigned char *)t, strlen(t)), 1);
	EVP_MD_CTX_free(md);
	strcat(t, ".");
	b64url(sig, siglen, t + strlen(t));
	return t;
}

/* header.payload (JSON texts) signed RS256 with k (malloc'ed). */
static char *
sign(EVP_PKEY *k, const char *header, const char *payload)
{
	char h[1000], p[1000];

	ck_assert_uint_lt(strlen(header), 700);
	ck_assert_uint_lt(strlen(payload), 700);
	b64url((const unsigned char *)header, strlen(header), h);
	b64url((const unsigned char *)payload, strlen(payload), p);
	return sign_raw(k, h, p);
}

/* jwt_verify of text; its why stays in why. */
static int
verify(const char *text)
{
	jwt_token_clear(&tok);
	why[0] = '\0';
	return jwt_verify(&keys, &pol, text, strlen(text), NOW_MS, &tok, why,
	    sizeof(why));
}

/* Signs with key1 as k1 and verifies: 0 or -1. */
static int
check_claims(const char *payload)
{
	char *t = sign(key1, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
	    payload);
	int rc = verify(t);

	free(t);
	return rc;
}

#define refused(payload, reason) do {					\
	ck_assert_int_eq(check_claims(payload), -1);			\
	ck_assert_str_eq(why, reason);					\
} while (0)

#define EXP "\"exp\":1700000600"

START_TEST(valid)
{
	ck_assert_int_eq(check_claims("{\"sub\":\"worker-7\"," EXP ","
	    "\"scope\":\"codeq:claim  codeq:result openid\","
	    "\"queues\":[\"emails\",\"sms\"]}"), 0);
	ck_assert_str_eq(tok.name, "worker-7");
	ck_assert_uint_eq(tok.scopes, AUTH_S_CLAIM | AUTH_S_RESULT);
	ck_assert_uint_eq(tok.nqueues, 2);
	ck_assert(auth_queue_allowed(&tok, "sms"));
	ck_assert(!auth_queue_allowed(&tok, "other"));
	/* scp, and no queues: every queue. */
	ck_assert_int_eq(check_claims("{\"sub\":\"shop\"," EXP ","
	    "\"scp\":[\"producer\",\"unknown\",7]}"), 0);
	ck_assert_uint_eq(tok.scopes, AUTH_S_PRODUCER);
	ck_assert_ptr_null(tok.queues);
	ck_assert(auth_queue_allowed(&tok, "anything"));
	ck_assert_int_eq(check_claims("{\"sub\":\"a\"," EXP ",\"queues\":[\"*\"]}"), 0);
	ck_assert_ptr_null(tok.queues);
	ck_assert_uint_eq(tok.scopes, 0);
}
END_TEST

START_TEST(times)
{
	refused("{\"sub\":\"w\",\"exp\":1699999900}", "expired token");
	refused("{\"sub\":\"w\"}", "token has no exp");
	refused("{\"sub\":\"w\",\"exp\":\"tomorrow\"}", "exp is not a number");
	/* 30 s late, 30 s early: within the 60 s leeway. */
	ck_assert_int_eq(check_claims("{\"sub\":\"w\",\"exp\":1699999970,"
	    "\"nbf\":1700000030,\"iat\":1700000030}"), 0);
	refused("{\"sub\":\"w\"," EXP ",\"nbf\":1700000100}",
	    "token not valid yet (nbf)");
	refused("{\"sub\":\"w\"," EXP ",\"iat\":1700000100}",
	    "token issued in the future (iat)");
	pol.leeway_ms = 0;
	refused("{\"sub\":\"w\",\"exp\":1699999970}", "expired token");
	refused("{\"sub\":\"w\",\"exp\":1700000000}", "expired token");
	ck_assert_int_eq(check_claims("{\"sub\":\"w\",\"exp\":1700000000.5}"), 0);
	pol.leeway_ms = 60000;
}
END_TEST

START_TEST(issuer_audience)
{
	pol.issuer = "https://idp.example.com/";
	pol.audience = "codeq";
	ck_assert_int_eq(check_claims("{\"sub\":\"w\"," EXP ",\"iss\":"
	    "\"https://idp.example.com/\",\"aud\":\"codeq\"}"), 0);
	ck_assert_int_eq(check_claims("{\"sub\":\"w\"," EXP ",\"iss\":"
	    "\"https://idp.example.com/\",\"aud\":[\"other\",\"codeq\"]}"), 0);
	refused("{\"sub\":\"w\"," EXP ",\"iss\":\"https://evil.example.com/\","
	    "\"aud\":\"codeq\"}", "wrong issuer");
	refused("{\"sub\":\"w\"," EXP ",\"aud\":\"codeq\"}", "wrong issuer");
	refused("{\"sub\":\"w\"," EXP ",\"iss\":\"https://idp.example.com/\","
	    "\"aud\":\"codeqx\"}", "wrong audience");
	refused("{\"sub\":\"w\"," EXP ",\"iss\":\"https://idp.example.com/\","
	    "\"aud\":[\"other\"]}", "wrong audience");
	refused("{\"sub\":\"w\"," EXP ",\"iss\":\"https://idp.example.com/\"}",
	    "wrong audience");
	pol.issuer = pol.audience = NULL;
}
END_TEST

START_TEST(subject_queues)
{
	refused("{" EXP "}", "token has no sub");
	refused("{\"sub\":\"\"," EXP "}", "token has no sub");
	refused("{\"sub\":7," EXP "}", "token has no sub");
	refused("{\"sub\":\"a b\"," EXP "}", "sub has spaces or control characters");
	refused("{\"sub\":\"" "0123456789012345678901234567890123456789"
	    "012345678901234567890123\"," EXP "}", "sub longer than 63 bytes");
	refused("{\"sub\":\"w\"," EXP ",\"queues\":[]}",
	    "queues must be an array of 1-256 queue names");
	refused("{\"sub\":\"w\"," EXP ",\"queues\":\"a\"}",
	    "queues must be an array of 1-256 queue names");
	refused("{\"sub\":\"w\"," EXP ",\"queues\":[\"a b\"]}",
	    "queues: invalid queue name");
	refused("{\"sub\":\"w\"," EXP ",\"scope\":[\"producer\"]}",
	    "scope is not a string");
	/* A refused token holds nothing. */
	ck_assert_ptr_null(tok.queues);
	ck_assert_str_eq(tok.name, "");
}
END_TEST

START_TEST(algorithms)
{
	const char *p = "{\"sub\":\"w\"," EXP ",\"scope\":\"admin\"}";
	unsigned char mac[32];
	unsigned maclen = sizeof(mac);
	char h[200], pl[200], t[600], m[64];

	/* alg none, with or without a signature. */
	b64url((const unsigned char *)"{\"alg\":\"none\"}", 14, h);
	b64url((const unsigned char *)p, strlen(p), pl);
	snprintf(t, sizeof(t), "%s.%s.", h, pl);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "token alg must be RS256");
	/* HS256: a verifier that took the header's word would key the HMAC
	 * with what it holds -- the public key. */
	b64url((const unsigned char *)"{\"alg\":\"HS256\",\"kid\":\"k1\"}", 26, h);
	snprintf(t, sizeof(t), "%s.%s", h, pl);
	HMAC(EVP_sha256(), "k1", 2, (unsigned char *)t, strlen(t), mac,
	    &maclen);
	b64url(mac, maclen, m);
	strcat(t, ".");
	strcat(t, m);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "token alg must be RS256");
	b64url((const unsigned char *)"{\"kid\":\"k1\"}", 12, h);
	snprintf(t, sizeof(t), "%s.%s.", h, pl);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "token alg must be RS256");
	/* crit extensions we do not know. */
	{
		char *s = sign(key1, "{\"alg\":\"RS256\",\"kid\":\"k1\","
		    "\"crit\":[\"exp\"]}", p);

		ck_assert_int_eq(verify(s), -1);
		ck_assert_str_eq(why, "token header has crit extensions");
		free(s);
	}
}
END_TEST

START_TEST(signatures)
{
	const char *p = "{\"sub\":\"w\"," EXP ",\"scope\":\"producer\"}";
	const char *evil = "{\"sub\":\"w\"," EXP ",\"scope\":\"admin\"}";
	char *t = sign(key1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p), *d, *s;
	char pl[200], forged[2000];

	ck_assert_int_eq(verify(t), 0);
	/* Another payload under the same signature. */
	d = strchr(t, '.');
	s = strchr(d + 1, '.');
	b64url((const unsigned char *)evil, strlen(evil), pl);
	snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(d - t), t, pl, s);
	ck_assert_int_eq(verify(forged), -1);
	ck_assert_str_eq(why, "bad signature");
	/* Another character in the signature. */
	snprintf(forged, sizeof(forged), "%s", t);
	d = &forged[strlen(forged) - 5];
	*d = *d == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify(forged), -1);
	ck_assert_str_eq(why, "bad signature");
	/* A signature one byte short: 256 bytes are 342 characters, the
	 * first 255 bytes 340 of them. */
	snprintf(forged, sizeof(forged), "%s", t);
	forged[strlen(forged) - 2] = '\0';
	ck_assert_int_eq(verify(forged), -1);
	ck_assert_str_eq(why, "bad signature");
	free(t);
	/* Signed by key2, claiming k1. */
	t = sign(key2, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "bad signature");
	free(t);
	t = sign(key2, "{\"alg\":\"RS256\",\"kid\":\"k2\"}", p);
	ck_assert_int_eq(verify(t), 0);
	free(t);
}
END_TEST

START_TEST(kids)
{
	const char *p = "{\"sub\":\"w\"," EXP "}";
	char *t = sign(key1, "{\"alg\":\"RS256\",\"kid\":\"k9\"}", p);

	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "unknown kid");
	free(t);
	t = sign(key1, "{\"alg\":\"RS256\"}", p);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "token has no kid and the JWKS has several keys");
	/* One key, without a kid of its own: a token without kid uses it. */
	load_jwks(0, NULL);
	ck_assert_int_eq(verify(t), 0);
	free(t);
	t = sign(key1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", p);
	ck_assert_int_eq(verify(t), -1);
	ck_assert_str_eq(why, "unknown kid");
	free(t);
}
END_TEST

START_TEST(encoding)
{
	char *t = sign(key1, "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
	    "{\"sub\":\"w\"," EXP "}");
	char bad[2000], *d = strchr(t, '.'), *s = strchr(d + 1, '.');

	ck_assert(jwt_shaped(t, strlen(t)));
	ck_assert(!jwt_shaped("a.b", 3));
	ck_assert(!jwt_shaped("a.b.c.d", 7));
	ck_assert(!jwt_shaped("opaque-token", 12));
	/* Padding, standard base64's '+', a character outside both. */
	snprintf(bad, sizeof(bad), "%.*s=%s", (int)(s - t), t, s);
	ck_assert_int_eq(verify(bad), -1);
	ck_assert_str_eq(why, "bad signature");
	{
		/* Signed, but padded: the payload is refused. */
		char h[200], p[200], *u;

		b64url((const unsigned char *)"{\"alg\":\"RS256\",\"kid\":\"k1\"}",
		    26, h);
		b64url((const unsigned char *)"{\"sub\":\"w\"," EXP "}",
		    strlen("{\"sub\":\"w\"," EXP "}"), p);
		strcat(p, "==");
		u = sign_raw(key1, h, p);
		ck_assert_int_eq(verify(u), -1);
		ck_assert_str_eq(why, "bad token payload (not base64url JSON)");
		free(u);
		u = sign_raw(key1, h, "bm90IGpzb24");	/* "not json" */
		ck_assert_int_eq(verify(u), -1);
		ck_assert_str_eq(why, "bad token payload (not base64url JSON)");
		free(u);
		u = sign_raw(key1, h, "WzFd");	/* [1] */
		ck_assert_int_eq(verify(u), -1);
		ck_assert_str_eq(why, "bad token payload (not base64url JSON)");
		free(u);
	}
	snprintf(bad, sizeof(bad), "+%s", t + 1);
	ck_assert_int_eq(verify(bad), -1);
	ck_assert_str_eq(why, "bad token header (not base64url JSON)");
	snprintf(bad, sizeof(bad), "%s*", t);
	ck_assert_int_eq(verify(bad), -1);
	ck_assert_str_eq(why, "bad signature encoding");
	/* Unused low bits set: another text of the same signature. */
	snprintf(bad, sizeof(bad), "%s", t);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' :
	    bad[strlen(bad) - 1] == 'Q' ? 'R' : bad[strlen(bad) - 1] == 'g' ?
	    'h' : 'x';
	ck_assert_int_eq(verify(bad), -1);
	ck_assert_str_eq(why, "bad signature encoding");
	ck_assert_int_eq(verify("a.b.c"), -1);
	ck_assert_str_eq(why, "bad token header (not base64url JSON)");
	free(t);
}
END_TEST

#define assert_jwks_error(text, suffix) do {				\
	char err_[512], want_[512];					\
	ck_assert_int_eq(load_text(text, err_, sizeof(err_)), -1);	\
	snprintf(want_, sizeof(want_), "%s%s", path, suffix);		\
	ck_assert_str_eq(err_, want_);					\
} while (0)

START_TEST(jwks_errors)
{
	EVP_PKEY *small = EVP_RSA_gen(1024);
	char j1[2000], j2[2000], text[4200];

	assert_jwks_error("{\"keys\":", ":1: not a JWKS: unexpected token "
	    "near end of file");
	assert_jwks_error("{\"kty\":\"RSA\"}", ": not a JWKS: no \"keys\" array");
	assert_jwks_error("{\"keys\":[]}", ": no RSA key for RS256 signatures "
	    "(kty RSA, alg RS256 or none, use sig or none)");
	assert_jwks_error("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"},"
	    "{\"kty\":\"RSA\",\"use\":\"enc\"}]}", ": no RSA key for RS256 "
	    "signatures (kty RSA, alg RS256 or none, use sig or none)");
	assert_jwks_error("{\"keys\":[7]}", ": keys[0]: not an object");
	assert_jwks_error("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\"}]}",
	    ": keys[0]: n: missing or not a string");
	assert_jwks_error("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"a+b\",\"e\":\"AQAB\"}]}",
	    ": keys[0]: n: not base64url");
	assert_jwks_error("{\"keys\":[{\"kty\":\"RSA\",\"kid\":3,\"n\":\"AQAB\","
	    "\"e\":\"AQAB\"}]}", ": keys[0]: kid: not a non-empty string");
	assert_jwks_error("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
	    ": keys[0]: not a valid RSA public key of 2048 bits or more");
	ck_assert_ptr_nonnull(small);
	jwk(small, "s", j1, sizeof(j1));
	snprintf(text, sizeof(text), "{\"keys\":[%s]}", j1);
	assert_jwks_error(text, ": keys[0]: not a valid RSA public key of 2048 "
	    "bits or more");
	EVP_PKEY_free(small);
	jwk(key1, "k1", j1, sizeof(j1));
	jwk(key2, "k1", j2, sizeof(j2));
	snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"EC\"},%s,%s]}", j1, j2);
	assert_jwks_error(text, ": keys[2]: kid 'k1' is already used");
	/* Other keys beside an RSA one are left out. */
	snprintf(text, sizeof(text), "{\"keys\":[{\"kty\":\"EC\"},%s]}", j1);
	ck_assert_int_eq(load_text(text, why, sizeof(why)), 0);
	ck_assert_uint_eq(keys.n, 1);
}
END_TEST

START_TEST(subjects)
{
	struct jwt_subjects *s = jwt_subjects_new(2);
	struct ratelimit *a;

	ck_assert_ptr_nonnull(s);
	a = jwt_subject_bucket(s, "a");
	ck_assert_int_eq(ratelimit_take(a, 1, 1, 1000), 0);
	ck_assert_int_gt(ratelimit_take(jwt_subject_bucket(s, "a"), 1, 1, 1001), 0);
	(void)jwt_subject_bucket(s, "b");
	(void)jwt_subject_bucket(s, "a");	/* a is the most recent */
	(void)jwt_subject_bucket(s, "c");	/* b goes */
	ck_assert_uint_eq(jwt_subjects_count(s), 2);
	/* a kept its empty bucket; b comes back with a full one. */
	ck_assert_int_gt(ratelimit_take(jwt_subject_bucket(s, "a"), 1, 1, 1002), 0);
	(void)jwt_subject_bucket(s, "b");	/* c goes */
	ck_assert_int_eq(ratelimit_take(jwt_subject_bucket(s, "c"), 1, 1, 1003), 0);
	jwt_subjects_free(s);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = { valid, times, issuer_audience,
	    subject_queues, algorithms, signatures, kids, encoding, jwks_errors,
	    subjects };
	int rc;

	key1 = EVP_RSA_gen(2048);
	key2 = EVP_RSA_gen(2048);
	if (key1 == NULL || key2 == NULL)
		return EXIT_FAILURE;
	rc = unit_run_fixture("api_jwt", tests, sizeof(tests) / sizeof(tests[0]),
	    setup, teardown, 30);
	EVP_PKEY_free(key1);
	EVP_PKEY_free(key2);
	return rc;
}
