/*
 * store_links.c - an asynchronous link per store (store_links.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster_map.h"
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

/* On a Redis Cluster ([store] cluster = yes) the "stores" are its nodes,
 * indexed as lib/cluster.c indexes them (a node keeps its index across
 * map reads), and a queue's store is the node of its slot.  The map is
 * read again, synchronously and with a short timeout, when it is older
 * than MAP_TTL_MS: a slot that moved sends its commands to the old node
 * until then, which answers MOVED (an error reply: the callers' calls
 * fail, and their items or reads come back as when a store is down). */
#define MAP_TTL_MS 2000
#define MAP_TIMEOUT_MS 200

struct store_links {
	struct ev_loop *loop;
	const struct codeq_config *cfg;
	int select_db;
	store_links_lost_fn *lost;
	void *priv;
	struct shardmap *map;	/* shards; NULL on a cluster */
	struct cluster *cl;	/* a cluster's slot map; NULL: shards */
	int64_t map_at_ms;
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
	*url = i == 0 || cfg->store.cluster ? cfg->store.url :
	    cfg->shards[i - 1].url;
	*pwfile = i == 0 || cfg->store.cluster ? cfg->store.password_file :
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
	if (l->cl != NULL)
		cluster_map_node_url(l->cl, k->idx, &u);
	a.url = &u;
	a.password = pw;
	k->ac = store_async_connect(&a, NULL, why, sizeof(why));
	explicit_bzero(&u, sizeof(u));
	free_secret(pw);
	if (k->ac == NULL)
		tell_lost(k, why);
	return k->ac == NULL ? -1 : 0;
}

static int
map_read(struct store_links *l, char *err, size_t errlen)
{
	l->map_at_ms = clock_mono_ms();
	return cluster_map_read(l->cfg, l->cl, MAP_TIMEOUT_MS, err, errlen);
}

/* An old map is read again; one that cannot be read is kept. */
static void
cluster_map_fresh(struct store_links *l)
{
	char err[256];

	if (l->cl == NULL || clock_mono_ms() - l->map_at_ms < MAP_TTL_MS)
		return;
	if (map_read(l, err, sizeof(err)) < 0 && l->lost != NULL)
		l->lost(l->priv, 0, err);
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
	if (cfg->store.cluster) {
		if ((l->cl = calloc(1, sizeof(*l->cl))) == NULL)
			goto oom;
		/* A cluster not answering yet is no error: until its map
		 * is read, every command goes to the seed. */
		(void)map_read(l, err, errlen);
		err[0] = '\0';
		l->n = CLUSTER_NODES_MAX;	/* indices of nodes seen later */
	} else if ((l->map = map_build(cfg, err, errlen)) == NULL)
		goto fail;
	else
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

/* The node of key's slot; the seed's index (0) when none is known. */
static size_t
node_of(struct store_links *l, const char *key, size_t len)
{
	int i;

	cluster_map_fresh(l);
	i = l->cl->slot_node[cluster_key_slot(key, len)];
	return i < 0 ? 0 : (size_t)i;
}

size_t
store_links_route(struct store_links *l, const char *queue)
{
	char key[160];
	int n;

	if (l->cl == NULL)
		return shardmap_route(l->map, queue);
	n = snprintf(key, sizeof(key), "{%s}", queue);
	return node_of(l, key, n > 0 && (size_t)n < sizeof(key) ? (size_t)n : 0);
}

size_t
store_links_route_key(struct store_links *l, const char *key)
{
	if (l->cl == NULL)
		return shardmap_route_key(l->map, key, strlen(key));
	return node_of(l, key, strlen(key));
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
	if (l->cl != NULL)
		cluster_close(l->cl);
	free(l->cl);
	free(l->links);
	free(l);
}
