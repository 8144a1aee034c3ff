/*
 * jwt.h - JWT bearer tokens of codeq-api (RFC 7519), signed RS256 only,
 * verified with the RSA keys of a JWKS file ([api] jwks_file, RFC 7517):
 *
 *   {"keys": [{"kty": "RSA", "kid": "k1", "n": "...", "e": "AQAB",
 *              "alg": "RS256", "use": "sig"}]}
 *
 * A verified token becomes a struct api_token (auth.h) that the request
 * owns: its `sub` is the name (the workerId of its claims), `scope`
 * (space-separated) or `scp` (an array) its scopes, `queues` (an array)
 * its queues.  docs/http-api.md has the rules.
 */
#ifndef CODEQ_API_JWT_H
#define CODEQ_API_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "auth.h"
#include "ratelimit.h"

#define JWT_SUBJECTS_MAX 4096	/* rate-limit buckets kept (LRU) */
#define JWT_MAX 16384		/* longer bearers are refused unread */

struct jwt_key {
	char *kid;		/* NULL: the key has none */
	EVP_PKEY *pkey;		/* RSA public key, 2048 bits or more */
};

struct jwt_keys {
	struct jwt_key *v;
	size_t n;
};

/* What the claims must say besides exp and sub. */
struct jwt_policy {
	const char *issuer;	/* iss must equal it; NULL: any */
	const char *audience;	/* aud must hold it; NULL: any */
	int64_t leeway_ms;	/* clock skew allowed on exp, nbf, iat */
};

/* Reads the JWKS at path.  -1 with "path: what is wrong" in err. */
int jwt_keys_load(const char *path, struct jwt_keys *out, char *err,
    size_t errlen);
void jwt_keys_free(struct jwt_keys *k);

/* Non-zero when bearer has the shape of a JWT: exactly two dots. */
int jwt_shaped(const char *bearer, size_t len);

/* Verifies jwt at now_ms (wall clock, ms since the epoch) and fills out
 * (name, scopes, queues; its rl is unused).  -1 with a reason fit for a
 * 401 answer in why ("expired token", "bad signature"...); out is then
 * empty.  Free out with jwt_token_clear. */
int jwt_verify(const struct jwt_keys *k, const struct jwt_policy *p,
    const char *jwt, size_t len, int64_t now_ms, struct api_token *out,
    char *why, size_t whylen);
void jwt_token_clear(struct api_token *t);

/*
 * The rate-limit buckets of JWT subjects.  A JWT's api_token lives only
 * as long as its request, so its bucket cannot: the bucket of each
 * subject lives here, up to max subjects, the least recently used one
 * forgotten (reset) to make room.  A bucket is touched only while a
 * request is authorized (server.c's authorize), never kept across a
 * suspension, so forgetting one can never pull it from under a request.
 */
struct jwt_subjects;

struct jwt_subjects *jwt_subjects_new(uint32_t max);
void jwt_subjects_free(struct jwt_subjects *s);
/* The bucket of sub, made (full) when new.  Valid until the next call. */
struct ratelimit *jwt_subject_bucket(struct jwt_subjects *s, const char *sub);
uint32_t jwt_subjects_count(const struct jwt_subjects *s);

#endif
