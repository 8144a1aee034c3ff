/*
 * callbacks.c - the callbacks process (see callbacks.h).
 *
 * Every batch window (default 50 ms), and as soon as a POST ends, one
 * pipelined round trip runs cb_take on each queue's outbox, leasing due
 * items to this process (until a time cb_take returns, which is also the
 * fencing token of the calls that settle them).  The round trips go over
 * an asynchronous store connection, two at a time (the store works on the
 * next one while this process turns the last one's items into requests),
 * so requests keep starting and ending while the store works.  Each host
 * has at most [webhooks] max_per_host POSTs in flight, each carrying up
 * to [callbacks] batch_max items; an endpoint's room is twice that (a
 * batch in flight and the next one ready, per request slot) minus the
 * items held for it (waiting or in flight) and what the takes in flight
 * may still bring: cb_take is told each
 * endpoint's room and never takes more, so everything taken is sent at
 * once or as soon as a request to its host ends, a request that ends is
 * followed at once by the next while the store takes more, and a deep
 * outbox streams at the speed of its endpoints.  When a POST ends, each
 * of its items is acked (2xx), rescheduled with backoff (retryable
 * failure) or moved to the callbacks DLQ (permanent failure or last
 * attempt): one script call per queue, in the next round trip.
 *
 * Nothing is lost when this process dies: an item it held becomes due
 * again when its lease (visibility) runs out.  Items waiting here longer
 * than most of their lease are given up locally before it runs out, so
 * this process never holds the same item twice.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <openssl/rand.h>

#include "callbacks_batch.h"
#include "callbacks.h"
#include "codeq.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "keys.h"
#include "scripts_async.h"
#include "store.h"
#include "store_links.h"
#include "webhook.h"

#define BODY_SOFT_MAX (1024 * 1024)	/* a batch stops growing past this */
#define QUEUES_REFRESH_MS 1000
#define IDLE_POLL_MAX_MS 500	/* a queue with an empty outbox is polled
				 * less and less often, down to this */
#define DEFER_MS 1000		/* cb_take puts a full endpoint's backlog at
				 * the head of an outbox back for this */
#define NONCE_BYTES 12		/* 96 random bits per cb_take */
#define CB_TAKE_FIELDS 11	/* per item in cb_take's reply */
#define SKIP_MAX 256		/* cb_take looks past this many items of
				 * full endpoints, at most */
#define ROUNDS_MAX 2		/* round trips to the store in flight */

struct endpoint {
	char *url;
	size_t hostlen;			/* url[0..hostlen): scheme://authority */
	struct cb_item *head, *tail;	/* waiting to be sent */
	size_t nwaiting;
	size_t nheld;			/* waiting or in flight */
	int inflight;
	struct endpoint *next;
};

struct cbp {
	struct wh_proc proc;
	const struct codeq_config *cfg;
	struct wh_store store;
	struct http *http;
	struct sign_key key;
	int have_key;
	ev_timer tick, drain, refill;
	char **queues;			/* sorted */
	size_t nqueues;
	int64_t queues_at;
	int64_t *poll_at;		/* per queue: next cb_take */
	int64_t *poll_gap;		/* per queue: current idle interval */
	struct endpoint *eps;
	size_t held;			/* items waiting or in flight */
	size_t hold_max;
	int64_t visibility_ms;
	struct call *pend;		/* calls for the next round trip */
	size_t npend, cappend;
	/* The asynchronous connections the outbox scripts run on (one per
	 * store, each call to the store of its queue), so that requests go
	 * on while the stores work; up to ROUNDS_MAX round trips in
	 * flight, so that the stores work on the next one while this
	 * process turns the last one's items into requests. */
	struct store_links *links;
	int rounds;			/* round trips in flight */
	size_t taking;			/* items their takes may still bring */
	int again, again_take;		/* another one was asked for meanwhile */
	ev_timer round_t;		/* its deadline (command_timeout) */
};

struct call;
struct round;

struct delivery {
	struct cbp *p;
	struct endpoint *ep;
	struct cb_item **items;
	size_t n;
	char id[64];
};

static void dispatch(struct cbp *p, struct endpoint *ep);

/* Length of "scheme://authority": endpoints sharing it share the
 * per-host bound on requests in flight. */
static size_t
host_len(const char *url)
{
	const char *a = strstr(url, "://");

	if (a == NULL)
		return strlen(url);
	return (size_t)(a + 3 - url) + strcspn(a + 3, "/?");
}

static int
same_host(const struct endpoint *a, const struct endpoint *b)
{
	return a->hostlen == b->hostlen &&
	    strncmp(a->url, b->url, a->hostlen) == 0;
}

/* Requests in flight to ep's host, over all its endpoints. */
static int
host_inflight(const struct cbp *p, const struct endpoint *ep)
{
	const struct endpoint *o;
	int n = 0;

	for (o = p->eps; o; o = o->next)
		if (same_host(o, ep))
			n += o->inflight;
	return n;
}

static struct endpoint *
endpoint_get(struct cbp *p, const char *url)
{
	struct endpoint *ep;

	for (ep = p->eps; ep; ep = ep->next)
		if (strcmp(ep->url, url) == 0)
			return ep;
	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		return NULL;
	if ((ep->url = strdup(url)) == NULL) {
		free(ep);
		return NULL;
	}
	ep->hostlen = host_len(url);
	ep->next = p->eps;
	p->eps = ep;
	return ep;
}

static void
endpoint_gc(struct cbp *p)
{
	struct endpoint **pp = &p->eps, *ep;

	while ((ep = *pp) != NULL) {
		if (ep->head == NULL && ep->inflight == 0) {
			*pp = ep->next;
			free(ep->url);
			free(ep);
		} else
			pp = &ep->next;
	}
}

/* ---- store calls ------------------------------------------------- */

/* One script call of the next round trip; argv[0] is its key. */
struct call {
	const char *script;
	int nargs;
	char **argv;
};

/* A growing list of NUL-terminated strings; oom is set (and the list
 * left as is) when out of memory. */
struct sv {
	char **v;
	size_t n, cap;
	int oom;
};

static void
sv_add(struct sv *s, const char *str)
{
	char **nv;

	if (s->oom)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;

		if ((nv = realloc(s->v, cap * sizeof(*nv))) == NULL) {
			s->oom = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	if ((s->v[s->n] = strdup(str)) == NULL)
		s->oom = 1;
	else
		s->n++;
}

static void
sv_addi(struct sv *s, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRId64, v);
	sv_add(s, b);
}

static void
calls_clear(struct cbp *p)
{
	size_t i;

	for (i = 0; i < p->npend; i++)
		codeq_strv_free(p->pend[i].argv, (size_t)p->pend[i].nargs);
	p->npend = 0;
}

/* Queues the call built in s (taking its strings) for the next round
 * trip; an incomplete one is dropped (its items come back when their
 * lease runs out). */
static int
call_add(struct cbp *p, const char *script, struct sv *s)
{
	struct call *nv;

	if (s->oom || p->npend == p->cappend) {
		size_t cap = p->cappend ? p->cappend * 2 : 16;

		if (s->oom || (nv = realloc(p->pend, cap * sizeof(*nv))) == NULL) {
			codeq_strv_free(s->v, s->n);
			memset(s, 0, sizeof(*s));
			return -1;
		}
		p->pend = nv;
		p->cappend = cap;
	}
	p->pend[p->npend].script = script;
	p->pend[p->npend].nargs = (int)s->n;
	p->pend[p->npend].argv = s->v;
	p->npend++;
	memset(s, 0, sizeof(*s));
	return 0;
}

enum settle { SETTLE_ACK, SETTLE_RETRY, SETTLE_DEAD, SETTLE_RELEASE };

/* Queues the calls settling n items the same way, one per queue among
 * them, for the next round trip (flush()). */
static void
settle(struct cbp *p, struct cb_item **items, size_t n, enum settle how,
    long status, const char *error, int64_t retry_after_ms)
{
	static const char *const script[] = { CODEQ_SCRIPT_CB_ACK,
	    CODEQ_SCRIPT_CB_RETRY, CODEQ_SCRIPT_CB_DEAD, CODEQ_SCRIPT_CB_RETRY };
	char key[160], done[n ? n : 1];
	struct sv s = { 0 };
	size_t i, j;

	memset(done, 0, sizeof(done));
	for (i = 0; i < n; i++) {
		if (done[i])
			continue;
		/* Fits: a queue of codeq_queues(), so a valid name. */
		(void)key_queue(key, sizeof(key), items[i]->queue,
		    CODEQ_KEY_OUTBOX);
		sv_add(&s, key);
		sv_add(&s, items[i]->queue);
		if (how != SETTLE_ACK) {
			sv_addi(&s, status);
			sv_add(&s, error);
		}
		if (how == SETTLE_RETRY || how == SETTLE_RELEASE)
			sv_add(&s, how == SETTLE_RELEASE ? "1" : "0");
		for (j = i; j < n; j++) {
			struct cb_item *it = items[j];

			if (done[j] || strcmp(it->queue, items[i]->queue) != 0)
				continue;
			done[j] = 1;
			sv_addi(&s, it->n);
			if (how != SETTLE_ACK)
				sv_addi(&s, it->lease_until);
			if (how == SETTLE_RETRY)
				sv_addi(&s, cb_backoff(it->deliveries,
				    p->cfg->callbacks.backoff_base_ms,
				    p->cfg->callbacks.backoff_max_ms,
				    retry_after_ms,
				    (double)rand() / ((double)RAND_MAX + 1)));
			else if (how == SETTLE_RELEASE)
				/* Given back due after retry_after_ms (0:
				 * at once). */
				sv_addi(&s, retry_after_ms > 0 ?
				    retry_after_ms : 0);
		}
		if (call_add(p, script[how], &s) < 0)
			log_warning("could not settle callback items: they are "
			    "sent again when their lease runs out", "outcome",
			    script[how]);
	}
}

static struct cb_item *
item_from(const char *queue, redisReply **f, int64_t lease_until)
{
	struct cb_item *it = calloc(1, sizeof(*it));

	if (it == NULL)
		return NULL;
	for (int i = 0; i < CB_TAKE_FIELDS; i++)
		if (f[i]->type != REDIS_REPLY_STRING)
			goto fail;
	it->n = strtoll(f[0]->str, NULL, 10);
	it->attempts = atoi(f[6]->str);
	it->completed_at = strtoll(f[7]->str, NULL, 10);
	it->deliveries = atoi(f[9]->str);
	it->lease_until = lease_until;
	it->taken_at = wh_now_ms();
	if (!(it->queue = strdup(queue)) || !(it->task_id = strdup(f[1]->str))
	    || !(it->url = strdup(f[2]->str)) ||
	    !(it->status = strdup(f[3]->str)) ||
	    !(it->result = strdup(f[4]->str)) ||
	    !(it->error = strdup(f[5]->str)) ||
	    !(it->traceparent = strdup(f[8]->str)) ||
	    !(it->wid = strdup(f[10]->str)))
		goto fail;
	return it;
fail:
	cb_item_free(it);
	return NULL;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
refresh_queues(struct cbp *p, int64_t now)
{
	int64_t *at, *gap;
	codeq_error e;
	char **v;
	size_t n, i, j = 0;

	if (now - p->queues_at < QUEUES_REFRESH_MS && p->queues)
		return;
	if (codeq_queues(p->store.c, &v, &n, &e) != CODEQ_OK) {
		wh_store_failed(&p->store, e.msg);
		return;
	}
	wh_store_ok(&p->store);
	at = calloc(n + 1, sizeof(*at));
	gap = calloc(n + 1, sizeof(*gap));
	if (at == NULL || gap == NULL) {
		free(at);
		free(gap);
		codeq_strv_free(v, n);
		return;
	}
	/* Both lists sorted: carry each queue's polling state over. */
	qsort(v, n, sizeof(*v), strp_cmp);
	for (i = 0; i < n; i++) {
		while (j < p->nqueues && strcmp(p->queues[j], v[i]) < 0)
			j++;
		if (j < p->nqueues && strcmp(p->queues[j], v[i]) == 0) {
			at[i] = p->poll_at[j];
			gap[i] = p->poll_gap[j];
		}
	}
	codeq_strv_free(p->queues, p->nqueues);
	free(p->poll_at);
	free(p->poll_gap);
	p->queues = v;
	p->nqueues = n;
	p->poll_at = at;
	p->poll_gap = gap;
	p->queues_at = now;
}

/* A queue whose outbox had nothing due waits twice as long (up to
 * IDLE_POLL_MAX_MS) before the next look; one with items is looked at
 * every batch window. */
static void
poll_result(struct cbp *p, size_t i, size_t got, int64_t now)
{
	int64_t window = p->cfg->callbacks.batch_window_ms;

	if (got > 0 || window >= IDLE_POLL_MAX_MS)
		p->poll_gap[i] = 0;
	else if (p->poll_gap[i] == 0)
		p->poll_gap[i] = window > 0 ? window : 50;
	else if ((p->poll_gap[i] *= 2) > IDLE_POLL_MAX_MS)
		p->poll_gap[i] = IDLE_POLL_MAX_MS;
	p->poll_at[i] = now + p->poll_gap[i];
}

/* Items an endpoint may have here (waiting or in flight): twice what
 * the requests it may have in flight carry when all are full.  The
 * second half is the next batch of each request slot, ready when the
 * request ends: without it a slot stays empty for a round trip to the
 * store after each request (a deep outbox then drained at about half
 * the rate, docs/webhooks.md). */
static size_t
ep_cap(const struct cbp *p)
{
	size_t per = (size_t)(p->cfg->webhooks.max_per_host > 0 ?
	    p->cfg->webhooks.max_per_host : 1);

	return 2 * per * (size_t)p->cfg->callbacks.batch_max;
}

/* The cb_take arguments after the fixed ones: each endpoint this process
 * holds items for, and its room shared by the ndue queues looked at
 * (rounded up: an endpoint may get ndue - 1 more than its room, sent
 * with its next request).  The takes in flight may bring any endpoint
 * as many items as they may bring in all (p->taking): that much less.
 * *nout: the number of strings, two per endpoint. */
static char **
ep_rooms(const struct cbp *p, size_t ndue, size_t *nout)
{
	const struct endpoint *ep;
	size_t cap = ep_cap(p), n = 0, room;
	char **v;

	*nout = 0;
	for (ep = p->eps; ep; ep = ep->next)
		n += 2;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (ep = p->eps; ep; ep = ep->next) {
		size_t used = ep->nheld + p->taking;

		room = used < cap ? (cap - used + ndue - 1) / ndue : 0;
		if ((v[*nout] = strdup(ep->url)) == NULL ||
		    asprintf(&v[*nout + 1], "%zu", room) < 0) {
			v[*nout + 1] = NULL;
			codeq_strv_free(v, *nout + 2);
			*nout = 0;
			return NULL;
		}
		*nout += 2;
	}
	return v;
}

static void
hold(struct cbp *p, struct cb_item *it)
{
	struct endpoint *ep;

	/* Unparsable or out of memory: the lease runs out and the item
	 * comes back. */
	if (it == NULL)
		return;
	if ((ep = endpoint_get(p, it->url)) == NULL) {
		cb_item_free(it);
		return;
	}
	if (ep->tail)
		ep->tail->next = it;
	else
		ep->head = it;
	ep->tail = it;
	ep->nwaiting++;
	ep->nheld++;
	p->held++;
}

/* Items one cb_take takes at most: a few batches, so that the first
 * requests start (and the next take runs) while the store takes more,
 * rather than after one take of everything there is room for. */
static size_t
take_max(const struct cbp *p)
{
	return 4 * (size_t)p->cfg->callbacks.batch_max;
}

/* cb_take's nonce: the random part of the webhook ids of the items it
 * takes for the first time, so that no two items share an id, whatever
 * store, deployment or flush they come from.  0, or -1 (no randomness:
 * no take until there is, rather than ids that may repeat). */
static int
take_nonce(char out[2 * NONCE_BYTES + 1])
{
	unsigned char b[NONCE_BYTES];
	size_t i;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		log_error("no random bytes for webhook ids: not taking callbacks");
		return -1;
	}
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* Queues a cb_take for each queue due to be looked at (argv[1] of each
 * is its queue); *limitp: the items each may take.  Returns how many. */
static size_t
intake_calls(struct cbp *p, int64_t now, size_t *limitp)
{
	char **rooms = NULL, key[160], nonce[2 * NONCE_BYTES + 1];
	size_t i, j, nrooms = 0, limit, ndue = 0, n = 0, cap = ep_cap(p);
	struct sv s = { 0 };

	*limitp = 0;
	if (p->nqueues == 0 || p->held + p->taking >= p->hold_max)
		return 0;
	for (i = 0; i < p->nqueues; i++)
		ndue += p->poll_at[i] <= now;
	if (ndue == 0)
		return 0;
	/* The room left, shared by the queues looked at this time. */
	limit = (p->hold_max - p->held - p->taking) / ndue;
	if (limit > take_max(p))
		limit = take_max(p);
	if (limit == 0)
		limit = 1;
	if ((rooms = ep_rooms(p, ndue, &nrooms)) == NULL)
		goto out;
	for (i = 0; i < p->nqueues; i++) {
		if (p->poll_at[i] > now)
			continue;	/* idle queue, not yet */
		if (take_nonce(nonce) < 0)
			break;
		/* Fits: codeq_queues() returns valid names only. */
		(void)key_queue(key, sizeof(key), p->queues[i],
		    CODEQ_KEY_OUTBOX);
		sv_add(&s, key);
		sv_add(&s, p->queues[i]);
		sv_addi(&s, (int64_t)limit);
		sv_addi(&s, p->visibility_ms);
		sv_addi(&s, (int64_t)(cap > p->taking ?
		    (cap - p->taking + ndue - 1) / ndue : 0));
		sv_addi(&s, SKIP_MAX);
		sv_addi(&s, DEFER_MS);
		sv_add(&s, nonce);
		for (j = 0; j < nrooms; j++)
			sv_add(&s, rooms[j]);
		if (call_add(p, CODEQ_SCRIPT_CB_TAKE, &s) == 0)
			n++;
	}
	*limitp = limit;
out:
	codeq_strv_free(rooms, nrooms);
	return n;
}

/* Holds the items of queue q's cb_take reply r. */
static size_t
intake_reply(struct cbp *p, const char *q, redisReply *r, int64_t now)
{
	size_t j, n = 0;
	int64_t until;
	char **qi;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		log_warning("cb_take failed", "queue", q,
		    "error", r->type == REDIS_REPLY_ERROR ? r->str :
		    "unexpected reply");
		return 0;
	}
	until = strtoll(r->element[1]->str, NULL, 10);
	for (j = 2; j + CB_TAKE_FIELDS <= r->elements; j += CB_TAKE_FIELDS, n++)
		hold(p, item_from(q, r->element + j, until));
	/* As many as a take may take: there may be more, take again as
	 * soon as this round trip ends. */
	if (n >= take_max(p)) {
		p->again = 1;
		p->again_take = 1;
	}
	/* Items left for want of room keep the queue busy: it is looked
	 * at again as soon as room frees up.  (The list of queues may
	 * have been refreshed since the take was sent.) */
	if ((qi = bsearch(&q, p->queues, p->nqueues, sizeof(*p->queues),
	    strp_cmp)) != NULL)
		poll_result(p, (size_t)(qi - p->queues), n +
		    (size_t)(r->element[0]->integer > 0 ?
		    r->element[0]->integer : 0), now);
	return n;
}

/* ---- the asynchronous connection ---------------------------------- */

/* One round trip: the calls, then the replies. */
struct round {
	struct cbp *p;
	struct call *calls;
	size_t ncalls, nsettle, left;
	struct rslot {
		struct script_call sc;	/* its script call in flight */
		struct round *rd;
		size_t i;
	} *slots;
	int64_t now;
	size_t got;
	size_t take_limit;		/* items one of its takes may bring */
	size_t taking;			/* its part of p->taking */
	int lost;
};

static void round_end(struct round *rd);
static void release_waiting(struct cbp *p);
static void flush(struct cbp *p, int take, int64_t now);
static void dispatch_all(struct cbp *p);
static void maybe_finish_stop(struct cbp *p);

static void on_reply(redisAsyncContext *ac, redisReply *r,
    struct script_call *sc);

/* Sends call s->i (scripts_async.h: EVALSHA, EVAL on NOSCRIPT).  -1 when
 * it could not be queued. */
static int
ac_send(struct cbp *p, struct rslot *s)
{
	struct call *c = &s->rd->calls[s->i];
	redisAsyncContext *ac;

	s->sc.name = c->script;
	s->sc.nkeys = 1;
	s->sc.nargs = c->nargs;
	s->sc.args = (const char *const *)c->argv;
	s->sc.lens = NULL;
	s->sc.done = on_reply;
	s->sc.priv = s;
	ac = store_links_get(p->links, store_links_route_key(p->links,
	    c->argv[0]));
	return ac == NULL ? -1 : script_async_run(ac, &s->sc);
}

static void
on_reply(redisAsyncContext *ac, redisReply *r, struct script_call *sc)
{
	struct rslot *s = sc->priv;
	struct round *rd = s->rd;
	struct cbp *p = rd->p;

	if (r == NULL) {
		/* The connection is going away (hiredis frees it after
		 * calling back every command in flight). */
		rd->lost = 1;
	} else if (s->i < rd->nsettle) {
		if (r->type == REDIS_REPLY_ERROR)
			log_warning("could not settle callback items: they "
			    "are sent again when their lease runs out",
			    "outcome", rd->calls[s->i].script, "error", r->str);
	} else {
		/* This take's items are held now, not awaited. */
		rd->taking -= rd->take_limit;
		p->taking -= rd->take_limit;
		rd->got += intake_reply(p, rd->calls[s->i].argv[1], r,
		    rd->now);
	}
	if (--rd->left == 0)
		round_end(rd);
}

static void
on_links_lost(void *priv, size_t store, const char *why)
{
	struct cbp *p = priv;

	(void)store;
	if (!p->proc.stopping)
		wh_store_failed(&p->store, why);
}

/* A round trip that takes longer than the command timeout: a store
 * hangs.  Dropping the connections ends the round (its items come back
 * when their lease runs out). */
static void
on_round_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cbp *p = w->data;

	if (p->rounds > 0) {
		store_links_drop(p->links);
		wh_store_failed(&p->store, "store call timed out");
	}
}

/* 0 when calls may be sent: the stores answer (the links connect when
 * a call asks for them). */
static int
ac_ready(struct cbp *p)
{
	return wh_store_ready(&p->store) < 0 ? -1 : 0;
}

static void
round_free(struct round *rd)
{
	size_t i;

	for (i = 0; i < rd->ncalls; i++)
		codeq_strv_free(rd->calls[i].argv, (size_t)rd->calls[i].nargs);
	free(rd->calls);
	free(rd->slots);
	free(rd);
}

static void
round_end(struct round *rd)
{
	struct cbp *p = rd->p;
	char num[24], held[24];

	p->taking -= rd->taking;	/* takes lost or never sent */
	/* The deadline is for progress: the next round's replies, if one
	 * is in flight, are due within a command timeout from now. */
	if (--p->rounds == 0)
		ev_timer_stop(p->proc.loop, &p->round_t);
	else
		ev_timer_again(p->proc.loop, &p->round_t);
	/* A lost connection is reported by its disconnect callback. */
	if (rd->lost && rd->nsettle)
		log_warning("could not settle callback items: they are sent "
		    "again when their lease runs out");
	else if (!rd->lost)
		wh_store_ok(&p->store);
	if (rd->got) {
		snprintf(num, sizeof(num), "%zu", rd->got);
		snprintf(held, sizeof(held), "%zu", p->held);
		log_debug("callback items taken", "count", num, "held", held);
	}
	round_free(rd);
	if (p->proc.stopping) {
		/* Items taken just before the stop go back at once. */
		release_waiting(p);
		if (p->npend)
			flush(p, 0, 0);
		maybe_finish_stop(p);
		return;
	}
	/* The next round trip first, so that the store works while this
	 * one's items are turned into requests. */
	if (p->again || p->npend) {
		int take = p->again_take;

		p->again = p->again_take = 0;
		flush(p, take && !p->store.down, wh_now_ms());
	}
	dispatch_all(p);
}

/* Sends the settling calls queued since the last round trip and, when
 * take is set, a cb_take on each queue due to be looked at.  While
 * ROUNDS_MAX round trips are in flight this one waits for one to end. */
static void
flush(struct cbp *p, int take, int64_t now)
{
	struct round *rd = NULL;
	size_t i, nsettle = p->npend, ntake = 0, limit = 0;

	if (p->rounds >= ROUNDS_MAX) {
		p->again = 1;
		p->again_take |= take;
		return;
	}
	if (ac_ready(p) < 0) {
		if (nsettle)
			log_warning("could not settle callback items: they "
			    "are sent again when their lease runs out");
		calls_clear(p);
		return;
	}
	if (take)
		ntake = intake_calls(p, now, &limit);
	if (p->npend == 0)
		return;
	if ((rd = calloc(1, sizeof(*rd))) == NULL ||
	    (rd->slots = calloc(p->npend, sizeof(*rd->slots))) == NULL) {
		free(rd);
		calls_clear(p);
		return;
	}
	/* The round owns the calls from here on. */
	rd->p = p;
	rd->calls = p->pend;
	rd->ncalls = p->npend;
	rd->nsettle = nsettle;
	rd->now = now;
	rd->take_limit = limit;
	rd->taking = ntake * limit;
	p->taking += rd->taking;
	p->pend = NULL;
	p->npend = p->cappend = 0;
	if (p->rounds++ == 0)
		ev_timer_again(p->proc.loop, &p->round_t);
	for (i = 0; i < rd->ncalls; i++) {
		rd->slots[i].rd = rd;
		rd->slots[i].i = i;
		if (ac_send(p, &rd->slots[i]) < 0)
			break;
		rd->left++;
	}
	if (i < rd->ncalls)
		rd->lost = 1;	/* hiredis did not take the rest */
	if (rd->left == 0)
		round_end(rd);
}

static void
dispatch_all(struct cbp *p)
{
	struct endpoint *ep;

	for (ep = p->eps; ep; ep = ep->next)
		dispatch(p, ep);
}

/* Items not yet sent go back at once, without counting an attempt. */
static void
release_waiting(struct cbp *p)
{
	struct endpoint *ep;

	for (ep = p->eps; ep; ep = ep->next) {
		struct cb_item *v[64];
		size_t n = 0;

		while (ep->head) {
			struct cb_item *it = ep->head;

			ep->head = it->next;
			it->next = NULL;
			ep->nwaiting--;
			ep->nheld--;
			v[n++] = it;
			p->held--;
			if (n == 64 || ep->head == NULL) {
				settle(p, v, n, SETTLE_RELEASE, 0, "", -1);
				while (n > 0)
					cb_item_free(v[--n]);
			}
		}
		ep->tail = NULL;
	}
}

/* Items that waited here for most of their lease are given up before
 * another sender (or this one) may take them again.  Takes are sized by
 * each endpoint's room, so this only happens to items waiting for a
 * slot of a host whose other endpoints keep it busy that long. */
static void
expire_waiting(struct cbp *p, int64_t now)
{
	struct endpoint *ep;

	for (ep = p->eps; ep; ep = ep->next) {
		while (ep->head &&
		    now - ep->head->taken_at > p->visibility_ms * 8 / 10) {
			struct cb_item *it = ep->head;

			ep->head = it->next;
			if (ep->head == NULL)
				ep->tail = NULL;
			ep->nwaiting--;
			ep->nheld--;
			cb_item_free(it);
			p->held--;
		}
	}
}

/* ---- sending ----------------------------------------------------- */

static void
delivery_free(struct delivery *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		cb_item_free(d->items[i]);
	free(d->items);
	free(d);
}

static void
maybe_finish_stop(struct cbp *p)
{
	if (p->proc.stopping && http_inflight(p->http) == 0 &&
	    p->rounds == 0)
		ev_break(p->proc.loop, EVBREAK_ALL);
}

static void
on_done(void *arg, const struct http_result *r)
{
	struct delivery *d = arg;
	struct cbp *p = d->p;
	enum http_verdict v = http_classify(r);
	struct cb_item *retry[d->n], *dead[d->n];
	size_t i, nr = 0, nd = 0;
	char tid[16];

	d->ep->inflight--;
	d->ep->nheld -= d->n;
	p->held -= d->n;
	if (r->curl_code == CURLE_ABORTED_BY_CALLBACK) {
		/* Cancelled at shutdown: not an attempt. */
		settle(p, d->items, d->n, SETTLE_RELEASE, 0, "", -1);
		flush(p, 0, 0);
		delivery_free(d);
		return;
	}
	wh_count("result", (int)v, r->seconds);
	snprintf(tid, sizeof(tid), "%zu", d->n);
	if (v == HTTP_DELIVERED) {
		log_debug("callbacks delivered", "webhook_id", d->id,
		    "items", tid);
		settle(p, d->items, d->n, SETTLE_ACK, r->status, "", -1);
	} else {
		for (i = 0; i < d->n; i++) {
			if (v == HTTP_RETRY && d->items[i]->deliveries <
			    p->cfg->callbacks.max_attempts)
				retry[nr++] = d->items[i];
			else
				dead[nd++] = d->items[i];
		}
		log_notice("callback delivery failed", "webhook_id", d->id,
		    "items", tid, "outcome", http_verdict_name(v),
		    "error", r->error);
		settle(p, retry, nr, SETTLE_RETRY, r->status, r->error,
		    r->retry_after_ms);
		settle(p, dead, nd, SETTLE_DEAD, r->status, r->error, -1);
		for (i = 0; i < nd; i++)
			log_warning("callback dead-lettered", "task",
			    dead[i]->task_id, "queue", dead[i]->queue,
			    "error", r->error);
	}
	/* A slot of this host is free: any endpoint of it may use it, and
	 * its room is taken from the store, in the round trip that settles
	 * these items, as soon as this callback (and any other ending in
	 * this loop iteration) is done. */
	if (p->proc.stopping)
		flush(p, 0, 0);
	else {
		struct endpoint *o;

		for (o = p->eps; o; o = o->next)
			if (same_host(o, d->ep))
				dispatch(p, o);
		if (!ev_is_active(&p->refill))
			ev_timer_start(p->proc.loop, &p->refill);
	}
	delivery_free(d);
	/* Endpoints are freed by the tick only: callers may be walking
	 * the list. */
	maybe_finish_stop(p);
}

static const char *
common_traceparent(struct cb_item *const *items, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(items[i]->traceparent, items[0]->traceparent) != 0)
			return NULL;
	return items[0]->traceparent;
}

static void
dispatch(struct cbp *p, struct endpoint *ep)
{
	size_t max = (size_t)p->cfg->callbacks.batch_max, size;
	int per_host = p->cfg->webhooks.max_per_host;
	struct curl_slist *h;
	struct delivery *d;
	char *body;
	size_t len;

	if (max == 0)
		max = 1;
	while (ep->head && host_inflight(p, ep) < per_host) {
		if ((d = calloc(1, sizeof(*d))) == NULL ||
		    (d->items = calloc(max, sizeof(*d->items))) == NULL) {
			free(d);
			return;
		}
		d->p = p;
		d->ep = ep;
		size = 0;
		while (ep->head && d->n < max && (d->n == 0 ||
		    size < BODY_SOFT_MAX)) {
			struct cb_item *it = ep->head;

			ep->head = it->next;
			it->next = NULL;
			ep->nwaiting--;
			size += strlen(it->result) + strlen(it->error) + 256;
			d->items[d->n++] = it;
		}
		if (ep->head == NULL)
			ep->tail = NULL;
		body = cb_body(d->items, d->n, &len, d->id, sizeof(d->id));
		h = body ? wh_headers(p->have_key ? &p->key : NULL, d->id,
		    body, len, common_traceparent(d->items, d->n)) : NULL;
		ep->inflight++;
		if (body == NULL || h == NULL ||
		    http_post(p->http, ep->url, body, len, h, on_done, d) < 0) {
			struct http_result r = { .curl_code = CURLE_OUT_OF_MEMORY,
			    .retry_after_ms = -1, .error = "could not start request" };

			if (h == NULL)
				free(body);
			if (body == NULL)
				curl_slist_free_all(h);
			on_done(d, &r);
			return;
		}
	}
}

/* ---- the loop ---------------------------------------------------- */

static void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cbp *p = w->data;
	struct endpoint *ep;
	int64_t now = wh_now_ms();

	expire_waiting(p, now);
	if (wh_store_ready(&p->store) == 0)
		refresh_queues(p, now);
	flush(p, !p->store.down, now);
	for (ep = p->eps; ep; ep = ep->next)
		dispatch(p, ep);
	endpoint_gc(p);
}

/* Requests ended: take what their room allows now rather than at the
 * next tick. */
static void
on_refill(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cbp *p = w->data;
	struct endpoint *ep;

	if (p->proc.stopping)
		return;
	flush(p, !p->store.down, wh_now_ms());
	for (ep = p->eps; ep; ep = ep->next)
		dispatch(p, ep);
}

static void
on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cbp *p = w->data;

	log_notice("requests still in flight at shutdown: cancelled, their "
	    "items are due again at once");
	http_free(p->http);
	p->http = NULL;
	ev_break(loop, EVBREAK_ALL);
}

static void
on_stop(struct wh_proc *wp)
{
	struct cbp *p = wp->data;

	ev_timer_stop(wp->loop, &p->tick);
	ev_timer_stop(wp->loop, &p->refill);
	release_waiting(p);
	flush(p, 0, 0);
	if (http_inflight(p->http) == 0 && p->rounds == 0) {
		ev_break(wp->loop, EVBREAK_ALL);
		return;
	}
	/* Let the requests and the round trip in flight end (bounded). */
	ev_timer_init(&p->drain, on_drain_timeout,
	    (p->cfg->webhooks.timeout_ms < 5000 ?
	    p->cfg->webhooks.timeout_ms : 5000) / 1000.0 + 0.5, 0.);
	p->drain.data = p;
	ev_timer_start(wp->loop, &p->drain);
}

static void
on_wake(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(int *)w->data = 1;
}

/* At exit: what the cancelled requests gave back, and the acks of the
 * round trip in flight, reach the store (waiting 2 s at most); then the
 * connection is closed. */
static void
finish_rounds(struct cbp *p)
{
	ev_timer t;
	int late = 0;

	p->proc.stopping = 1;
	ev_timer_init(&t, on_wake, 2., 0.);
	t.data = &late;
	ev_timer_start(p->proc.loop, &t);
	while (!late) {
		if (p->rounds < ROUNDS_MAX && p->npend)
			flush(p, 0, 0);
		if (p->rounds == 0)
			break;
		ev_run(p->proc.loop, EVRUN_ONCE);
	}
	ev_timer_stop(p->proc.loop, &t);
	ev_timer_stop(p->proc.loop, &p->round_t);
	store_links_drop(p->links);	/* calls back what is left: lost */
}

static int
setup(struct cbp *p, const struct codeq_config *cfg)
{
	const struct webhook_policy *w = &cfg->webhooks;

	char why[256];

	p->cfg = cfg;
	wh_store_init(&p->store, cfg, "callbacks");
	if ((p->links = store_links_new(p->proc.loop, cfg, 1, on_links_lost, p,
	    why, sizeof(why))) == NULL) {
		log_error("callbacks setup failed", "error", why);
		return -1;
	}
	ev_timer_init(&p->round_t, on_round_timeout, 0., (double)
	    (cfg->store.command_timeout_ms > 0 ? cfg->store.command_timeout_ms :
	    5000) / 1000.0);
	p->round_t.data = p;
	if ((p->http = wh_http_setup(p->proc.loop, w, &p->key,
	    &p->have_key)) == NULL)
		return -1;
	p->visibility_ms = cfg->callbacks.visibility_ms;
	/* A request must end before its items' lease runs out. */
	if (p->visibility_ms < w->timeout_ms + 5000)
		p->visibility_ms = w->timeout_ms + 5000;
	p->hold_max = (size_t)cfg->callbacks.batch_max *
	    (size_t)(w->max_per_host > 0 ? w->max_per_host : 1) * 4;
	if (p->hold_max < 200)
		p->hold_max = 200;
	srand((unsigned)wh_now_ms() ^ (unsigned)getpid());
	return 0;
}

int
callbacks_main(const struct codeq_config *cfg, int ipc_fd)
{
	struct cbp p;
	double window;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	log_set_proc("callbacks");
	p.proc.on_stop = on_stop;
	p.proc.data = &p;
	if (wh_proc_init(&p.proc, "callbacks", ipc_fd) < 0)
		return 1;
	if (setup(&p, cfg) < 0) {
		store_links_free(p.links);
		http_free(p.http);
		wh_proc_fini(&p.proc);
		return 1;
	}
	window = (cfg->callbacks.batch_window_ms > 0 ?
	    cfg->callbacks.batch_window_ms : 50) / 1000.0;
	ev_timer_init(&p.tick, on_tick, 0., window);
	p.tick.data = &p;
	ev_timer_init(&p.refill, on_refill, 0., 0.);
	p.refill.data = &p;
	if (cfg->callbacks.enabled)
		ev_timer_start(p.proc.loop, &p.tick);
	wh_proc_ready(&p.proc);
	log_info("callbacks started", "enabled",
	    cfg->callbacks.enabled ? "yes" : "no", "signed",
	    p.have_key ? "yes" : "no");
	ev_run(p.proc.loop, 0);
	ev_timer_stop(p.proc.loop, &p.drain);
	ev_timer_stop(p.proc.loop, &p.refill);
	http_free(p.http);
	finish_rounds(&p);
	calls_clear(&p);
	free(p.pend);
	codeq_strv_free(p.queues, p.nqueues);
	free(p.poll_at);
	free(p.poll_gap);
	endpoint_gc(&p);
	store_links_free(p.links);
	wh_store_close(&p.store);
	sign_key_clear(&p.key);
	wh_proc_fini(&p.proc);
	return rc;
}
