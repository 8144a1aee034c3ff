/*
 * auth.c - the tokens file of auth.h.  Tokens are known only by their
 * SHA-256, so the file can be read by the service without holding any
 * secret, and a request's token is hashed and compared to every entry in
 * constant time (CRYPTO_memcmp): how long the lookup takes says nothing
 * about how close a guess was.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "codeq.h"

static const struct {
	const char *name;
	unsigned bit;
} scope_names[] = {
	{ "codeq:claim", AUTH_S_CLAIM },
	{ "codeq:heartbeat", AUTH_S_HEARTBEAT },
	{ "codeq:abandon", AUTH_S_ABANDON },
	{ "codeq:nack", AUTH_S_NACK },
	{ "codeq:result", AUTH_S_RESULT },
	{ "codeq:subscribe", AUTH_S_SUBSCRIBE },
	{ "producer", AUTH_S_PRODUCER },
	{ "admin", AUTH_S_ADMIN },
};

unsigned
auth_scope_parse(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
		if (strlen(scope_names[i].name) == len &&
		    memcmp(scope_names[i].name, s, len) == 0)
			return scope_names[i].bit;
	return 0;
}

struct tfile {
	const char *path;
	int line;
	char *err;
	size_t errlen;
};

static int
terr(struct tfile *f, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(f->err, f->errlen, "%s:%d: %s", f->path, f->line, what);
	return -1;
}

static int
parse_hash(struct tfile *f, const char *s, unsigned char out[32])
{
	unsigned v;
	size_t i;

	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
		return terr(f, "the first field must be the token's SHA-256 "
		    "in hex (64 digits): printf %%s TOKEN | sha256sum");
	for (i = 0; i < 32; i++) {
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int
parse_scopes(struct tfile *f, const char *s, unsigned *out)
{
	const char *p = s, *end;
	unsigned bit;

	*out = 0;
	for (; *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		if ((bit = auth_scope_parse(p, (size_t)(end - p))) == 0)
			return terr(f, "unknown scope '%.*s' (known: codeq:claim, "
			    "codeq:heartbeat, codeq:abandon, codeq:nack, "
			    "codeq:result, codeq:subscribe, producer, admin)",
			    (int)(end - p), p);
		*out |= bit;
	}
	return 0;
}

static int
parse_queues(struct tfile *f, char *s, struct api_token *t)
{
	char *tok, *save = NULL, **n;

	if (s == NULL || strcmp(s, "*") == 0)
		return 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!codeq_queue_name_valid(tok))
			return terr(f, "invalid queue name '%s'", tok);
		if ((n = realloc(t->queues, (t->nqueues + 1) * sizeof(*n))) == NULL)
			return terr(f, "out of memory");
		t->queues = n;
		if ((t->queues[t->nqueues] = strdup(tok)) == NULL)
			return terr(f, "out of memory");
		t->nqueues++;
	}
	return 0;
}

static void
token_free(struct api_token *t)
{
	size_t i;

	for (i = 0; i < t->nqueues; i++)
		free(t->queues[i]);
	free(t->queues);
	OPENSSL_cleanse(t->hash, sizeof(t->hash));
}

/* One non-comment line: hash name scopes [queues]. */
static int
parse_line(struct tfile *f, char *line, struct api_token *t)
{
	char *field[5], *save = NULL;
	int n = 0;

	memset(t, 0, sizeof(*t));
	/* A fifth field is read only to be refused. */
	while (n < 5 && (field[n] = strtok_r(n ? NULL : line, " \t", &save)))
		n++;
	if (n < 3 || n > 4)
		return terr(f, "expected: SHA256 NAME SCOPES [QUEUES]");
	if (strlen(field[1]) >= AUTH_NAME_MAX)
		return terr(f, "name longer than %d characters", AUTH_NAME_MAX - 1);
	snprintf(t->name, sizeof(t->name), "%s", field[1]);
	if (parse_hash(f, field[0], t->hash) < 0 ||
	    parse_scopes(f, field[2], &t->scopes) < 0 ||
	    parse_queues(f, n == 4 ? field[3] : NULL, t) < 0) {
		token_free(t);
		return -1;
	}
	return 0;
}

static int
add_line(struct tfile *f, struct api_tokens *out, char *line)
{
	struct api_token t, *n;
	size_t i;

	line[strcspn(line, "\r\n")] = '\0';
	line += strspn(line, " \t");
	if (*line == '\0' || *line == '#')
		return 0;
	if (parse_line(f, line, &t) < 0)
		return -1;
	for (i = 0; i < out->n; i++)
		if (memcmp(out->v[i].hash, t.hash, 32) == 0 ||
		    strcmp(out->v[i].name, t.name) == 0) {
			token_free(&t);
			return terr(f, "a token with this hash or name is "
			    "already listed");
		}
	if ((n = realloc(out->v, (out->n + 1) * sizeof(*n))) == NULL) {
		token_free(&t);
		return terr(f, "out of memory");
	}
	out->v = n;
	out->v[out->n++] = t;
	return 0;
}

int
auth_load(const char *path, struct api_tokens *out, char *err, size_t errlen)
{
	struct tfile f = { path, 0, err, errlen };
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && getline(&line, &cap, fp) > 0) {
		f.line++;
		rc = add_line(&f, out, line);
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	fclose(fp);
	free(line);
	if (rc < 0)
		auth_free(out);
	return rc;
}

void
auth_free(struct api_tokens *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		token_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

struct api_token *
auth_find(struct api_tokens *t, const char *bearer, size_t len)
{
	unsigned char h[32];
	struct api_token *found = NULL;
	size_t i;

	SHA256((const unsigned char *)bearer, len, h);
	/* Every entry is compared, a match or not. */
	for (i = 0; i < t->n; i++)
		if (CRYPTO_memcmp(h, t->v[i].hash, sizeof(h)) == 0)
			found = &t->v[i];
	OPENSSL_cleanse(h, sizeof(h));
	return found;
}

int
auth_allows(const struct api_token *tok, unsigned scopes)
{
	return (tok->scopes & AUTH_S_ADMIN) || (tok->scopes & scopes) != 0;
}

int
auth_queue_allowed(const struct api_token *tok, const char *queue)
{
	size_t i;

	if (tok->queues == NULL)
		return 1;
	for (i = 0; i < tok->nqueues; i++)
		if (strcmp(tok->queues[i], queue) == 0)
			return 1;
	return 0;
}
