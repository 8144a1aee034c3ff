/*
 * sign.h - signatures on outgoing webhook requests.
 *
 * Two schemes are put on every request (docs/webhooks.md):
 *
 *  - Standard Webhooks: webhook-id, webhook-timestamp (Unix seconds) and
 *    webhook-signature "v1,<base64 HMAC-SHA256(key, id "." ts "." body)>",
 *    where key is the base64 decoding of the secret after its "whsec_"
 *    prefix.
 *  - codeQ's: X-CodeQ-Timestamp (Unix seconds) and X-CodeQ-Signature, the
 *    lowercase hex HMAC-SHA256(secret, ts "." body), keyed with the secret
 *    string exactly as configured (prefix included), as codeQ does.
 *
 * Secrets never leave this module's callers' memory: nothing here logs.
 */
#ifndef CODEQ_SIGN_H
#define CODEQ_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SIGN_KEY_MAX 256
#define SIGN_SECRET_MAX 512
/* "v1," + base64 of 32 bytes (44) + NUL */
#define SIGN_STD_MAX 48
/* 64 hex digits + NUL */
#define SIGN_HEX_MAX 65

struct sign_key {
	char secret[SIGN_SECRET_MAX];	/* as configured, for the codeQ scheme */
	size_t secret_len;
	unsigned char key[SIGN_KEY_MAX];	/* decoded whsec_ key (Standard) */
	size_t key_len;
};

/* Parses a secret ("whsec_<base64>"; a secret without the prefix is used
 * as raw bytes for both schemes).  Surrounding blanks and a trailing
 * newline (from a file) are dropped.  Returns 0, or -1 with err set. */
int sign_key_parse(const char *secret, struct sign_key *k, char *err,
    size_t errlen);

/* Reads a secret from a file (first line) or an environment variable. */
int sign_key_from_file(const char *path, struct sign_key *k, char *err,
    size_t errlen);
int sign_key_from_env(const char *name, struct sign_key *k, char *err,
    size_t errlen);

/* Zeroes the key material. */
void sign_key_clear(struct sign_key *k);

/* out: "v1,<base64>" over id "." ts "." body. */
int sign_standard(const struct sign_key *k, const char *id, int64_t ts,
    const char *body, size_t len, char out[SIGN_STD_MAX]);
/* out: hex over ts "." body. */
int sign_codeq(const struct sign_key *k, int64_t ts, const char *body,
    size_t len, char out[SIGN_HEX_MAX]);

/* Helpers shared with the tests. */
int sign_base64_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen);
/* Returns the decoded length, or -1 on bad input or a short buffer. */
int sign_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen);

#endif
