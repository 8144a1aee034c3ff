/*
 * promote.c - makes delayed tasks ready at their due time.
 *
 * Each promote (promote.lua) returns, beside the number of tasks it moved,
 * how long until the earliest task still delayed in its queue is due, in
 * the store's clock (invariant 7: a wait, not a time, so the hosts' clocks
 * never matter).  The dispatcher keeps that due time per queue and arms
 * ONE timer for the earliest across its queues; when it fires, the queues
 * that are due are promoted, which tells their next due times, and the
 * timer is armed again.  An enqueue of a delayed task that is due before
 * every other task of its queue publishes "Q WAIT_MS" on codeq:delayed
 * (wake.c hands it to promote_signal()), so a task due sooner than the
 * armed time re-arms the timer.  That holds for every queue, served here
 * or not: a queue whose workers are remote (codeq-api's claims) has its
 * tasks made ready, and published, at their due time too.  Signals are
 * advisory: the tick (cron.c) still promotes every served queue, and the
 * reap pass every registered one, feeding their answers in here; a claim
 * promotes due tasks too, so a lost message costs at most a tick (a
 * reap_interval for a queue no pool here serves).
 *
 * Only the dispatcher's synchronous store link is used (as for the tick):
 * a promote is one loopback round trip, and while the store is in backoff
 * the timer waits for the end of the backoff instead of spinning.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"
#include "queue.h"

#define PROMOTE_LIMIT	1000	/* tasks moved per call */
#define MAX_QUEUES	256	/* queues with a known due time; more: tick only */
#define DUE_SLACK	0.0005	/* s: due times are whole store ms */

/* due: loop time (ev_now) at which the queue's earliest delayed task is
 * due; 0: none known (empty, or not asked yet). */
static struct { char queue[IPC_QUEUE_MAX]; ev_tstamp due; } dues[MAX_QUEUES];
static size_t ndues;
static ev_timer timer;
static int started;

int
promote_served(const char *queue)
{
	struct pool *p;
	size_t i;

	for (p = D.pools; p != NULL; p = p->next)
		if (!p->retiring)
			for (i = 0; i < p->pc->nqueues; i++)
				if (strcmp(p->pc->queues[i], queue) == 0)
					return 1;
	return 0;
}

/* The slot of queue, created when create is set and there is room. */
static ev_tstamp *
due_slot(const char *queue, int create)
{
	size_t i;

	for (i = 0; i < ndues; i++)
		if (strcmp(dues[i].queue, queue) == 0)
			return &dues[i].due;
	if (!create || strlen(queue) >= IPC_QUEUE_MAX)
		return NULL;
	if (ndues < MAX_QUEUES)
		i = ndues++;
	else {
		/* Full (reloads changed the queues): a slot that knows
		 * nothing can be given away, a known due time cannot. */
		for (i = 0; i < ndues && dues[i].due != 0; i++)
			;
		if (i == ndues)
			return NULL;
	}
	snprintf(dues[i].queue, sizeof(dues[i].queue), "%s", queue);
	dues[i].due = 0;
	return &dues[i].due;
}

/* Arms the timer for the earliest known due time of any queue (not
 * before the end of a store backoff); stops it when none is known. */
static void
rearm(void)
{
	ev_tstamp at = 0, now;
	size_t i;

	if (!started || D.draining)
		return;
	for (i = 0; i < ndues; i++)
		if (dues[i].due > 0 && (at == 0 || dues[i].due < at))
			at = dues[i].due;
	ev_timer_stop(D.loop, &timer);
	if (at == 0)
		return;
	if (at < D.store_retry_at)
		at = D.store_retry_at;
	now = ev_now(D.loop);
	ev_timer_set(&timer, at > now ? at - now : 0., 0.);
	ev_timer_start(D.loop, &timer);
}

/* Records that queue's earliest delayed task is due in wait_ms (-1: none
 * is left), counted from now. */
static void
note_wait(const char *queue, int64_t wait_ms)
{
	ev_tstamp *due = due_slot(queue, wait_ms >= 0);

	if (due == NULL)
		return;
	/* The reply came after the loop's cached time: take the clock now,
	 * or the timer would fire early by the time the calls took. */
	ev_now_update(D.loop);
	*due = wait_ms >= 0 ? ev_now(D.loop) + wait_ms / 1000. : 0;
}

void
promote_queue(codeq_t *s, const char *queue, const char *by)
{
	codeq_error err;
	size_t moved = 0;
	int64_t wait_ms = -1;
	char n[24];
	int rc;

	rc = queue_promote(s, queue, PROMOTE_LIMIT, &moved, &wait_ms, &err);
	if (!dstore_ok(rc, &err))	/* also ends an outage: STATUS, metrics */
		return;		/* its due time stays: retried after the backoff */
	if (rc != CODEQ_OK) {
		log_warning("promote failed", "queue", queue, "error", err.msg);
		wait_ms = -1;	/* forget it: the tick asks again */
	}
	cqm_total(CQM_PROMOTED, moved);
	note_wait(queue, wait_ms);
	if (moved > 0) {
		snprintf(n, sizeof(n), "%zu", moved);
		log_debug("delayed tasks promoted", "queue", queue, "tasks", n,
		    "by", by);
	}
	rearm();
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_tstamp now = ev_now(loop);
	codeq_t *s;
	size_t i;

	if (D.draining)
		return;
	if ((s = dstore_get()) != NULL) {
		for (i = 0; i < ndues && D.store_retry_at <= now; i++) {
			if (dues[i].due == 0 || dues[i].due > now + DUE_SLACK)
				continue;
			promote_queue(s, dues[i].queue, "timer");
		}
	}
	rearm();
}

void
promote_signal(const char *queue, int64_t wait_ms)
{
	ev_tstamp *due, at;

	if (wait_ms < 0 || D.draining ||
	    (due = due_slot(queue, 1)) == NULL)
		return;
	ev_now_update(D.loop);
	at = ev_now(D.loop) + wait_ms / 1000.;
	if (*due != 0 && *due <= at)
		return;		/* the timer fires sooner anyway */
	*due = at;
	if (log_get_level() <= LOG_L_DEBUG) {
		char ms[24];

		snprintf(ms, sizeof(ms), "%" PRId64, wait_ms);
		log_debug("promote timer armed", "queue", queue, "in_ms", ms);
	}
	rearm();
}

void
promote_kick(void)
{
	struct pool *p;
	ev_tstamp *due;
	size_t i;

	for (p = D.pools; p != NULL; p = p->next)
		if (!p->retiring)
			for (i = 0; i < p->pc->nqueues; i++)
				if ((due = due_slot(p->pc->queues[i], 1)) != NULL)
					*due = ev_now(D.loop);
	rearm();
}

void
promote_start(void)
{
	ev_timer_init(&timer, on_timer, 0., 0.);
	started = 1;
}
