/*
 * jwt.c - the JWT bearer tokens of jwt.h.
 *
 * One algorithm, RS256, whatever the token's header asks: a token that
 * says "none", HS256 (which would verify with the public key as an HMAC
 * secret) or anything else is refused before any key is used, so no
 * algorithm confusion is possible.  The signature is checked before any
 * claim is read.  base64url is decoded strictly (the alphabet only, no
 * padding, unused bits zero), so one token has one text.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "codeq.h"
#include "jwt.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BYTES 2048	/* 16384-bit modulus */
#define JWT_QUEUES_MAX 256

static int
say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- base64url (RFC 4648 section 5) --------------------------------- */

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	return c == '_' ? 63 : -1;
}

/* s as bytes in *out (malloc'ed, NUL-terminated for the JSON parser).
 * -1: not strict unpadded base64url; -2: out of memory. */
static int
b64url_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *b;
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	*out = NULL;
	if (len % 4 == 1)
		return -1;
	if ((b = malloc(len / 4 * 3 + 3)) == NULL)
		return -2;
	for (i = 0; i < len; i++) {
		if ((v = b64url_value((unsigned char)s[i])) < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			b[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Set leftover bits would make a second text of the same bytes. */
	if (acc != 0)
		goto fail;
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
fail:
	free(b);
	return -1;
}

/* ---- The JWKS file -------------------------------------------------- */

static EVP_PKEY *
rsa_public(const unsigned char *n, size_t nlen, const unsigned char *e,
    size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)elen, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (bld == NULL || bn == NULL || be == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;	/* fromdata sets it on success only */
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

/* OpenSSL's own check of a public key (n odd, e odd and > 1...). */
static int
rsa_sane(EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	return ok && EVP_PKEY_get_bits(pkey) >= RSA_MIN_BITS;
}

/* A member of the key that must be base64url, decoded. */
static int
jwk_bytes(json_t *k, const char *name, unsigned char **out, size_t *len,
    char *why, size_t whylen)
{
	const char *s = json_string_value(json_object_get(k, name));
	int rc;

	if (s == NULL)
		return say(why, whylen, "%s: missing or not a string", name);
	if ((rc = b64url_decode(s, strlen(s), out, len)) == -2)
		return say(why, whylen, "out of memory");
	if (rc < 0 || *len == 0)
		return say(why, whylen, "%s: not base64url", name);
	if (*len > RSA_MAX_BYTES)
		return say(why, whylen, "%s: longer than %d bytes", name,
		    RSA_MAX_BYTES);
	return 0;
}

/* 1 when the key is not for RS256 signatures (another kty, alg or use):
 * a JWKS may hold those, and they are left out. */
static int
jwk_other(json_t *k)
{
	const char *kty = json_string_value(json_object_get(k, "kty"));
	const char *alg = json_string_value(json_object_get(k, "alg"));
	const char *use = json_string_value(json_object_get(k, "use"));

	return kty == NULL || strcmp(kty, "RSA") != 0 ||
	    (alg != NULL && strcmp(alg, "RS256") != 0) ||
	    (use != NULL && strcmp(use, "sig") != 0);
}

static int
jwk_load(json_t *k, struct jwt_key *out, char *why, size_t whylen)
{
	json_t *kid = json_object_get(k, "kid");
	unsigned char *n = NULL, *e = NULL;
	size_t nlen, elen;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0)) {
		say(why, whylen, "kid: not a non-empty string");
		goto fail;
	}
	if (jwk_bytes(k, "n", &n, &nlen, why, whylen) < 0 ||
	    jwk_bytes(k, "e", &e, &elen, why, whylen) < 0)
		goto fail;
	if ((out->pkey = rsa_public(n, nlen, e, elen)) == NULL) {
		say(why, whylen, "n and e do not make an RSA key");
		goto fail;
	}
	if (!rsa_sane(out->pkey)) {
		say(why, whylen, "not a valid RSA public key of %d bits or more",
		    RSA_MIN_BITS);
		goto fail;
	}
	if (kid != NULL && (out->kid = strdup(json_string_value(kid))) == NULL) {
		say(why, whylen, "out of memory");
		goto fail;
	}
	rc = 0;
fail:
	if (rc < 0) {
		EVP_PKEY_free(out->pkey);
		out->pkey = NULL;
	}
	ERR_clear_error();
	free(n);
	free(e);
	return rc;
}

static int
kid_taken(const struct jwt_keys *ks, const char *kid)
{
	size_t i;

	for (i = 0; kid != NULL && i < ks->n; i++)
		if (ks->v[i].kid != NULL && strcmp(ks->v[i].kid, kid) == 0)
			return 1;
	return 0;
}

static void
key_free(struct jwt_key *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->kid);
}

/* Each key of the array, the RS256 ones kept. */
static int
keys_add(json_t *keys, struct jwt_keys *out, char *why, size_t whylen)
{
	struct jwt_key key;
	char what[200];
	json_t *k;
	size_t i;

	if ((out->v = calloc(json_array_size(keys) + 1, sizeof(*out->v))) == NULL)
		return say(why, whylen, "out of memory");
	json_array_foreach(keys, i, k) {
		if (!json_is_object(k))
			return say(why, whylen, "keys[%zu]: not an object", i);
		if (jwk_other(k))
			continue;
		if (jwk_load(k, &key, what, sizeof(what)) < 0)
			return say(why, whylen, "keys[%zu]: %s", i, what);
		if (kid_taken(out, key.kid)) {
			say(why, whylen, "keys[%zu]: kid '%s' is already used", i,
			    key.kid);
			key_free(&key);
			return -1;
		}
		out->v[out->n++] = key;
	}
	if (out->n == 0)
		return say(why, whylen, "no RSA key for RS256 signatures "
		    "(kty RSA, alg RS256 or none, use sig or none)");
	return 0;
}

int
jwt_keys_load(const char *path, struct jwt_keys *out, char *err, size_t errlen)
{
	char why[300];
	json_error_t je;
	json_t *doc, *keys;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(err, errlen, "%s:%d: not a JWKS: %s", path, je.line,
		    je.text);
		return -1;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys))
		snprintf(why, sizeof(why), "not a JWKS: no \"keys\" array");
	else if (keys_add(keys, out, why, sizeof(why)) == 0)
		rc = 0;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		jwt_keys_free(out);
	}
	json_decref(doc);
	return rc;
}

void
jwt_keys_free(struct jwt_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		key_free(&k->v[i]);
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

/* ---- Verification --------------------------------------------------- */

int
jwt_shaped(const char *bearer, size_t len)
{
	const char *dot = memchr(bearer, '.', len), *second;

	if (dot == NULL)
		return 0;
	second = memchr(dot + 1, '.', len - (size_t)(dot + 1 - bearer));
	return second != NULL &&
	    memchr(second + 1, '.', len - (size_t)(second + 1 - bearer)) == NULL;
}

/* A segment of the token: base64url of a JSON object. */
static json_t *
segment_json(const char *s, size_t len)
{
	unsigned char *b;
	size_t n;
	json_t *j;

	if (b64url_decode(s, len, &b, &n) < 0)
		return NULL;
	j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, NULL);
	free(b);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* The key the header names, once it asks for RS256 and nothing we do
 * not understand. */
static const struct jwt_key *
header_key(const struct jwt_keys *k, json_t *hdr, char *why, size_t whylen)
{
	const char *alg = json_string_value(json_object_get(hdr, "alg"));
	json_t *kid = json_object_get(hdr, "kid");
	size_t i;

	if (alg == NULL || strcmp(alg, "RS256") != 0) {
		say(why, whylen, "token alg must be RS256");
		return NULL;
	}
	if (json_object_get(hdr, "crit") != NULL) {
		say(why, whylen, "token header has crit extensions");
		return NULL;
	}
	if (kid == NULL && k->n == 1)
		return &k->v[0];
	if (kid == NULL) {
		say(why, whylen, "token has no kid and the JWKS has several keys");
		return NULL;
	}
	for (i = 0; json_is_string(kid) && i < k->n; i++)
		if (k->v[i].kid != NULL &&
		    strcmp(k->v[i].kid, json_string_value(kid)) == 0)
			return &k->v[i];
	say(why, whylen, "unknown kid");
	return NULL;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 (OpenSSL's default padding for RSA)
 * of signed (the text "header.payload"). */
static int
signature_ok(const struct jwt_key *key, const char *sgn, size_t sgnlen,
    const char *s64, size_t s64len, char *why, size_t whylen)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *sig;
	size_t siglen;
	int rc = -1;

	if (b64url_decode(s64, s64len, &sig, &siglen) < 0)
		return say(why, whylen, "bad signature encoding");
	if (siglen != (size_t)EVP_PKEY_get_size(key->pkey)) {
		say(why, whylen, "bad signature");
		goto fail;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1) {
		say(why, whylen, "cannot verify the signature (OpenSSL)");
		goto fail;
	}
	if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)sgn,
	    sgnlen) != 1) {
		say(why, whylen, "bad signature");
		goto fail;
	}
	rc = 0;
fail:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(sig);
	return rc;
}

/* A NumericDate claim in ms: 1 present, 0 absent, -1 not a number. */
static int
claim_time(json_t *c, const char *name, double *ms, char *why, size_t whylen)
{
	json_t *v = json_object_get(c, name);

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return say(why, whylen, "%s is not a number", name);
	*ms = json_number_value(v) * 1000.0;
	return 1;
}

/* exp is required: a token without one would be good forever. */
static int
times_ok(json_t *c, int64_t now_ms, int64_t leeway_ms, char *why, size_t whylen)
{
	double now = (double)now_ms, lw = (double)leeway_ms, t = 0;
	int rc;

	if ((rc = claim_time(c, "exp", &t, why, whylen)) < 0)
		return -1;
	if (rc == 0)
		return say(why, whylen, "token has no exp");
	/* RFC 7519: valid only before exp. */
	if (now >= t + lw)
		return say(why, whylen, "expired token");
	if ((rc = claim_time(c, "nbf", &t, why, whylen)) < 0)
		return -1;
	if (rc > 0 && t > now + lw)
		return say(why, whylen, "token not valid yet (nbf)");
	if ((rc = claim_time(c, "iat", &t, why, whylen)) < 0)
		return -1;
	if (rc > 0 && t > now + lw)
		return say(why, whylen, "token issued in the future (iat)");
	return 0;
}

static int
audience_has(json_t *aud, const char *want)
{
	json_t *v;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return 1;
	return 0;
}

static int
policy_ok(const struct jwt_policy *p, json_t *c, int64_t now_ms, char *why,
    size_t whylen)
{
	const char *iss = json_string_value(json_object_get(c, "iss"));

	if (times_ok(c, now_ms, p->leeway_ms, why, whylen) < 0)
		return -1;
	if (p->issuer != NULL && (iss == NULL || strcmp(iss, p->issuer) != 0))
		return say(why, whylen, "wrong issuer");
	if (p->audience != NULL &&
	    !audience_has(json_object_get(c, "aud"), p->audience))
		return say(why, whylen, "wrong audience");
	return 0;
}

/* sub: the name, as a tokens file's (printable, no spaces). */
static int
take_sub(json_t *c, struct api_token *t, char *why, size_t whylen)
{
	const char *sub = json_string_value(json_object_get(c, "sub"));
	size_t i, n;

	if (sub == NULL || (n = strlen(sub)) == 0)
		return say(why, whylen, "token has no sub");
	if (n >= AUTH_NAME_MAX)
		return say(why, whylen, "sub longer than %d bytes",
		    AUTH_NAME_MAX - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)sub[i] <= ' ' || sub[i] == 0x7f)
			return say(why, whylen, "sub has spaces or control "
			    "characters");
	memcpy(t->name, sub, n + 1);
	return 0;
}

/* scope "a b c" (OAuth 2.0) and scp ["a", "b"]; unknown ones mean
 * nothing here (an identity provider's tokens carry others). */
static int
take_scopes(json_t *c, struct api_token *t, char *why, size_t whylen)
{
	json_t *scope = json_object_get(c, "scope"), *scp = json_object_get(c, "scp");
	const char *s, *end;
	json_t *v;
	size_t i;

	if (scope != NULL && !json_is_string(scope))
		return say(why, whylen, "scope is not a string");
	if (scp != NULL && !json_is_array(scp))
		return say(why, whylen, "scp is not an array");
	for (s = json_string_value(scope); s != NULL && *s; s = end) {
		s += strspn(s, " ");
		end = s + strcspn(s, " ");
		t->scopes |= auth_scope_parse(s, (size_t)(end - s));
	}
	json_array_foreach(scp, i, v)
		if (json_is_string(v))
			t->scopes |= auth_scope_parse(json_string_value(v),
			    json_string_length(v));
	return 0;
}

static int
add_queue(struct api_token *t, const char *q, char *why, size_t whylen)
{
	if (!codeq_queue_name_valid(q))
		return say(why, whylen, "queues: invalid queue name");
	if ((t->queues[t->nqueues] = strdup(q)) == NULL)
		return say(why, whylen, "out of memory");
	t->nqueues++;
	return 0;
}

/* queues ["a", "b"]: the only queues it may use; absent or holding "*":
 * every queue. */
static int
take_queues(json_t *c, struct api_token *t, char *why, size_t whylen)
{
	json_t *qs = json_object_get(c, "queues"), *v;
	size_t i;

	if (qs == NULL)
		return 0;
	if (!json_is_array(qs) || json_array_size(qs) == 0 ||
	    json_array_size(qs) > JWT_QUEUES_MAX)
		return say(why, whylen, "queues must be an array of 1-%d queue "
		    "names", JWT_QUEUES_MAX);
	json_array_foreach(qs, i, v)
		if (!json_is_string(v))
			return say(why, whylen, "queues must be an array of 1-%d "
			    "queue names", JWT_QUEUES_MAX);
	json_array_foreach(qs, i, v)
		if (strcmp(json_string_value(v), "*") == 0)
			return 0;
	if ((t->queues = calloc(json_array_size(qs), sizeof(char *))) == NULL)
		return say(why, whylen, "out of memory");
	json_array_foreach(qs, i, v)
		if (add_queue(t, json_string_value(v), why, whylen) < 0)
			return -1;
	return 0;
}

int
jwt_verify(const struct jwt_keys *k, const struct jwt_policy *p,
    const char *jwt, size_t len, int64_t now_ms, struct api_token *out,
    char *why, size_t whylen)
{
	const char *d1 = memchr(jwt, '.', len), *d2;
	json_t *hdr = NULL, *claims = NULL;
	const struct jwt_key *key;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > JWT_MAX || !jwt_shaped(jwt, len))
		return say(why, whylen, "not a JWT");
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt));
	if ((hdr = segment_json(jwt, (size_t)(d1 - jwt))) == NULL) {
		say(why, whylen, "bad token header (not base64url JSON)");
		goto fail;
	}
	if ((key = header_key(k, hdr, why, whylen)) == NULL ||
	    signature_ok(key, jwt, (size_t)(d2 - jwt), d2 + 1,
	    len - (size_t)(d2 + 1 - jwt), why, whylen) < 0)
		goto fail;
	if ((claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		say(why, whylen, "bad token payload (not base64url JSON)");
		goto fail;
	}
	if (policy_ok(p, claims, now_ms, why, whylen) < 0 ||
	    take_sub(claims, out, why, whylen) < 0 ||
	    take_scopes(claims, out, why, whylen) < 0 ||
	    take_queues(claims, out, why, whylen) < 0)
		goto fail;
	rc = 0;
fail:
	if (rc < 0)
		jwt_token_clear(out);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}

void
jwt_token_clear(struct api_token *t)
{
	size_t i;

	for (i = 0; i < t->nqueues; i++)
		free(t->queues[i]);
	free(t->queues);
	memset(t, 0, sizeof(*t));
}

/* ---- Rate-limit buckets per subject --------------------------------- */

#define NONE UINT32_MAX

struct subject {
	char name[AUTH_NAME_MAX];
	struct ratelimit rl;
	uint32_t hnext;		/* next of its hash chain */
	uint32_t prev, next;	/* the LRU list, most recent first */
};

struct jwt_subjects {
	struct subject *v;
	uint32_t *heads;	/* nheads hash chains */
	uint32_t n, max, nheads;
	uint32_t mru, lru;
};

struct jwt_subjects *
jwt_subjects_new(uint32_t max)
{
	struct jwt_subjects *s = calloc(1, sizeof(*s));
	uint32_t i;

	if (s == NULL || max == 0)
		goto fail;
	for (s->nheads = 1; s->nheads < 2 * max; s->nheads <<= 1)
		;
	if ((s->v = calloc(max, sizeof(*s->v))) == NULL ||
	    (s->heads = malloc(s->nheads * sizeof(*s->heads))) == NULL)
		goto fail;
	for (i = 0; i < s->nheads; i++)
		s->heads[i] = NONE;
	s->max = max;
	s->mru = s->lru = NONE;
	return s;
fail:
	jwt_subjects_free(s);
	return NULL;
}

void
jwt_subjects_free(struct jwt_subjects *s)
{
	if (s == NULL)
		return;
	free(s->v);
	free(s->heads);
	free(s);
}

uint32_t
jwt_subjects_count(const struct jwt_subjects *s)
{
	return s->n;
}

/* FNV-1a: subjects are chosen by the issuer, not by the client. */
static uint32_t
subject_hash(const struct jwt_subjects *s, const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h & (s->nheads - 1);
}

static void
lru_unlink(struct jwt_subjects *s, uint32_t i)
{
	struct subject *e = &s->v[i];

	if (e->prev != NONE)
		s->v[e->prev].next = e->next;
	else
		s->mru = e->next;
	if (e->next != NONE)
		s->v[e->next].prev = e->prev;
	else
		s->lru = e->prev;
}

static void
lru_push(struct jwt_subjects *s, uint32_t i)
{
	s->v[i].prev = NONE;
	s->v[i].next = s->mru;
	if (s->mru != NONE)
		s->v[s->mru].prev = i;
	s->mru = i;
	if (s->lru == NONE)
		s->lru = i;
}

/* The least recently used subject's slot, out of its chain and list. */
static uint32_t
evict(struct jwt_subjects *s)
{
	uint32_t i = s->lru, *p = &s->heads[subject_hash(s, s->v[i].name)];

	while (*p != i)
		p = &s->v[*p].hnext;
	*p = s->v[i].hnext;
	lru_unlink(s, i);
	return i;
}

struct ratelimit *
jwt_subject_bucket(struct jwt_subjects *s, const char *sub)
{
	uint32_t h = subject_hash(s, sub), i;

	for (i = s->heads[h]; i != NONE; i = s->v[i].hnext)
		if (strcmp(s->v[i].name, sub) == 0) {
			lru_unlink(s, i);
			lru_push(s, i);
			return &s->v[i].rl;
		}
	i = s->n < s->max ? s->n++ : evict(s);
	memset(&s->v[i], 0, sizeof(s->v[i]));
	snprintf(s->v[i].name, sizeof(s->v[i].name), "%s", sub);
	s->v[i].hnext = s->heads[h];
	s->heads[h] = i;
	lru_push(s, i);
	return &s->v[i].rl;
}
