/*
 * route.c - delivery modes and batches of the notifier (see route.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "notifier_route.h"

struct rr {
	char *group;
	uint64_t next;
};

struct idxv {				/* positions in subs, ascending */
	size_t *v;
	size_t n;
};

struct route {
	struct nsub **subs;		/* sorted by id */
	size_t nsubs;
	struct rr *rr;		/* round-robin position per group */
	size_t nrr;
	/* Who listens to what: the subscriptions to "*", and per queue
	 * named in some subscription (qidx) the others listing it. */
	struct idxv star;
	struct strset qidx;
	struct idxv *qsubs;		/* parallel to qidx.keys */
};

/* ---- strset ------------------------------------------------------ */

uint32_t
strset_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

/* The table slot of key, or of the free slot where it would go. */
static size_t
strset_slot(const struct strset *s, const char *key, uint32_t h)
{
	size_t m = s->tabcap - 1, i;
	uint32_t k;

	for (i = (size_t)h & m; (k = s->tab[i]) != 0; i = (i + 1) & m)
		if (s->hashes[k - 1] == h && strcmp(s->keys[k - 1], key) == 0)
			break;
	return i;
}

long
strset_find_h(const struct strset *s, const char *key, uint32_t h)
{
	size_t i;

	if (s->tabcap == 0)
		return -1;
	i = strset_slot(s, key, h);
	return s->tab[i] ? (long)s->tab[i] - 1 : -1;
}

long
strset_find(const struct strset *s, const char *key)
{
	return strset_find_h(s, key, strset_hash(key));
}

/* Keeps the table at most half full. */
static int
strset_grow(struct strset *s)
{
	size_t cap = s->tabcap ? s->tabcap * 2 : 16, m = cap - 1, i, j;
	uint32_t *t;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	/* Keys are distinct: each goes to the first free slot. */
	for (i = 0; i < s->n; i++) {
		for (j = (size_t)s->hashes[i] & m; t[j] != 0; j = (j + 1) & m)
			;
		t[j] = (uint32_t)(i + 1);
	}
	free(s->tab);
	s->tab = t;
	s->tabcap = cap;
	return 0;
}

/* Room for one more key in keys, hashes and bufsize. */
static int
strset_room(struct strset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 8;
	char **k;
	uint32_t *h, *b;

	if (s->n < s->cap)
		return 0;
	if ((k = realloc(s->keys, cap * sizeof(*k))) == NULL)
		return -1;
	s->keys = k;
	if ((h = realloc(s->hashes, cap * sizeof(*h))) == NULL)
		return -1;
	s->hashes = h;
	if ((b = realloc(s->bufsize, cap * sizeof(*b))) == NULL)
		return -1;
	s->bufsize = b;
	s->cap = cap;
	return 0;
}

int
strset_add_h(struct strset *s, const char *key, uint32_t h, size_t *pos)
{
	size_t i, len = strlen(key) + 1;

	if (s->tabcap != 0) {
		i = strset_slot(s, key, h);
		if (s->tab[i] != 0) {
			if (pos)
				*pos = s->tab[i] - 1;
			return 0;
		}
	}
	if (s->n >= UINT32_MAX - 1 || len >= UINT32_MAX)
		return -1;
	if (((s->n + 1) * 2 > s->tabcap && strset_grow(s) < 0) ||
	    strset_room(s) < 0)
		return -1;
	/* A spare buffer from before the last clear, if big enough. */
	if (s->n >= s->nbuf || s->bufsize[s->n] < len) {
		char *k = realloc(s->n < s->nbuf ? s->keys[s->n] : NULL, len);

		if (k == NULL)
			return -1;
		s->keys[s->n] = k;
		s->bufsize[s->n] = (uint32_t)len;
		if (s->n >= s->nbuf)
			s->nbuf = s->n + 1;
	}
	memcpy(s->keys[s->n], key, len);
	s->hashes[s->n] = h;
	s->tab[strset_slot(s, key, h)] = (uint32_t)(s->n + 1);
	if (pos)
		*pos = s->n;
	s->n++;
	return 1;
}

int
strset_add(struct strset *s, const char *key, size_t *pos)
{
	return strset_add_h(s, key, strset_hash(key), pos);
}

void
strset_clear(struct strset *s)
{
	s->n = 0;
	if (s->tab)
		memset(s->tab, 0, s->tabcap * sizeof(*s->tab));
}

void
strset_free(struct strset *s)
{
	size_t i;

	for (i = 0; i < s->nbuf; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->hashes);
	free(s->bufsize);
	free(s->tab);
	memset(s, 0, sizeof(*s));
}

/* ---- the table --------------------------------------------------- */

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
	free(s->queues);
	free(s->pending);
	strset_free(&s->pidx);
	free(s->id);
	free(s->url);
	free(s->group);
	sign_key_clear(&s->key);
	free(s);
}

static void
index_free(struct route *r)
{
	size_t i;

	for (i = 0; i < r->qidx.n; i++)
		free(r->qsubs[i].v);
	free(r->qsubs);
	r->qsubs = NULL;
	strset_free(&r->qidx);
	free(r->star.v);
	r->star.v = NULL;
	r->star.n = 0;
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
	index_free(r);
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

static int
idxv_push(struct idxv *x, size_t i)
{
	size_t *v;

	/* Built in ascending order: a queue listed twice counts once. */
	if (x->n > 0 && x->v[x->n - 1] == i)
		return 0;
	if ((v = realloc(x->v, (x->n + 1) * sizeof(*v))) == NULL)
		return -1;
	x->v = v;
	x->v[x->n++] = i;
	return 0;
}

static int
is_star(const struct nsub *s)
{
	size_t i;

	for (i = 0; i < s->nqueues; i++)
		if (strcmp(s->queues[i], "*") == 0)
			return 1;
	return 0;
}

/* Who listens to what, from r->subs.  -1 when out of memory (the index
 * is then partial: some queues are not assigned until the next reload). */
static int
index_build(struct route *r)
{
	size_t i, j, pos, cap = 0;
	int rc = 0;

	index_free(r);
	for (i = 0; i < r->nsubs; i++) {
		struct nsub *s = r->subs[i];

		if (is_star(s)) {
			rc |= idxv_push(&r->star, i);
			continue;
		}
		for (j = 0; j < s->nqueues; j++) {
			int added;

			/* Room first: qsubs stays parallel to qidx.keys. */
			if (r->qidx.n == cap) {
				size_t c = cap ? cap * 2 : 16;
				struct idxv *q = realloc(r->qsubs, c * sizeof(*q));

				if (q == NULL)
					return -1;
				r->qsubs = q;
				cap = c;
			}
			if ((added = strset_add(&r->qidx, s->queues[j], &pos)) < 0)
				return -1;
			if (added)
				r->qsubs[pos] = (struct idxv){ NULL, 0 };
			rc |= idxv_push(&r->qsubs[pos], i);
		}
	}
	return rc;
}

void
route_replace(struct route *r, struct nsub **subs, size_t n)
{
	size_t i, j;

	/* Sorted by id: group and hash choices do not depend on the order
	 * the store listed the subscriptions in, and ids are found by
	 * binary search. */
	qsort(subs, n, sizeof(*subs), by_id);
	for (i = 0, j = 0; i < n && j < r->nsubs; ) {
		struct nsub *old = r->subs[j];
		int c = strcmp(old->id, subs[i]->id);

		if (c < 0) {
			j++;
			continue;
		}
		if (c > 0) {
			i++;
			continue;
		}
		subs[i]->last_sent_ms = old->last_sent_ms;
		subs[i]->inflight = old->inflight;
		subs[i]->pending = old->pending;
		subs[i]->npending = old->npending;
		subs[i]->pending_cap = old->pending_cap;
		subs[i]->pidx = old->pidx;
		old->pending = NULL;
		old->npending = old->pending_cap = 0;
		memset(&old->pidx, 0, sizeof(old->pidx));
		i++;
		j++;
	}
	for (j = 0; j < r->nsubs; j++)
		nsub_free(r->subs[j]);
	free(r->subs);
	r->subs = subs;
	r->nsubs = n;
	index_build(r);
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

struct nsub *
route_find(struct route *r, const char *id)
{
	size_t lo = 0, hi = r->nsubs, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(r->subs[mid]->id, id)) == 0)
			return r->subs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
route_wants(const struct route *r, const char *queue)
{
	return r->star.n > 0 || strset_find(&r->qidx, queue) >= 0;
}

static int
add_pending(struct nsub *s, const char *queue, uint32_t h, int64_t ready,
    int64_t now)
{
	struct pending_queue *p;
	size_t pos;
	int added;

	/* Room first: pending stays parallel to pidx.keys. */
	if (s->npending == s->pending_cap) {
		size_t cap = s->pending_cap ? s->pending_cap * 2 : 8;

		if ((p = realloc(s->pending, cap * sizeof(*p))) == NULL)
			return -1;
		s->pending = p;
		s->pending_cap = cap;
	}
	if ((added = strset_add_h(&s->pidx, queue, h, &pos)) < 0)
		return -1;
	if (added) {
		s->pending[pos].queue = s->pidx.keys[pos];
		s->npending++;
	}
	s->pending[pos].ready = ready;
	s->pending[pos].at_ms = now;
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

/* The subscribers of a queue: positions in r->subs, ascending (the
 * merge of the "*" subscriptions and of those naming the queue). */
struct cands {
	size_t *v;
	size_t n;
	size_t buf[64];
};

static int
cands_get(const struct route *r, const char *queue, uint32_t h,
    struct cands *c)
{
	long q = strset_find_h(&r->qidx, queue, h);
	const struct idxv *a = &r->star, *b = q >= 0 ? &r->qsubs[q] : NULL;
	size_t nb = b ? b->n : 0, i = 0, j = 0;

	c->n = 0;
	c->v = c->buf;
	if (a->n + nb > sizeof(c->buf) / sizeof(c->buf[0]) &&
	    (c->v = malloc((a->n + nb) * sizeof(*c->v))) == NULL)
		return -1;
	while (i < a->n || j < nb) {
		if (j >= nb || (i < a->n && a->v[i] < b->v[j]))
			c->v[c->n++] = a->v[i++];
		else
			c->v[c->n++] = b->v[j++];
	}
	return 0;
}

static void
cands_free(struct cands *c)
{
	if (c->v != c->buf)
		free(c->v);
}

/* Picks one member of (mode, group) among the queue's subscribers. */
static struct nsub *
choose(struct route *r, const struct cands *c, codeq_sub_mode mode,
    const char *group, const char *queue, int64_t now)
{
	struct nsub *m[64], *best = NULL;
	size_t n = 0, i;
	uint64_t h, bh = 0;
	struct rr *rr;

	for (i = 0; i < c->n && n < 64; i++) {
		struct nsub *s = r->subs[c->v[i]];

		if (s->mode == mode && strcmp(s->group, group) == 0)
			m[n++] = s;
	}
	if (n == 0)
		return NULL;
	if (mode == CODEQ_SUB_HASH) {
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

/* Non-zero when the choice for s's (mode, group) was made already: among
 * the groups in done[], or when those overflowed, among the candidates
 * before position i. */
static int
group_seen(const struct route *r, const struct cands *c, size_t i,
    struct nsub **done, size_t ndone, int overflow)
{
	const struct nsub *s = r->subs[c->v[i]];
	size_t j;

	for (j = 0; j < ndone; j++)
		if (done[j]->mode == s->mode && strcmp(done[j]->group,
		    s->group) == 0)
			return 1;
	for (j = 0; overflow && j < i; j++)
		if (r->subs[c->v[j]]->mode == s->mode &&
		    strcmp(r->subs[c->v[j]]->group, s->group) == 0)
			return 1;
	return 0;
}

size_t
route_assign(struct route *r, const char *queue, int64_t ready,
    int64_t now_ms)
{
	struct nsub *done[16], *ch;
	struct cands c;
	size_t i, ndone = 0, chosen = 0;
	uint32_t h;
	int overflow = 0;

	/* Hashed once for the index and every subscriber's batch. */
	h = strset_hash(queue);
	if (cands_get(r, queue, h, &c) < 0)
		return 0;
	for (i = 0; i < c.n; i++) {
		struct nsub *s = r->subs[c.v[i]];

		if (s->mode == CODEQ_SUB_FANOUT) {
			chosen += add_pending(s, queue, h, ready, now_ms) == 0;
			continue;
		}
		/* One choice per (mode, group): made at its first member. */
		if (group_seen(r, &c, i, done, ndone, overflow))
			continue;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = s;
		else
			overflow = 1;
		ch = choose(r, &c, s->mode, s->group, queue, now_ms);
		if (ch && add_pending(ch, queue, h, ready, now_ms) == 0)
			chosen++;
	}
	cands_free(&c);
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
	/* The memory stays for the next batch, which is about as big. */
	strset_clear(&s->pidx);
	s->npending = 0;
	s->last_sent_ms = now_ms;
}
