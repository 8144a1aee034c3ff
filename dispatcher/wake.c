/*
 * wake.c - wakes idle workers when work becomes ready.
 *
 * Every script that makes tasks ready publishes "Q N" on the channel
 * codeq:ready (docs/storage.md).  The dispatcher subscribes with hiredis'
 * async API on its libev loop and sends WAKE to at most N idle workers
 * that serve Q, so one enqueue wakes one worker, not the whole pool.  A
 * wake that finds no idle worker is remembered (bounded by the number of
 * workers serving the queue) and handed to the next worker of that queue
 * that goes idle: a worker that said IDLE just after the publish still
 * wakes.  The channel is advisory: after a reconnect every idle worker is
 * woken once, and workers re-check on their own every few seconds.
 *
 * The same link subscribes to codeq:delayed, where an enqueue publishes
 * "Q WAIT_MS" when it adds a delayed task due before every other of Q:
 * promote.c re-arms its timer for it (advisory too: the tick remains).
 */
#include "backoff.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "keys.h"
#include "log.h"
#include "store_async.h"
#include "url.h"
#include "wakebook.h"

#define MAX_PENDING 64

static redisAsyncContext *ac;
static ev_timer retry_timer;
static int fails, stopping, subscribed;
static struct wakebook owed;	/* wakes that found no idle worker */

static int
serves(const void *arg, const char *queue)
{
	const struct pool *p = arg;
	size_t i;

	for (i = 0; i < p->pc->nqueues; i++)
		if (strcmp(p->pc->queues[i], queue) == 0)
			return 1;
	return 0;
}

static void
send_wake(struct child *c, const char *queue)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_WAKE;
	snprintf(m.u.wake.queue, sizeof(m.u.wake.queue), "%s", queue);
	child_send(c, &m);
	c->idle = 0;
	cqm_total(CQM_WAKEUPS, 1);
}

void
wake_queue(const char *queue, long n)
{
	struct pool *p;
	struct child *c;
	long workers = 0;
	int i;

	FOREACH_WORKER(p, c, i) {
		if (p->retiring || !serves(p, queue))
			continue;
		workers++;
		if (n > 0 && c->idle && c->state == CS_RUNNING) {
			send_wake(c, queue);
			n--;
		}
	}
	wakebook_owe(&owed, queue, n, workers);
}

/* A worker just went idle: give it a wake it missed, if any. */
void
wake_idle_worker(struct child *c)
{
	const char *queue;

	if (c->pool == NULL || c->pool->retiring || D.draining)
		return;
	if ((queue = wakebook_take(&owed, serves, c->pool)) != NULL)
		send_wake(c, queue);
}

static void
wake_all_idle(void)
{
	struct pool *p;
	struct child *c;
	int i;

	FOREACH_WORKER(p, c, i)
		if (!p->retiring && c->idle && c->state == CS_RUNNING)
			send_wake(c, p->pc->queues[0]);
}

/* "Q N" (both channels): Q into queue, N returned; 0 when malformed. */
static int
parse_message(const redisReply *payload, char *queue, size_t size,
    long long *n)
{
	const char *sp;
	size_t qlen;

	if (payload->type != REDIS_REPLY_STRING ||
	    (sp = memchr(payload->str, ' ', payload->len)) == NULL)
		return 0;
	qlen = (size_t)(sp - payload->str);
	if (qlen == 0 || qlen >= size)
		return 0;
	memcpy(queue, payload->str, qlen);
	queue[qlen] = '\0';
	*n = strtoll(sp + 1, NULL, 10);	/* reply strings end in a NUL */
	return 1;
}

static void
on_message(redisAsyncContext *c, void *r, void *priv)
{
	redisReply *reply = r, *kind, *chan;
	char queue[IPC_QUEUE_MAX];
	long long n;
	int delayed;

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
		return;
	kind = reply->element[0];
	chan = reply->element[1];
	if (kind->type != REDIS_REPLY_STRING || chan->type != REDIS_REPLY_STRING)
		return;
	delayed = strcmp(chan->str, CODEQ_CH_DELAYED) == 0;
	if (strcmp(kind->str, "subscribe") == 0) {
		if (delayed) {
			/* Delayed enqueues missed while away: ask now. */
			promote_kick();
			return;
		}
		if (!subscribed)
			log_info("subscribed to work notifications", "channel",
			    CODEQ_CH_READY);
		subscribed = 1;
		fails = 0;
		wake_all_idle();	/* whatever was published while away */
		return;
	}
	if (strcmp(kind->str, "message") != 0 || D.draining ||
	    !parse_message(reply->element[2], queue, sizeof(queue), &n))
		return;
	if (delayed)
		promote_signal(queue, n);
	else if (n > 0)
		wake_queue(queue, n > 1000000 ? 1000000 : (long)n);
}

static void schedule_retry(void);

static void
on_connect(const redisAsyncContext *c, int status)
{
	if (c != ac)
		return;		/* a context replaced by a reload */
	if (status != REDIS_OK) {
		if (fails++ == 0)
			log_warning("work notifications: cannot connect, retrying",
			    "error", c->errstr);
		ac = NULL;	/* hiredis frees the context after this */
		schedule_retry();
	}
}

static void
on_disconnect(const redisAsyncContext *c, int status)
{
	if (c != ac)
		return;		/* the one wake_stop() let go of */
	ac = NULL;
	if (subscribed && !stopping)
		log_warning("work notifications: link lost, reconnecting",
		    "error", status == REDIS_OK ? "closed" : c->errstr);
	subscribed = 0;
	if (!stopping)
		schedule_retry();
}

static int
connect_now(void)
{
	struct store_url u;
	struct store_async a = {
		.loop = D.loop,
		.url = &u,
		.password = D.password,
		.select_db = 0,		/* channels are not per database */
		.on_connect = on_connect,
		.on_disconnect = on_disconnect,
	};
	codeq_error err;
	char why[256];

	if (store_url_parse(D.cfg->store.url, &u, &err) != CODEQ_OK) {
		log_error("work notifications: bad store url", "error", err.msg);
		return -1;
	}
	ac = store_async_connect(&a, NULL, why, sizeof(why));
	explicit_bzero(u.password, sizeof(u.password));
	if (ac == NULL) {
		log_warning("work notifications: cannot connect", "error", why);
		return -1;
	}
	redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %s %s",
	    CODEQ_CH_READY, CODEQ_CH_DELAYED);
	return 0;
}

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (ac == NULL && !stopping && connect_now() < 0)
		schedule_retry();
}

static void
schedule_retry(void)
{
	ev_tstamp d = backoff_ms(++fails, 100, 5000) / 1000.;

	ev_timer_stop(D.loop, &retry_timer);
	ev_timer_set(&retry_timer, d, 0.);
	ev_timer_start(D.loop, &retry_timer);
}

int
wake_start(void)
{
	stopping = 0;
	ev_timer_init(&retry_timer, on_retry, 0.1, 0.);
	if (connect_now() < 0)
		schedule_retry();
	return 0;
}

void
wake_stop(void)
{
	stopping = 1;
	ev_timer_stop(D.loop, &retry_timer);
	if (ac != NULL) {
		redisAsyncDisconnect(ac);
		ac = NULL;
	}
	subscribed = 0;
}
