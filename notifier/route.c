/*
 * route.c - delivery modes and batches of the notifier (see route.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"

struct rr {
	char *group;
	uint64_t next;
};

struct route {
	struct nsub **subs;
	size_t nsubs;
	struct rr *rr;		/* round-robin position per group */
	size_t nrr;
};

struct route *
route_new(void)
{
	return calloc(1, sizeof(struct route));
}

void
nsub_free(struct nsub *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nqueues; i++)
		free(s->queues[i]);
	for (i = 0; i < s->npending; i++)
		free(s->pending[i].queue);
	free(s->queues);
	free(s->pending);
	free(s->id);
	free(s->url);
	free(s->group);
	sign_key_clear(&s->key);
	free(s);
}

void
route_free(struct route *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nsubs; i++)
		nsub_free(r->subs[i]);
	for (i = 0; i < r->nrr; i++)
		free(r->rr[i].group);
	free(r->subs);
	free(r->rr);
	free(r);
}

static int
by_id(const void *a, const void *b)
{
	const struct nsub *x = *(struct nsub *const *)a;
	const struct nsub *y = *(struct nsub *const *)b;

	return strcmp(x->id, y->id);
}

void
route_replace(struct route *r, struct nsub **subs, size_t n)
{
	size_t i, j;

	/* Sorted by id: group and hash choices do not depend on the order
	 * the store listed the subscriptions in. */
	qsort(subs, n, sizeof(*subs), by_id);
	for (i = 0; i < n; i++) {
		for (j = 0; j < r->nsubs; j++) {
			struct nsub *old = r->subs[j];

			if (old == NULL || strcmp(old->id, subs[i]->id) != 0)
				continue;
			subs[i]->last_sent_ms = old->last_sent_ms;
			subs[i]->inflight = old->inflight;
			subs[i]->pending = old->pending;
			subs[i]->npending = old->npending;
			old->pending = NULL;
			old->npending = 0;
			break;
		}
	}
	for (j = 0; j < r->nsubs; j++)
		nsub_free(r->subs[j]);
	free(r->subs);
	r->subs = subs;
	r->nsubs = n;
}

size_t
route_count(const struct route *r)
{
	return r->nsubs;
}

struct nsub *
route_get(struct route *r, size_t i)
{
	return i < r->nsubs ? r->subs[i] : NULL;
}

static int
lists(const struct nsub *s, const char *queue)
{
	size_t i;

	for (i = 0; i < s->nqueues; i++)
		if (strcmp(s->queues[i], queue) == 0 ||
		    strcmp(s->queues[i], "*") == 0)
			return 1;
	return 0;
}

int
route_wants(const struct route *r, const char *queue)
{
	size_t i;

	for (i = 0; i < r->nsubs; i++)
		if (lists(r->subs[i], queue))
			return 1;
	return 0;
}

static int
add_pending(struct nsub *s, const char *queue, int64_t ready, int64_t now)
{
	struct pending_queue *p;
	size_t i;

	for (i = 0; i < s->npending; i++) {
		if (strcmp(s->pending[i].queue, queue) == 0) {
			s->pending[i].ready = ready;
			s->pending[i].at_ms = now;
			return 0;
		}
	}
	p = realloc(s->pending, (s->npending + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	s->pending = p;
	if ((p[s->npending].queue = strdup(queue)) == NULL)
		return -1;
	p[s->npending].ready = ready;
	p[s->npending].at_ms = now;
	s->npending++;
	return 0;
}

static uint64_t
fnv1a(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	h = (h ^ '|') * 1099511628211ULL;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return h;
}

static struct rr *
rr_get(struct route *r, const char *group)
{
	struct rr *n;
	size_t i;

	for (i = 0; i < r->nrr; i++)
		if (strcmp(r->rr[i].group, group) == 0)
			return &r->rr[i];
	if ((n = realloc(r->rr, (r->nrr + 1) * sizeof(*n))) == NULL)
		return NULL;
	r->rr = n;
	if ((n[r->nrr].group = strdup(group)) == NULL)
		return NULL;
	n[r->nrr].next = 0;
	return &r->rr[r->nrr++];
}

/* Picks one member of (mode, group) subscribed to queue. */
static struct nsub *
choose(struct route *r, enum sub_mode mode, const char *group,
    const char *queue, int64_t now)
{
	struct nsub *m[64], *best = NULL;
	size_t n = 0, i;
	uint64_t h, bh = 0;
	struct rr *rr;

	for (i = 0; i < r->nsubs && n < 64; i++) {
		struct nsub *s = r->subs[i];

		if (s->mode == mode && strcmp(s->group, group) == 0 &&
		    lists(s, queue))
			m[n++] = s;
	}
	if (n == 0)
		return NULL;
	if (mode == SUB_HASH) {
		for (i = 0; i < n; i++) {
			h = fnv1a(queue, m[i]->id);
			if (best == NULL || h > bh) {
				best = m[i];
				bh = h;
			}
		}
		return best;
	}
	if ((rr = rr_get(r, group)) == NULL)
		return m[0];
	/* Round-robin, passing over members that could not send now. */
	for (i = 0; i < n; i++) {
		struct nsub *s = m[(rr->next + i) % n];

		if (s->inflight == 0 && (s->last_sent_ms == 0 ||
		    now >= s->last_sent_ms + s->min_interval_ms)) {
			rr->next += i + 1;
			return s;
		}
	}
	return m[rr->next++ % n];
}

size_t
route_assign(struct route *r, const char *queue, int64_t ready,
    int64_t now_ms)
{
	size_t i, j, chosen = 0;

	for (i = 0; i < r->nsubs; i++) {
		struct nsub *s = r->subs[i], *c;
		int seen = 0;

		if (!lists(s, queue))
			continue;
		if (s->mode == SUB_FANOUT) {
			chosen += add_pending(s, queue, ready, now_ms) == 0;
			continue;
		}
		/* One choice per (mode, group): made at its first member. */
		for (j = 0; j < i && !seen; j++)
			seen = r->subs[j]->mode == s->mode &&
			    strcmp(r->subs[j]->group, s->group) == 0 &&
			    lists(r->subs[j], queue);
		if (seen)
			continue;
		c = choose(r, s->mode, s->group, queue, now_ms);
		if (c && add_pending(c, queue, ready, now_ms) == 0)
			chosen++;
	}
	return chosen;
}

int64_t
route_next_send(const struct nsub *s, int64_t now_ms)
{
	int64_t at;

	if (s->npending == 0 || s->inflight)
		return INT64_MAX;
	if (s->last_sent_ms == 0)
		return 0;
	at = s->last_sent_ms + s->min_interval_ms;
	return at <= now_ms ? 0 : at;
}

void
route_sent(struct nsub *s, int64_t now_ms)
{
	size_t i;

	for (i = 0; i < s->npending; i++)
		free(s->pending[i].queue);
	free(s->pending);
	s->pending = NULL;
	s->npending = 0;
	s->last_sent_ms = now_ms;
}

int
route_mode_parse(const char *s, enum sub_mode *out)
{
	if (strcmp(s, "fanout") == 0)
		*out = SUB_FANOUT;
	else if (strcmp(s, "group") == 0)
		*out = SUB_GROUP;
	else if (strcmp(s, "hash") == 0)
		*out = SUB_HASH;
	else
		return -1;
	return 0;
}

const char *
route_mode_name(enum sub_mode m)
{
	switch (m) {
	case SUB_GROUP: return "group";
	case SUB_HASH: return "hash";
	default: return "fanout";
	}
}
