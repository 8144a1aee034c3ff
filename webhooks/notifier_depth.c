/*
 * depth.c - ready depths over asynchronous store connections (see
 * depth.h).
 *
 * A read sends ten LLEN per queue (its priority lists) in one pipeline
 * and sums the replies as they come.  The queues asked for meanwhile
 * collect in `want`; when a read starts the two sets swap, so that the
 * queue names of the read in flight stay put while new ones arrive.
 * Nothing here blocks: a store that hangs is noticed by the deadline,
 * which drops the connections (hiredis then calls every command back
 * with no reply, and the read ends with its depths unknown).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "codeq.h"

#include "keys.h"
#include "log.h"
#include "notifier_depth.h"
#include "notifier_route.h"
#include "store_links.h"
#include "webhook.h"

struct slot {
	struct depth_reader *r;
	size_t i;			/* in r->reading */
};

struct depth_reader {
	struct ev_loop *loop;
	struct store_links *links;
	depth_done_fn *done;
	void *arg;
	struct strset want, reading;
	int64_t *depth;			/* parallel to reading.keys */
	struct slot *slots;
	size_t cap;			/* of depth and slots */
	size_t left;			/* replies to come */
	int inflight, lost, freeing;
	char error[256];
	ev_timer deadline, next;
};

static void
lose(struct depth_reader *r, const char *why)
{
	r->lost = 1;
	if (r->error[0] == '\0')
		snprintf(r->error, sizeof(r->error), "%s",
		    why && why[0] ? why : "connection lost");
}

static void
finish(struct depth_reader *r)
{
	size_t i;

	ev_timer_stop(r->loop, &r->deadline);
	r->inflight = 0;
	if (r->lost)
		for (i = 0; i < r->reading.n; i++)
			r->depth[i] = -1;
	if (!r->freeing)
		r->done(r->arg, r->reading.keys, r->depth, r->reading.n,
		    r->lost ? r->error : NULL);
	strset_clear(&r->reading);
	/* Not from here: this may run inside hiredis, freeing the
	 * connection the next read would use. */
	if (r->want.n > 0 && !r->freeing)
		ev_timer_start(r->loop, &r->next);
}

static void
on_llen(redisAsyncContext *ac, void *reply, void *priv)
{
	struct slot *s = priv;
	struct depth_reader *r = s->r;
	redisReply *rep = reply;

	if (rep == NULL)
		lose(r, ac->errstr);
	else if (rep->type == REDIS_REPLY_INTEGER)
		r->depth[s->i] += rep->integer;
	else if (rep->type == REDIS_REPLY_ERROR)
		lose(r, rep->str);
	if (--r->left == 0)
		finish(r);
}

static void
on_lost(void *priv, size_t store, const char *why)
{
	(void)store;
	lose(priv, why);
}

/* The stores did not answer in time: drop the connections. */
static void
on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct depth_reader *r = w->data;

	lose(r, "store call timed out");
	store_links_drop(r->links);	/* calls the LLENs back: finish() */
	if (r->inflight)	/* no connection had the commands */
		finish(r);
}

static void
on_next(struct ev_loop *loop, ev_timer *w, int revents)
{
	depth_read(w->data);
}

/* Room for n queues in depth and slots. */
static int
reserve(struct depth_reader *r, size_t n)
{
	int64_t *d;
	struct slot *s;
	size_t cap;

	if (n <= r->cap)
		return 0;
	for (cap = r->cap ? r->cap : 64; cap < n; cap *= 2)
		;
	if ((d = realloc(r->depth, cap * sizeof(*d))) == NULL)
		return -1;
	r->depth = d;
	if ((s = realloc(r->slots, cap * sizeof(*s))) == NULL)
		return -1;
	r->slots = s;
	r->cap = cap;
	return 0;
}

void
depth_read(struct depth_reader *r)
{
	char key[CODEQ_ID_MAX + 32];
	redisAsyncContext *ac;
	struct strset t;
	size_t i;
	int p;

	if (r->inflight || r->want.n == 0 || r->freeing)
		return;
	t = r->reading;
	r->reading = r->want;
	r->want = t;
	strset_clear(&r->want);
	r->lost = 0;
	r->error[0] = '\0';
	r->left = 0;
	r->inflight = 1;
	if (reserve(r, r->reading.n) < 0) {
		lose(r, "out of memory");
		finish(r);
		return;
	}
	for (i = 0; i < r->reading.n; i++)
		r->depth[i] = 0;
	for (i = 0; i < r->reading.n; i++) {
		r->slots[i].r = r;
		r->slots[i].i = i;
		ac = store_links_get(r->links, store_links_route(r->links,
		    r->reading.keys[i]));
		if (ac == NULL)
			break;		/* lost, with why */
		for (p = 0; p < CODEQ_PRIORITIES; p++) {
			/* Fits: notifier.c asks for valid queue names only. */
			(void)key_ready(key, sizeof(key), r->reading.keys[i], p);
			if (redisAsyncCommand(ac, on_llen, &r->slots[i],
			    "LLEN %s", key) != REDIS_OK) {
				lose(r, "could not queue the command");
				break;
			}
			r->left++;
		}
		if (r->lost)
			break;
	}
	ev_timer_again(r->loop, &r->deadline);
	if (r->left == 0)
		finish(r);
}

int
depth_want(struct depth_reader *r, const char *queue)
{
	return strset_add(&r->want, queue, NULL) < 0 ? -1 : 0;
}

struct depth_reader *
depth_reader_new(struct ev_loop *loop, const struct codeq_config *cfg,
    depth_done_fn *done, void *arg)
{
	struct depth_reader *r = calloc(1, sizeof(*r));
	int64_t timeout_ms = cfg->store.command_timeout_ms;
	char why[256];

	if (r == NULL)
		return NULL;
	if ((r->links = store_links_new(loop, cfg, 1, on_lost, r, why,
	    sizeof(why))) == NULL) {
		log_error("notifier: no depth reader", "error", why);
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->done = done;
	r->arg = arg;
	ev_timer_init(&r->deadline, on_deadline, 0.,
	    (double)(timeout_ms > 0 ? timeout_ms : 5000) / 1000.0);
	ev_timer_init(&r->next, on_next, 0., 0.);
	r->deadline.data = r->next.data = r;
	return r;
}

void
depth_reader_free(struct depth_reader *r)
{
	if (r == NULL)
		return;
	r->freeing = 1;
	ev_timer_stop(r->loop, &r->deadline);
	ev_timer_stop(r->loop, &r->next);
	store_links_free(r->links);	/* calls the read back: not passed on */
	strset_free(&r->want);
	strset_free(&r->reading);
	free(r->depth);
	free(r->slots);
	free(r);
}
