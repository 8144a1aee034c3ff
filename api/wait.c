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

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "api.h"
#include "backoff.h"
#include "clock.h"
#include "keys.h"
#include "log.h"
#include "store_async.h"
#include "url.h"

/* The channel of docs/storage.md ("Q N": N tasks of Q became ready). */
#define TICK_S 0.05
#define CLAIM_POLL_MS 1000
#define RESULT_POLL_MS 200

struct api_wait {
	struct req *head, *tail;
	ev_timer tick;
	ev_timer retry;
	redisAsyncContext *ac;
	int fails, subscribed, stopping;
	char *password;
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

static void schedule_retry(struct api *a);

static void
on_message(redisAsyncContext *c, void *reply, void *priv)
{
	struct api *a = c->data;
	redisReply *m = reply, *p;
	char queue[128];
	const char *sp;
	size_t qlen;

	if (a == NULL || m == NULL || m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(m->element[0]->str, "subscribe") == 0) {
		a->wait->subscribed = 1;
		a->wait->fails = 0;
		wake_claims(a);		/* what was published while away */
		return;
	}
	p = m->element[2];
	if (strcmp(m->element[0]->str, "message") != 0 ||
	    p->type != REDIS_REPLY_STRING ||
	    (sp = memchr(p->str, ' ', p->len)) == NULL)
		return;
	qlen = (size_t)(sp - p->str);
	if (qlen == 0 || qlen >= sizeof(queue))
		return;
	memcpy(queue, p->str, qlen);
	queue[qlen] = '\0';
	wake_queue(a, queue, strtoll(sp + 1, NULL, 10));
}

static void
on_connect(const redisAsyncContext *c, int status)
{
	struct api *a = c->data;

	if (a == NULL || status == REDIS_OK || c != a->wait->ac)
		return;
	if (a->wait->fails == 0)
		log_warning("work notifications: cannot connect, retrying",
		    "error", c->errstr);
	a->wait->ac = NULL;	/* hiredis frees it after this */
	schedule_retry(a);
}

static void
on_disconnect(const redisAsyncContext *c, int status)
{
	struct api *a = c->data;

	if (a == NULL || c != a->wait->ac)
		return;
	a->wait->ac = NULL;
	a->wait->subscribed = 0;
	if (!a->wait->stopping)
		schedule_retry(a);
}

static int
subscribe_now(struct api *a)
{
	struct api_wait *w = a->wait;
	struct store_url u;
	struct store_async sa = {
		.loop = a->loop,
		.url = &u,
		.password = w->password,
		.select_db = 0,		/* channels are not per database */
		.data = a,
		.on_connect = on_connect,
		.on_disconnect = on_disconnect,
	};
	codeq_error err;
	char why[256];

	if (store_url_parse(a->cfg->store.url, &u, &err) != CODEQ_OK)
		return -1;
	w->ac = store_async_connect(&sa, NULL, why, sizeof(why));
	explicit_bzero(&u, sizeof(u));
	if (w->ac == NULL) {
		log_warning("work notifications: cannot connect", "error", why);
		return -1;
	}
	redisAsyncCommand(w->ac, on_message, NULL, "SUBSCRIBE %s",
	    CODEQ_CH_READY);
	return 0;
}

static void
on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct api *a = t->data;

	if (a->wait->ac == NULL && !a->wait->stopping && subscribe_now(a) < 0)
		schedule_retry(a);
}

static void
schedule_retry(struct api *a)
{
	struct api_wait *w = a->wait;

	ev_timer_stop(a->loop, &w->retry);
	ev_timer_set(&w->retry, backoff_ms(++w->fails, 100, 5000) / 1000., 0.);
	ev_timer_start(a->loop, &w->retry);
}

int
wait_start(struct api *a, char *err, size_t errlen)
{
	const char *pf = a->cfg->store.password_file;
	struct api_wait *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->wait = w;
	if (pf && *pf && (w->password = read_secret_line(pf, err, errlen)) == NULL)
		return -1;
	ev_init(&w->tick, on_tick);
	w->tick.repeat = TICK_S;
	w->tick.data = a;
	ev_timer_init(&w->retry, on_retry, 0.1, 0.);
	w->retry.data = a;
	if (subscribe_now(a) < 0)
		schedule_retry(a);
	return 0;
}

void
wait_stop(struct api *a)
{
	struct api_wait *w = a->wait;

	if (w == NULL)
		return;
	w->stopping = 1;
	ev_timer_stop(a->loop, &w->tick);
	ev_timer_stop(a->loop, &w->retry);
	if (w->ac != NULL) {
		w->ac->data = NULL;	/* its callbacks find nothing to do */
		redisAsyncDisconnect(w->ac);
	}
	free_secret(w->password);
	free(w);
	a->wait = NULL;
}
