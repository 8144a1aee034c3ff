/*
 * wake.c - wakes idle workers when work becomes ready.
 *
 * Every script that makes tasks ready publishes "Q N" on the channel
 * codeq:ready (docs/storage.md) of the store holding Q.  The dispatcher
 * subscribes on every store (common/subscriber.c, on its libev loop) and
 * sends WAKE to at most N idle workers that serve Q, so one enqueue
 * wakes one worker, not the whole pool.  A
 * wake that finds no idle worker is remembered (bounded by the number of
 * workers serving the queue) and handed to the next worker of that queue
 * that goes idle: a worker that said IDLE just after the publish still
 * wakes.  The channel is advisory: after a reconnect every idle worker is
 * woken once, and workers re-check on their own every few seconds.
 *
 * The same links subscribe to codeq:delayed, where an enqueue publishes
 * "Q WAIT_MS" when it adds a delayed task due before every other of Q:
 * promote.c re-arms its timer for it (advisory too: the tick remains).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "keys.h"
#include "log.h"
#include "subscriber.h"
#include "wakebook.h"

#define MAX_PENDING 64

static struct subscriber *sub;	/* on every store: a queue's scripts
					 * publish on its own */
static int logged;
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

static void
on_subscribed(void *priv, const char *channel, size_t store)
{
	(void)priv;
	if (strcmp(channel, CODEQ_CH_DELAYED) == 0) {
		/* Delayed enqueues missed while away: ask now. */
		promote_kick();
		return;
	}
	if (!logged)
		log_info("subscribed to work notifications", "channel",
		    CODEQ_CH_READY);
	logged = 1;
	(void)store;
	wake_all_idle();	/* whatever was published while away */
}

static void
on_message(void *priv, const char *channel, const char *queue, long long n)
{
	(void)priv;
	if (D.draining)
		return;
	if (strcmp(channel, CODEQ_CH_DELAYED) == 0)
		promote_signal(queue, n);
	else if (n > 0)
		wake_queue(queue, n > 1000000 ? 1000000 : (long)n);
}

int
wake_start(void)
{
	static const char *const channels[] = { CODEQ_CH_READY, CODEQ_CH_DELAYED };
	static const struct subscriber_cbs cbs = { on_subscribed, on_message };
	char err[256];

	sub = subscriber_start(D.loop, D.cfg, channels, 2, &cbs, NULL,
	    "work notifications", err, sizeof(err));
	if (sub == NULL) {
		log_error("work notifications: cannot subscribe", "error", err);
		return -1;
	}
	return 0;
}

void
wake_stop(void)
{
	subscriber_stop(sub);
	sub = NULL;
	logged = 0;
}
