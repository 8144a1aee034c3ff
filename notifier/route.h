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
 */
#ifndef CODEQ_NOTIFIER_ROUTE_H
#define CODEQ_NOTIFIER_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "sign.h"

enum sub_mode { SUB_FANOUT = 0, SUB_GROUP, SUB_HASH };

struct pending_queue {
	char *queue;
	int64_t ready;
	int64_t at_ms;			/* when the work was seen */
};

struct nsub {
	char *id;
	char *url;
	char **queues;
	size_t nqueues;
	enum sub_mode mode;
	char *group;			/* "" when none */
	int64_t min_interval_ms;
	int64_t expires_at;
	int has_key;
	struct sign_key key;		/* the subscription's own secret */
	/* Runtime state, kept across reloads of the table. */
	int64_t last_sent_ms;		/* 0: never */
	int inflight;
	struct pending_queue *pending;
	size_t npending;
};

struct route;

struct route *route_new(void);
void route_free(struct route *r);

/* Replaces the table with subs (taken); runtime state of ids present in
 * both is carried over. */
void route_replace(struct route *r, struct nsub **subs, size_t n);
size_t route_count(const struct route *r);
struct nsub *route_get(struct route *r, size_t i);
/* Non-zero when some subscription lists queue. */
int route_wants(const struct route *r, const char *queue);

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
int route_mode_parse(const char *s, enum sub_mode *out);
const char *route_mode_name(enum sub_mode m);

#endif
