/*
 * store_links.c - an asynchronous link per store (store_links.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardmap.h"
#include "store_async.h"
#include "store_links.h"
#include "store_options.h"
#include "url.h"

struct link {
	struct store_links *l;
	size_t idx;
	redisAsyncContext *ac;	/* NULL while closed */
};

struct store_links {
	struct ev_loop *loop;
	const struct codeq_config *cfg;
	int select_db;
	store_links_lost_fn *lost;
	void *priv;
	struct shardmap *map;
	size_t n;
	struct link *links;
};

static void
tell_lost(struct link *k, const char *why)
{
	if (k->l->lost != NULL)
		k->l->lost(k->l->priv, k->idx, why && *why ? why :
		    "connection lost");
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct link *k = ac->data;

	if (k == NULL || status == REDIS_OK)
		return;
	if (k->ac == ac)
		k->ac = NULL;	/* hiredis frees the context after this */
	tell_lost(k, ac->errstr);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *k = ac->data;

	if (k == NULL)
		return;		/* dropped on purpose */
	if (k->ac == ac)	/* else a new link replaced it already */
		k->ac = NULL;
	if (status != REDIS_OK)
		tell_lost(k, ac->errstr);
}

/* Store i's URL and password file. */
static void
store_of(const struct codeq_config *cfg, size_t i, const char **url,
    const char **pwfile)
{
	*url = i == 0 ? cfg->store.url : cfg->shards[i - 1].url;
	*pwfile = i == 0 ? cfg->store.password_file :
	    cfg->shards[i - 1].password_file;
}

static int
link_open(struct link *k)
{
	struct store_links *l = k->l;
	struct store_async a = {
		.loop = l->loop,
		.select_db = l->select_db,
		.data = k,
		.on_connect = on_connect,
		.on_disconnect = on_disconnect,
	};
	const char *url, *pwfile;
	struct store_url u;
	codeq_error e;
	char why[256], *pw = NULL;

	store_of(l->cfg, k->idx, &url, &pwfile);
	if (store_url_parse(url, &u, &e) != CODEQ_OK) {
		tell_lost(k, e.msg);
		return -1;
	}
	if (pwfile && *pwfile &&
	    (pw = read_secret_line(pwfile, why, sizeof(why))) == NULL) {
		explicit_bzero(&u, sizeof(u));
		tell_lost(k, why);
		return -1;
	}
	a.url = &u;
	a.password = pw;
	k->ac = store_async_connect(&a, NULL, why, sizeof(why));
	explicit_bzero(&u, sizeof(u));
	free_secret(pw);
	if (k->ac == NULL)
		tell_lost(k, why);
	return k->ac == NULL ? -1 : 0;
}

static struct shardmap *
map_build(const struct codeq_config *cfg, char *err, size_t errlen)
{
	struct store_options so;
	struct shardmap *m = NULL;
	codeq_error e;

	if (store_options_load(cfg, 0, &so, err, errlen) < 0)
		return NULL;
	if (shardmap_build(&m, so.shards, so.nshards, so.o.shard_hash, &e) !=
	    CODEQ_OK)
		snprintf(err, errlen, "%s", e.msg);
	store_options_free(&so);
	return m;
}

struct store_links *
store_links_new(struct ev_loop *loop, const struct codeq_config *cfg,
    int select_db, store_links_lost_fn *lost, void *priv, char *err,
    size_t errlen)
{
	struct store_links *l;
	size_t i;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		goto oom;
	l->loop = loop;
	l->cfg = cfg;
	l->select_db = select_db;
	l->lost = lost;
	l->priv = priv;
	if ((l->map = map_build(cfg, err, errlen)) == NULL)
		goto fail;
	l->n = l->map->nstores;
	if ((l->links = calloc(l->n, sizeof(*l->links))) == NULL)
		goto oom;
	for (i = 0; i < l->n; i++) {
		l->links[i].l = l;
		l->links[i].idx = i;
	}
	return l;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	store_links_free(l);
	return NULL;
}

size_t
store_links_count(const struct store_links *l)
{
	return l->n;
}

size_t
store_links_route(const struct store_links *l, const char *queue)
{
	return shardmap_route(l->map, queue);
}

size_t
store_links_route_key(const struct store_links *l, const char *key)
{
	return shardmap_route_key(l->map, key, strlen(key));
}

redisAsyncContext *
store_links_get(struct store_links *l, size_t i)
{
	struct link *k;

	if (i >= l->n)
		return NULL;
	k = &l->links[i];
	/* One going away (its commands being called back with no reply)
	 * takes no more: a new one does. */
	if (k->ac != NULL && (k->ac->c.flags & (REDIS_DISCONNECTING |
	    REDIS_FREEING)))
		k->ac = NULL;
	if (k->ac == NULL && link_open(k) < 0)
		return NULL;
	return k->ac;
}

void
store_links_drop(struct store_links *l)
{
	redisAsyncContext *ac;
	size_t i;

	for (i = 0; l != NULL && i < l->n; i++) {
		if ((ac = l->links[i].ac) == NULL)
			continue;
		l->links[i].ac = NULL;
		ac->data = NULL;	/* no lost: this was asked for */
		redisAsyncFree(ac);
	}
}

void
store_links_free(struct store_links *l)
{
	if (l == NULL)
		return;
	l->lost = NULL;
	store_links_drop(l);
	shardmap_free(l->map);
	free(l->links);
	free(l);
}
