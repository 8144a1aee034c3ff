/*
 * route.h - who is told about which queue: the notifier's subscription
 * table, the delivery modes and the per-subscriber batches.  Pure logic
 * (no I/O), so the unit tests drive it with made-up clocks.
 *
 * A flush takes the queues signalled during the coalescing window and
 * adds each to the pending batch of the subscribers chosen for it:
 *   fanout  every fanout subscriber of the queue;
 *   group   per group, one member subscribed to the queue, round-robin
 *           (members cooling down for minIntervalSeconds are passed over
 *           while another is free);
 *   hash    per group, the member chosen by rendezvous hashing of the
 *           queue name over the members' ids: always the same member
 *           while membership stays, and few queues move when it changes.
 * A subscriber's batch is sent as one POST when its minimum interval
 * since the previous one has passed and no request of it is in flight.
 *
 * Every lookup by queue name goes through a hash index (struct strset):
 * the notifier looks queues up per pub/sub message and per subscriber per
 * window, thousands of times a second, so nothing here scans a list of
 * queues or of subscribers per queue.
 */
#ifndef CODEQ_NOTIFIER_ROUTE_H
#define CODEQ_NOTIFIER_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "codeq.h"
#include "sign.h"

/* A set of strings in insertion order with O(1) lookups: keys[0 .. n-1]
 * (owned), indexed by an open-addressing table of positions.  All zero is
 * an empty set.  A cleared set keeps its key buffers for the next keys
 * (a subscriber's batch is about as big each window), and each key's
 * hash, so that a key hashed once can be looked up in many sets. */
struct strset {
	char **keys;			/* [n, nbuf): spare buffers */
	uint32_t *hashes;		/* parallel to keys */
	uint32_t *bufsize;		/* parallel to keys */
	size_t n, nbuf, cap;
	uint32_t *tab;			/* 1 + position; 0: free slot */
	size_t tabcap;			/* a power of 2, or 0 */
};

uint32_t strset_hash(const char *key);
/* The position of key, or -1. */
long strset_find(const struct strset *s, const char *key);
long strset_find_h(const struct strset *s, const char *key, uint32_t h);
/* Adds key unless present; *pos (may be NULL) gets its position.
 * 1 when added, 0 when it was there, -1 when out of memory.  _h: with
 * h = strset_hash(key). */
int strset_add(struct strset *s, const char *key, size_t *pos);
int strset_add_h(struct strset *s, const char *key, uint32_t h, size_t *pos);
/* Empties the set, keeping its memory for the next use. */
void strset_clear(struct strset *s);
void strset_free(struct strset *s);

struct pending_queue {
	const char *queue;		/* owned by the subscriber's pidx */
	int64_t ready;
	int64_t at_ms;			/* when the work was seen */
};

struct nsub {
	char *id;
	char *url;
	char **queues;
	size_t nqueues;
	codeq_sub_mode mode;
	char *group;			/* "" when none */
	int64_t min_interval_ms;
	int64_t expires_at;
	int has_key;
	struct sign_key key;		/* the subscription's own secret */
	long host;			/* the notifier's index of its URL's
					 * scheme://host:port; -1 none */
	/* Runtime state, kept across reloads of the table. */
	int64_t last_sent_ms;		/* 0: never */
	int inflight;
	struct pending_queue *pending;	/* pending[i].queue is pidx.keys[i] */
	size_t npending, pending_cap;
	struct strset pidx;
};

struct route;

struct route *route_new(void);
void route_free(struct route *r);

/* Replaces the table with subs (taken); runtime state of ids present in
 * both is carried over. */
void route_replace(struct route *r, struct nsub **subs, size_t n);
size_t route_count(const struct route *r);
struct nsub *route_get(struct route *r, size_t i);
/* Non-zero when some subscription lists queue (or "*"). */
int route_wants(const struct route *r, const char *queue);
/* The subscription with this id, or NULL. */
struct nsub *route_find(struct route *r, const char *id);

/* Adds one queue with ready tasks to the batches of its chosen
 * subscribers.  Returns how many subscribers were chosen. */
size_t route_assign(struct route *r, const char *queue, int64_t ready,
    int64_t now_ms);

/* 0 when s may send now; else the epoch ms when it may (or INT64_MAX
 * when it has nothing pending or a request in flight). */
int64_t route_next_send(const struct nsub *s, int64_t now_ms);

/* Forgets s's batch once it was handed to the HTTP engine. */
void route_sent(struct nsub *s, int64_t now_ms);

void nsub_free(struct nsub *s);

#endif
