/*
 * auth.h - bearer tokens of codeq-api, from [api] tokens_file.
 *
 * The file holds one token a line, never the token itself:
 *
 *   # sha256-of-token                                                  name      scopes                      [queues]
 *   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  worker-1  codeq:claim,codeq:result  emails,sms
 *
 * The hash is the hex SHA-256 of the token's text (`printf %s TOKEN |
 * sha256sum`), optionally written "sha256:HEX".  Scopes are codeQ's
 * (codeq:claim, codeq:heartbeat, codeq:abandon, codeq:nack, codeq:result,
 * codeq:subscribe, producer, admin; admin allows everything).  Queues:
 * comma-separated queue names the token may use, or "*" (the default).
 */
#ifndef CODEQ_API_AUTH_H
#define CODEQ_API_AUTH_H

#include <stddef.h>

#include "ratelimit.h"

enum {
	AUTH_S_CLAIM = 1 << 0,
	AUTH_S_HEARTBEAT = 1 << 1,
	AUTH_S_ABANDON = 1 << 2,
	AUTH_S_NACK = 1 << 3,
	AUTH_S_RESULT = 1 << 4,
	AUTH_S_SUBSCRIBE = 1 << 5,
	AUTH_S_PRODUCER = 1 << 6,
	AUTH_S_ADMIN = 1 << 7,
	AUTH_S_ANY = 0xff,		/* any valid token (GET a task) */
};

#define AUTH_NAME_MAX 64

struct api_token {
	unsigned char hash[32];
	char name[AUTH_NAME_MAX];	/* the workerId of its claims */
	unsigned scopes;
	char **queues;			/* NULL: every queue */
	size_t nqueues;
	struct ratelimit rl;
};

struct api_tokens {
	struct api_token *v;
	size_t n;
};

/* Reads path.  -1 with "path:line: what is wrong" in err. */
int auth_load(const char *path, struct api_tokens *out, char *err,
    size_t errlen);
void auth_free(struct api_tokens *t);
/* The token whose hash is SHA-256(bearer), compared in constant time;
 * NULL if none. */
struct api_token *auth_find(struct api_tokens *t, const char *bearer,
    size_t len);
/* Non-zero when tok holds one of scopes (admin holds all). */
int auth_allows(const struct api_token *tok, unsigned scopes);
int auth_queue_allowed(const struct api_token *tok, const char *queue);
/* "codeq:claim" -> AUTH_S_CLAIM; 0 when unknown. */
unsigned auth_scope_parse(const char *s, size_t len);

#endif
