/*
 * metrics_store.c - asynchronous collection of queue depths for the
 * metrics endpoint (see metrics_store.h).
 *
 * Ownership of replies in flight: every command carries a pointer to the
 * metrics_store itself and the collection's generation; hiredis calls each
 * callback exactly once (with NULL when the link is lost or freed), so a
 * collection ends exactly when its count of pending replies reaches zero,
 * whether the store answered, failed or timed out.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "codeq.h"
#include "codeq_metrics.h"
#include "keys.h"
#include "log.h"
#include "metrics_store.h"
#include "scripts_async.h"
#include "store_async.h"
#include "store_links.h"
#include "url.h"

struct qsnap {
	char *name;
	int64_t v[17];		/* the first 16 integers of stats.lua */
	int ok;
};

struct metrics_store {
	struct ev_loop *loop;
	struct store_url url;
	char password[256];
	ev_tstamp timeout;
	size_t max_queues;
	metrics_store_done_fn done;
	void *arg;

	redisAsyncContext *ac;	/* the home's; NULL while disconnected */
	int ever_connected;
	struct store_links *shards;	/* the others' (NULL: none) */
	int cluster;			/* the others are a cluster's nodes */

	/* The collection in progress. */
	int busy;
	size_t pending;
	int failed;
	char err[160];
	struct qsnap *q;
	size_t nq, total_queues;
	ev_timer deadline;

	/* The last finished collection. */
	int ok;
	int reported_down;
	char last_err[160];
	ev_tstamp when;
};

static void finish(struct metrics_store *ms);

static void
fail(struct metrics_store *ms, const char *what)
{
	if (!ms->failed)
		snprintf(ms->err, sizeof(ms->err), "%s", what);
	ms->failed = 1;
}

static void
reply_done(struct metrics_store *ms)
{
	if (ms->pending > 0 && --ms->pending == 0)
		finish(ms);
}

static void
publish(struct metrics_store *ms)
{
	static const char *const states[4] = { "ready", "delayed", "leased", "dead" };
	size_t i, k;

	metric_clear(cqm.queue_depth);
	metric_clear(cqm.queue_oldest_ready);
	metric_clear(cqm.callback_outbox);
	metric_clear(cqm.callback_dlq);
	metric_set(cqm.store_up, NULL, ms->ok);
	if (!ms->ok)
		return;
	metric_set(cqm.queues, NULL, (double)ms->total_queues);
	for (i = 0; i < ms->nq; i++) {
		const struct qsnap *s = &ms->q[i];
		const char *lq[1] = { s->name };
		int64_t ready = 0;

		if (!s->ok)
			continue;
		for (k = 0; k < 10; k++)
			ready += s->v[k];
		for (k = 0; k < 4; k++) {
			const char *lv[2] = { s->name, states[k] };
			metric_set(cqm.queue_depth, lv,
			    (double)(k == 0 ? ready : s->v[9 + k]));
		}
		metric_set(cqm.callback_outbox, lq, (double)s->v[13]);
		metric_set(cqm.callback_dlq, lq, (double)s->v[14]);
		metric_set(cqm.queue_oldest_ready, lq, (double)s->v[15] / 1000.0);
	}
}

static void
clear_snapshot(struct metrics_store *ms)
{
	size_t i;

	for (i = 0; i < ms->nq; i++)
		free(ms->q[i].name);
	free(ms->q);
	ms->q = NULL;
	ms->nq = 0;
}

static void
finish(struct metrics_store *ms)
{
	ev_timer_stop(ms->loop, &ms->deadline);
	ms->busy = 0;
	ms->ok = !ms->failed;
	snprintf(ms->last_err, sizeof(ms->last_err), "%s", ms->failed ? ms->err : "");
	ms->when = ev_now(ms->loop);
	if (!ms->ok) {
		cqm_store_error("dispatcher");
		if (!ms->reported_down)
			log_warning("metrics: store not answering", "error", ms->err);
		ms->reported_down = 1;
	} else if (ms->reported_down) {
		log_notice("metrics: store answering again");
		ms->reported_down = 0;
	}
	publish(ms);
	clear_snapshot(ms);
	if (ms->done != NULL)
		ms->done(ms->arg);
}

/* ---- Connection --------------------------------------------------- */

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct metrics_store *ms = ac->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback and then
		 * calls every pending callback with a NULL reply. */
		fail(ms, ac->errstr[0] ? ac->errstr : "connect failed");
		ms->ac = NULL;
		return;
	}
	if (ms->ever_connected)
		cqm_store_reconnect("dispatcher");
	ms->ever_connected = 1;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct metrics_store *ms = ac->data;

	if (status != REDIS_OK)
		fail(ms, ac->errstr[0] ? ac->errstr : "connection lost");
	ms->ac = NULL;
}

static void
on_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct metrics_store *ms = privdata;
	redisReply *reply = r;

	if (reply == NULL)
		fail(ms, "connection lost");
	else if (reply->type == REDIS_REPLY_ERROR)
		fail(ms, reply->str);
	reply_done(ms);
}

/* AUTH refused: said in the words codeqd's log and /healthz use, and the
 * link is dropped once its replies are in, so that the next refresh logs
 * in again (the password may have been rotated on the server). */
static void
on_auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct metrics_store *ms = privdata;
	redisReply *reply = r;
	char what[sizeof(ms->err)];

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		snprintf(what, sizeof(what),
		    "the store refused the password: %s", reply->str);
		fail(ms, what);
		redisAsyncDisconnect(ac);
	} else if (reply == NULL)
		fail(ms, "connection lost");
	reply_done(ms);
}

/* Connects and queues AUTH and SELECT; hiredis buffers the commands
 * until the connection is up.  0, or -1 with ms->err set. */
static int
ensure_connected(struct metrics_store *ms)
{
	struct store_async a = {
		.loop = ms->loop,
		.url = &ms->url,
		.password = ms->password,
		.select_db = 1,
		.data = ms,
		.on_connect = on_connect,
		.on_disconnect = on_disconnect,
		.on_auth = on_auth_reply,
		.on_select = on_setup_reply,
		.priv = ms,
	};
	char why[sizeof(ms->err)];
	int queued;

	if (ms->ac != NULL)
		return 0;
	if ((ms->ac = store_async_connect(&a, &queued, why, sizeof(why))) ==
	    NULL) {
		fail(ms, why);
		return -1;
	}
	ms->pending += (size_t)queued;
	return 0;
}

/* ---- Collection --------------------------------------------------- */

/* One queue's stats call: the script call and what it points to. */
struct qcall {
	struct script_call sc;
	struct metrics_store *ms;
	size_t i;
	char key[CODEQ_ID_MAX + 32];
	const char *args[2];
};

static int
int_at(const redisReply *r, size_t i, int64_t *out)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_INTEGER)
		return -1;
	*out = r->element[i]->integer;
	return 0;
}

static void
on_stats(redisAsyncContext *ac, redisReply *reply, struct script_call *sc)
{
	struct qcall *qc = sc->priv;
	struct metrics_store *ms = qc->ms;
	struct qsnap *s = &ms->q[qc->i];
	size_t k;

	free(qc);
	if (reply == NULL) {
		fail(ms, "connection lost");
	} else if (reply->type == REDIS_REPLY_ERROR) {
		fail(ms, reply->str);
	} else if (reply->type == REDIS_REPLY_ARRAY) {
		for (k = 0; k < 16; k++)
			if (int_at(reply, k, &s->v[k]) != 0)
				break;
		s->ok = k == 16;
		if (!s->ok)
			fail(ms, "stats: unexpected reply");
	}
	reply_done(ms);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The link to the store holding queue: the home's, or a shard's (a
 * cluster node's). */
static redisAsyncContext *
queue_link(struct metrics_store *ms, const char *queue)
{
	size_t st = ms->shards ? store_links_route(ms->shards, queue) : 0;

	return st == 0 && !ms->cluster ? ms->ac : store_links_get(ms->shards, st);
}

/* The registry's: on the home, or on a cluster the node of its slot (the
 * home link, to the seed, still says whether the password is taken). */
static redisAsyncContext *
registry_link(struct metrics_store *ms)
{
	redisAsyncContext *ac;

	if (!ms->cluster)
		return ms->ac;
	ac = store_links_get(ms->shards, store_links_route_key(ms->shards,
	    CODEQ_KEY_QUEUES));
	return ac != NULL ? ac : ms->ac;
}

static void
on_shard_lost(void *priv, size_t store, const char *why)
{
	(void)store;
	fail(priv, why);
}

static void
on_queues(redisAsyncContext *ac, void *r, void *privdata)
{
	struct metrics_store *ms = privdata;
	redisAsyncContext *link;
	redisReply *reply = r;
	char **names = NULL;
	size_t i, n;

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		fail(ms, reply == NULL ? "connection lost" :
		    reply->type == REDIS_REPLY_ERROR ? reply->str :
		    "SMEMBERS: unexpected reply");
		goto out;
	}
	if (ms->failed || ms->ac == NULL)
		goto out;
	ms->total_queues = reply->elements;
	if ((names = calloc(reply->elements + 1, sizeof(*names))) == NULL) {
		fail(ms, "out of memory");
		goto out;
	}
	for (i = n = 0; i < reply->elements; i++)
		if (reply->element[i]->type == REDIS_REPLY_STRING &&
		    codeq_queue_name_valid(reply->element[i]->str))
			names[n++] = reply->element[i]->str;
	qsort(names, n, sizeof(*names), cmp_str);
	if (n > ms->max_queues)
		n = ms->max_queues;
	if ((ms->q = calloc(n + 1, sizeof(*ms->q))) == NULL) {
		fail(ms, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct qcall *qc;

		if ((ms->q[i].name = strdup(names[i])) == NULL ||
		    (qc = malloc(sizeof(*qc))) == NULL) {
			fail(ms, "out of memory");
			break;
		}
		ms->nq = i + 1;
		qc->ms = ms;
		qc->i = i;
		/* Fits: a valid queue name (above). */
		(void)key_queue(qc->key, sizeof(qc->key), ms->q[i].name,
		    CODEQ_KEY_STATS);
		qc->args[0] = qc->key;
		qc->args[1] = ms->q[i].name;
		qc->sc = (struct script_call){ .name = CODEQ_SCRIPT_STATS,
		    .nkeys = 1, .nargs = 2, .args = qc->args, .done = on_stats,
		    .priv = qc };
		if ((link = queue_link(ms, ms->q[i].name)) == NULL ||
		    script_async_run(link, &qc->sc) < 0) {
			free(qc);
			fail(ms, "stats: cannot send");
			break;
		}
		ms->pending++;
	}
out:
	free(names);
	reply_done(ms);
}

static void
on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct metrics_store *ms = w->data;

	fail(ms, "timed out");
	/* Runs every pending callback with NULL, which ends the collection. */
	store_links_drop(ms->shards);
	if (ms->ac != NULL) {
		redisAsyncContext *ac = ms->ac;
		ms->ac = NULL;
		redisAsyncFree(ac);
	}
	if (ms->busy && ms->pending == 0)
		finish(ms);
}

void
metrics_store_refresh(struct metrics_store *ms)
{
	if (ms->busy)
		return;
	ms->busy = 1;
	ms->failed = 0;
	ms->err[0] = '\0';
	ms->pending = 1;	/* held until the commands are queued */
	ms->total_queues = 0;
	ev_timer_set(&ms->deadline, ms->timeout, 0);
	ev_timer_start(ms->loop, &ms->deadline);
	if (ensure_connected(ms) == 0 || ms->ac != NULL) {
		if (redisAsyncCommand(registry_link(ms), on_queues, ms,
		    "SMEMBERS %s", CODEQ_KEY_QUEUES) == REDIS_OK)
			ms->pending++;
		else
			fail(ms, "SMEMBERS: cannot send");
	}
	reply_done(ms);
}

struct metrics_store *
metrics_store_new(struct ev_loop *loop, const struct codeq_config *cfg,
    const char *password, int64_t timeout_ms, size_t max_queues,
    metrics_store_done_fn done, void *arg, char *err, size_t errlen)
{
	struct metrics_store *ms;
	codeq_error e;

	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (store_url_parse(cfg->store.url, &ms->url, &e) != CODEQ_OK) {
		snprintf(err, errlen, "%s", e.msg);
		free(ms);
		return NULL;
	}
	ms->cluster = cfg->store.cluster;
	if ((cfg->nshards > 0 || ms->cluster) && (ms->shards =
	    store_links_new(loop, cfg, 1, on_shard_lost, ms, err, errlen)) ==
	    NULL) {
		free(ms);
		return NULL;
	}
	snprintf(ms->password, sizeof(ms->password), "%s",
	    password != NULL ? password : ms->url.password);
	ms->loop = loop;
	ms->timeout = (timeout_ms > 0 ? timeout_ms : 1000) / 1000.0;
	ms->max_queues = max_queues ? max_queues : 100;
	ms->done = done;
	ms->arg = arg;
	ev_timer_init(&ms->deadline, on_deadline, 0, 0);
	ms->deadline.data = ms;
	snprintf(ms->last_err, sizeof(ms->last_err), "not checked yet");
	return ms;
}

void
metrics_store_free(struct metrics_store *ms)
{
	if (ms == NULL)
		return;
	ms->done = NULL;
	ev_timer_stop(ms->loop, &ms->deadline);
	store_links_free(ms->shards);
	if (ms->ac != NULL) {
		redisAsyncContext *ac = ms->ac;
		ms->ac = NULL;
		redisAsyncFree(ac);	/* runs pending callbacks with NULL */
	}
	clear_snapshot(ms);
	memset(ms->password, 0, sizeof(ms->password));
	free(ms);
}

int
metrics_store_busy(const struct metrics_store *ms)
{
	return ms->busy;
}

int
metrics_store_ok(const struct metrics_store *ms)
{
	return ms->ok;
}

const char *
metrics_store_error(const struct metrics_store *ms)
{
	return ms->last_err;
}

ev_tstamp
metrics_store_when(const struct metrics_store *ms)
{
	return ms->when;
}
