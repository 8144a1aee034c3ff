/*
 * shardmap.c: the shard map (shardmap.h): building and checking it from
 * codeq_options, and routing queues and keys.  Pure code: no I/O.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardmap.h"
#include "store.h"	/* cq_err */

static int
is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* A glob may use the characters of queue names and fnmatch's *?[]!^;
 * every '[' needs its ']' (an unclosed one would match a literal '['
 * that no queue name has: surely a typo). */
static int
glob_valid(const char *s)
{
	const char *p;
	size_t n = strlen(s);

	if (n == 0 || n > 200 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-*?[]!^") != n)
		return 0;
	for (p = s; (p = strchr(p, '[')) != NULL; p++)
		if (strchr(p + 1, ']') == NULL)
			return 0;
	return 1;
}

static char *
dup_or_null(const char *s, int *nomem)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*nomem = 1;
	return d;
}

/* The checks of one shard's name and URL against those before it. */
static int
check_shard(const struct codeq_shard *s, size_t i,
    const struct codeq_shard *all, codeq_error *err)
{
	size_t j;

	if (s->name == NULL || s->name[0] == '\0')
		return cq_err(err, CODEQ_EINVAL, "shard %zu: no name", i + 1);
	if (strcmp(s->name, SHARDMAP_HOME) == 0)
		return cq_err(err, CODEQ_EINVAL, "shard '%s': the name is the "
		    "home store's", s->name);
	if (!codeq_queue_name_valid(s->name))
		return cq_err(err, CODEQ_EINVAL, "shard '%.100s': a name is "
		    "1-100 characters of [A-Za-z0-9_.-]", s->name);
	for (j = 0; j < i; j++)
		if (strcmp(all[j].name, s->name) == 0)
			return cq_err(err, CODEQ_EINVAL, "shard '%s' is "
			    "defined twice", s->name);
	if (s->url == NULL || s->url[0] == '\0')
		return cq_err(err, CODEQ_EINVAL, "shard '%s': no url",
		    s->name);
	return CODEQ_OK;
}

/* The map keeps its own copy of q: the caller's options may be freed
 * once codeq_connect returns. */
static int
add_rule(struct shardmap *m, const char *q, size_t store, codeq_error *err)
{
	char *own;
	size_t i;

	if (is_glob(q)) {
		if (!glob_valid(q))
			return cq_err(err, CODEQ_EINVAL, "shard '%s': invalid "
			    "queue pattern '%.100s'", m->names[store], q);
		if ((own = strdup(q)) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		m->globs[m->nglobs].queue = own;
		m->globs[m->nglobs++].store = store;
		return CODEQ_OK;
	}
	if (!codeq_queue_name_valid(q))
		return cq_err(err, CODEQ_EINVAL, "shard '%s': invalid queue "
		    "name '%.100s'", m->names[store], q);
	for (i = 0; i < m->nexact; i++)
		if (strcmp(m->exact[i].queue, q) == 0)
			return cq_err(err, CODEQ_EINVAL, "queue '%s' is "
			    "claimed by shards %s and %s", q,
			    m->names[m->exact[i].store], m->names[store]);
	if ((own = strdup(q)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	m->exact[m->nexact].queue = own;
	m->exact[m->nexact++].store = store;
	return CODEQ_OK;
}

static int
add_shard(struct shardmap *m, const struct codeq_shard *s, size_t store,
    codeq_error *err)
{
	int nomem = 0, code;
	size_t k;

	m->names[store] = dup_or_null(s->name, &nomem);
	m->urls[store] = dup_or_null(s->url, &nomem);
	m->passwords[store] = dup_or_null(s->password, &nomem);
	if (nomem)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	for (k = 0; k < s->nqueues; k++) {
		if (s->queues[k] == NULL)
			return cq_err(err, CODEQ_EINVAL, "shard '%s': queue "
			    "%zu is NULL", s->name, k + 1);
		if ((code = add_rule(m, s->queues[k], store, err)) != CODEQ_OK)
			return code;
	}
	return CODEQ_OK;
}

static int
alloc_map(struct shardmap *m, const struct codeq_shard *shards, size_t n)
{
	size_t i, nrules = 0;

	for (i = 0; i < n; i++)
		nrules += shards[i].nqueues;
	m->nstores = n + 1;
	m->names = calloc(n + 1, sizeof(*m->names));
	m->urls = calloc(n + 1, sizeof(*m->urls));
	m->passwords = calloc(n + 1, sizeof(*m->passwords));
	m->exact = calloc(nrules + 1, sizeof(*m->exact));
	m->globs = calloc(nrules + 1, sizeof(*m->globs));
	if (m->names == NULL || m->urls == NULL || m->passwords == NULL ||
	    m->exact == NULL || m->globs == NULL)
		return -1;
	return (m->names[0] = strdup(SHARDMAP_HOME)) == NULL ? -1 : 0;
}

int
shardmap_build(struct shardmap **out, const struct codeq_shard *shards,
    size_t n, int hash, codeq_error *err)
{
	struct shardmap *m;
	size_t i;
	int code;

	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL || alloc_map(m, shards, n)) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	m->hash = hash != 0;
	for (i = 0; i < n; i++) {
		if ((code = check_shard(&shards[i], i, shards, err)) != CODEQ_OK ||
		    (code = add_shard(m, &shards[i], i + 1, err)) != CODEQ_OK)
			goto fail;
	}
	*out = m;
	return CODEQ_OK;
fail:
	shardmap_free(m);
	return code;
}

void
shardmap_free(struct shardmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; m->names != NULL && i < m->nstores; i++) {
		free(m->names[i]);
		if (m->urls != NULL)
			free(m->urls[i]);
		if (m->passwords != NULL && m->passwords[i] != NULL) {
			explicit_bzero(m->passwords[i], strlen(m->passwords[i]));
			free(m->passwords[i]);
		}
	}
	free(m->names);
	free(m->urls);
	free(m->passwords);
	for (i = 0; m->exact != NULL && i < m->nexact; i++)
		free((char *)m->exact[i].queue);
	for (i = 0; m->globs != NULL && i < m->nglobs; i++)
		free((char *)m->globs[i].queue);
	free(m->exact);
	free(m->globs);
	free(m);
}

/* FNV-1a 64 of name, '\0', queue, then splitmix64's finalizer: FNV alone
 * mixes the last bytes poorly, and queue names often differ only there
 * ("jobs-1", "jobs-2"). */
uint64_t
shardmap_weight(const char *name, const char *queue)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ 0) * 0x100000001b3ULL;
	for (p = (const unsigned char *)queue; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static size_t
rendezvous(const struct shardmap *m, const char *queue)
{
	uint64_t w, best = 0;
	size_t i, store = 0;

	for (i = 0; i < m->nstores; i++) {
		w = shardmap_weight(m->names[i], queue);
		if (i == 0 || w > best) {	/* a tie keeps the lower index */
			best = w;
			store = i;
		}
	}
	return store;
}

size_t
shardmap_route(const struct shardmap *m, const char *queue)
{
	size_t i;

	if (m == NULL || m->nstores < 2)
		return 0;
	for (i = 0; i < m->nexact; i++)
		if (strcmp(m->exact[i].queue, queue) == 0)
			return m->exact[i].store;
	for (i = 0; i < m->nglobs; i++)
		if (fnmatch(m->globs[i].queue, queue, 0) == 0)
			return m->globs[i].store;
	return m->hash ? rendezvous(m, queue) : 0;
}

size_t
shardmap_route_key(const struct shardmap *m, const char *key, size_t len)
{
	static const char prefix[] = "codeq:{";
	const size_t plen = sizeof(prefix) - 1;
	const char *close;
	char q[128];
	size_t qlen;

	if (m == NULL || m->nstores < 2 || len <= plen ||
	    memcmp(key, prefix, plen) != 0)
		return 0;
	if ((close = memchr(key + plen, '}', len - plen)) == NULL)
		return 0;
	qlen = (size_t)(close - (key + plen));
	if (qlen == 0 || qlen >= sizeof(q))
		return 0;
	memcpy(q, key + plen, qlen);
	q[qlen] = '\0';
	return shardmap_route(m, q);
}
