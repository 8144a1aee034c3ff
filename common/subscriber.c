/*
 * subscriber.c - subscriptions to codeq's channels on every store, each
 * link reconnecting on its own (subscriber.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "backoff.h"
#include "cluster_map.h"
#include "codeq.h"
#include "log.h"
#include "store_async.h"
#include "store_options.h"
#include "subscriber.h"

#define CHANNELS_MAX 4

struct sublink {
	struct subscriber *s;
	size_t idx;
	char *url;
	char host[256];		/* a cluster node's address in place of the */
	int port;		/* URL's; port 0: the URL's */
	char *password;		/* NULL: the URL's */
	const char *name;	/* "home" or the shard's, for messages */
	redisAsyncContext *ac;	/* NULL while disconnected */
	size_t nsub;		/* channels subscribed on ac */
	int fails;
	ev_timer retry;
};

struct subscriber {
	struct ev_loop *loop;
	const char *channels[CHANNELS_MAX];
	size_t nchannels;
	struct subscriber_cbs cbs;
	void *priv;
	char what[64];
	size_t n;
	struct sublink *links;
	char **names;		/* shard (node) names, copied */
	size_t nnames;
	struct cluster *cl;	/* a cluster's map, while the links are made */
};

static void link_retry(struct sublink *l);

/* "WHAT: event" store=NAME error=detail */
static void
link_warn(const struct sublink *l, const char *event, const char *detail)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", l->s->what, event);
	log_warning(msg, "store", l->name, "error", detail);
}

/* "QUEUE N" -> queue, n; 0 when malformed. */
static int
parse_message(const redisReply *p, char *queue, size_t size, long long *n)
{
	const char *sp;
	size_t qlen;

	if (p->type != REDIS_REPLY_STRING ||
	    (sp = memchr(p->str, ' ', p->len)) == NULL)
		return 0;
	qlen = (size_t)(sp - p->str);
	if (qlen == 0 || qlen >= size)
		return 0;
	memcpy(queue, p->str, qlen);
	queue[qlen] = '\0';
	*n = strtoll(sp + 1, NULL, 10);	/* reply strings end in a NUL */
	return codeq_queue_name_valid(queue);
}

static void
on_message(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sublink *l = ac->data;
	redisReply *r = reply, *kind, *chan;
	char queue[128];
	long long n;

	if (l == NULL || r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    r->elements != 3)
		return;
	kind = r->element[0];
	chan = r->element[1];
	if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		l->nsub++;
		l->fails = 0;
		l->s->cbs.on_subscribed(l->s->priv, chan->str, l->idx);
		return;
	}
	if (strcmp(kind->str, "message") == 0 &&
	    parse_message(r->element[2], queue, sizeof(queue), &n))
		l->s->cbs.on_message(l->s->priv, chan->str, queue, n);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct sublink *l = ac->data;

	if (l == NULL || status == REDIS_OK)
		return;
	if (l->fails == 0)
		link_warn(l, "cannot connect, retrying", ac->errstr);
	l->ac = NULL;		/* hiredis frees the context after this */
	link_retry(l);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sublink *l = ac->data;

	if (l == NULL)
		return;		/* subscriber_stop() let go of it */
	if (l->nsub > 0)
		link_warn(l, "link lost, reconnecting", status == REDIS_OK ?
		    "closed" : ac->errstr);
	l->ac = NULL;
	l->nsub = 0;
	link_retry(l);
}

/* A subscriber only reads: without keepalive a store that vanished (host
 * down, link cut) would leave it waiting for ever. */
static void
keepalive(struct sublink *l, const struct store_url *u)
{
	if (u->path[0] != '\0' || redisEnableKeepAlive(&l->ac->c) == REDIS_OK)
		return;
	link_warn(l, "no TCP keepalive", l->ac->c.errstr);
	l->ac->c.err = 0;	/* not fatal: the connection itself is fine */
	l->ac->c.errstr[0] = '\0';
}

static int
link_connect(struct sublink *l)
{
	struct store_url u;
	struct store_async a = {
		.loop = l->s->loop,
		.url = &u,
		.password = l->password,
		.select_db = 0,		/* channels are not per database */
		.data = l,
		.on_connect = on_connect,
		.on_disconnect = on_disconnect,
	};
	codeq_error err;
	char why[256];
	size_t i;

	if (store_url_parse(l->url, &u, &err) != CODEQ_OK) {
		link_warn(l, "bad store url", err.msg);
		return -1;
	}
	if (l->port > 0) {
		snprintf(u.host, sizeof(u.host), "%s", l->host);
		u.port = l->port;
	}
	l->ac = store_async_connect(&a, NULL, why, sizeof(why));
	if (l->ac == NULL) {
		explicit_bzero(&u, sizeof(u));
		link_warn(l, "cannot connect", why);
		return -1;
	}
	keepalive(l, &u);
	explicit_bzero(&u, sizeof(u));
	for (i = 0; i < l->s->nchannels; i++)
		redisAsyncCommand(l->ac, on_message, NULL, "SUBSCRIBE %s",
		    l->s->channels[i]);
	return 0;
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sublink *l = w->data;

	(void)loop;
	(void)revents;
	if (l->ac == NULL && link_connect(l) < 0)
		link_retry(l);
}

static void
link_retry(struct sublink *l)
{
	ev_timer_stop(l->s->loop, &l->retry);
	ev_timer_set(&l->retry, backoff_ms(++l->fails, 100, 5000) / 1000., 0.);
	ev_timer_start(l->s->loop, &l->retry);
}

/* Store i's URL, name and password (copied out of so); on a cluster,
 * node i's (the seed's URL and password, the node's address). */
static int
link_init(struct subscriber *s, size_t i, const struct codeq_config *cfg,
    const struct store_options *so)
{
	struct sublink *l = &s->links[i];
	int cluster = cfg->store.cluster;
	const char *pw = i == 0 || cluster ? so->password : so->passwords[i - 1];

	l->s = s;
	l->idx = i;
	if (s->cl != NULL) {
		snprintf(l->host, sizeof(l->host), "%s", s->cl->nodes[i].host);
		l->port = s->cl->nodes[i].port;
	}
	/* A cluster's nodes are names[i]; shards are names[i - 1] after
	 * the home (a cluster's seed alone is "home" too). */
	if (s->cl != NULL)
		l->name = s->names[i];
	else
		l->name = i == 0 ? "home" : s->names[i - 1];
	l->url = strdup(i == 0 || cluster ? cfg->store.url :
	    cfg->shards[i - 1].url);
	if (pw != NULL && *pw != '\0')
		l->password = strdup(pw);
	ev_timer_init(&l->retry, on_retry, 0.1, 0.);
	l->retry.data = l;
	return l->url == NULL || (pw && *pw && l->password == NULL) ? -1 : 0;
}

/* On a KVRocks cluster a PUBLISH reaches only the node it was sent to
 * (its nodes do not talk to each other), so every node is subscribed to;
 * a Redis Cluster passes every PUBLISH to every node, so the seed is
 * (more links would deliver each message once per node).  The number of
 * nodes subscribed to, 0 for the seed alone (also when the map cannot be
 * read: the nodes are those of the map at start). */
static size_t
cluster_nodes(struct subscriber *s, const struct codeq_config *cfg)
{
	char err[256], name[300];
	size_t i;

	if ((s->cl = calloc(1, sizeof(*s->cl))) == NULL ||
	    cluster_map_read(cfg, s->cl, 1000, err, sizeof(err)) < 0 ||
	    !cluster_map_is_kvrocks(s->cl) ||
	    (s->names = calloc(s->cl->nnodes, sizeof(*s->names))) == NULL) {
		if (s->cl != NULL)
			cluster_close(s->cl);
		free(s->cl);
		s->cl = NULL;
		return 0;
	}
	for (i = 0; i < s->cl->nnodes; i++, s->nnames++) {
		snprintf(name, sizeof(name), "node %s:%d", s->cl->nodes[i].host,
		    s->cl->nodes[i].port);
		if ((s->names[i] = strdup(name)) == NULL)
			break;
	}
	return s->nnames;
}

static int
links_init(struct subscriber *s, const struct codeq_config *cfg, char *err,
    size_t errlen)
{
	struct store_options so;
	size_t i;
	int rc = 0;

	if (store_options_load(cfg, 0, &so, err, errlen) < 0)
		return -1;
	s->n = 1 + cfg->nshards;
	if (cfg->store.cluster && cluster_nodes(s, cfg) > 0)
		s->n = s->nnames;
	s->links = calloc(s->n, sizeof(*s->links));
	if (s->nnames == 0 && cfg->nshards > 0) {
		s->names = calloc(cfg->nshards, sizeof(*s->names));
		for (i = 0; s->names != NULL && i < cfg->nshards; i++, s->nnames++)
			if ((s->names[i] = strdup(cfg->shards[i].name)) == NULL)
				rc = -1;
	}
	if (s->links == NULL || (cfg->nshards > 0 && s->names == NULL))
		rc = -1;
	for (i = 0; rc == 0 && i < s->n; i++)
		rc = link_init(s, i, cfg, &so);
	store_options_free(&so);
	if (s->cl != NULL) {	/* the nodes' addresses are in the links */
		cluster_close(s->cl);
		free(s->cl);
		s->cl = NULL;
	}
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

struct subscriber *
subscriber_start(struct ev_loop *loop, const struct codeq_config *cfg,
    const char *const *channels, size_t nchannels,
    const struct subscriber_cbs *cbs, void *priv, const char *what,
    char *err, size_t errlen)
{
	struct subscriber *s;
	size_t i;

	if (nchannels == 0 || nchannels > CHANNELS_MAX) {
		snprintf(err, errlen, "subscriber: 1-%d channels", CHANNELS_MAX);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	for (i = 0; i < nchannels; i++)
		s->channels[i] = channels[i];
	s->nchannels = nchannels;
	s->cbs = *cbs;
	s->priv = priv;
	snprintf(s->what, sizeof(s->what), "%s", what);
	if (links_init(s, cfg, err, errlen) < 0)
		goto fail;
	for (i = 0; i < s->n; i++)
		if (link_connect(&s->links[i]) < 0)
			link_retry(&s->links[i]);
	return s;
fail:
	subscriber_stop(s);
	return NULL;
}

size_t
subscriber_up(const struct subscriber *s)
{
	size_t i, up = 0;

	for (i = 0; i < s->n; i++)
		up += s->links[i].nsub == s->nchannels;
	return up;
}

size_t
subscriber_stores(const struct subscriber *s)
{
	return s->n;
}

void
subscriber_stop(struct subscriber *s)
{
	struct sublink *l;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s->links != NULL && i < s->n; i++) {
		l = &s->links[i];
		ev_timer_stop(s->loop, &l->retry);
		if (l->ac != NULL) {
			l->ac->data = NULL;	/* its callbacks find nothing */
			redisAsyncDisconnect(l->ac);
		}
		free(l->url);
		free_secret(l->password);
	}
	for (i = 0; s->names != NULL && i < s->nnames; i++)
		free(s->names[i]);
	free(s->names);
	free(s->links);
	free(s);
}
