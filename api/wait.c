/*
 * wait.c - long polls without a thread each: a claim (waitSeconds) that
 * found nothing, or a result not yet there, suspends its connection here
 * and is resumed to try again:
 *
 *  - a claim, when the store publishes "Q N" on codeq:ready (every script
 *    that makes tasks ready does, docs/storage.md) for one of its queues:
 *    at most N waiters of Q are woken, oldest first, so one enqueue does
 *    not send a herd to the store; and every CLAIM_POLL_MS anyway, since
 *    the channel is advisory (a delayed task coming due publishes nothing
 *    until a claim promotes it, a reconnect loses messages);
 *  - a result, every RESULT_POLL_MS (a completion publishes nothing);
 *  - any waiter at its deadline, when the handler gives its empty answer.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "keys.h"
#include "subscriber.h"

/* The channel of docs/storage.md ("Q N": N tasks of Q became ready). */
#define TICK_S 0.05
#define CLAIM_POLL_MS 1000
#define RESULT_POLL_MS 200

struct api_wait {
	struct req *head, *tail;
	ev_timer tick;
	struct subscriber *sub;
};

int64_t
api_now_ms(void)
{
	return clock_mono_ms();
}

static void
unlink_req(struct api_wait *w, struct req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		w->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		w->tail = r->prev;
	r->prev = r->next = NULL;
}

static void
wake(struct api *a, struct req *r)
{
	unlink_req(a->wait, r);
	r->woken = 1;
	MHD_resume_connection(r->conn);
	api_kick(a);
}

void
wait_add(struct api *a, struct req *r)
{
	struct api_wait *w = a->wait;

	r->waiting = 1;
	r->woken = 0;
	r->since_ms = api_now_ms();
	r->prev = w->tail;
	r->next = NULL;
	if (w->tail)
		w->tail->next = r;
	else
		w->head = r;
	w->tail = r;
	MHD_suspend_connection(r->conn);
	if (!ev_is_active(&w->tick))
		ev_timer_again(a->loop, &w->tick);
}

void
wait_remove(struct api *a, struct req *r)
{
	struct api_wait *w = a->wait;

	if (w == NULL || !r->waiting || r->woken)
		return;
	/* Only a listed waiter has neighbours or is the head. */
	if (r->prev || r->next || w->head == r)
		unlink_req(w, r);
}

void
wait_all(struct api *a)
{
	while (a->wait && a->wait->head)
		wake(a, a->wait->head);
}

/* Claim waiters try again every CLAIM_POLL_MS, results every
 * RESULT_POLL_MS, everyone at the deadline. */
static void
on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct api *a = t->data;
	struct req *r, *next;
	int64_t now = api_now_ms(), poll;

	for (r = a->wait->head; r != NULL; r = next) {
		next = r->next;
		poll = r->nqueues > 0 ? CLAIM_POLL_MS : RESULT_POLL_MS;
		if (now >= r->deadline_ms || now >= r->since_ms + poll)
			wake(a, r);
	}
	if (a->wait->head == NULL)
		ev_timer_stop(loop, t);
}

static int
waits_on(const struct req *r, const char *queue)
{
	size_t i;

	for (i = 0; i < r->nqueues; i++)
		if (strcmp(r->queues[i], queue) == 0)
			return 1;
	return 0;
}

static void
wake_queue(struct api *a, const char *queue, long long n)
{
	struct req *r, *next;

	for (r = a->wait->head; r != NULL && n > 0; r = next) {
		next = r->next;
		if (waits_on(r, queue)) {
			wake(a, r);
			n--;
		}
	}
}

static void
wake_claims(struct api *a)
{
	struct req *r, *next;

	for (r = a->wait->head; r != NULL; r = next) {
		next = r->next;
		if (r->nqueues > 0)
			wake(a, r);
	}
}

/* ---- The codeq:ready subscription ---------------------------------- */

static void
on_subscribed(void *priv, const char *channel, size_t store)
{
	(void)channel;
	(void)store;
	wake_claims(priv);	/* what was published while away */
}

static void
on_message(void *priv, const char *channel, const char *queue, long long n)
{
	(void)channel;
	wake_queue(priv, queue, n);
}

int
wait_start(struct api *a, char *err, size_t errlen)
{
	static const char *const channels[] = { CODEQ_CH_READY };
	static const struct subscriber_cbs cbs = { on_subscribed, on_message };
	struct api_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->wait = w;
	ev_init(&w->tick, on_tick);
	w->tick.repeat = TICK_S;
	w->tick.data = a;
	/* On every store: a queue's scripts publish on the one holding it. */
	w->sub = subscriber_start(a->loop, a->cfg, channels, 1, &cbs, a,
	    "work notifications", err, errlen);
	return w->sub == NULL ? -1 : 0;
}

void
wait_stop(struct api *a)
{
	struct api_wait *w = a->wait;

	if (w == NULL)
		return;
	ev_timer_stop(a->loop, &w->tick);
	subscriber_stop(w->sub);
	free(w);
	a->wait = NULL;
}
