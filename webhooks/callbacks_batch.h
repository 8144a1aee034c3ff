/*
 * batch.h - the bodies and ids of result callbacks, and the retry
 * schedule.  Pure functions (no I/O), unit-tested.
 *
 * One item is sent as codeQ's result payload (docs/webhooks.md):
 *   {"webhookId", "taskId", "queue", "eventType", "status", "result",
 *    "error", "attempts", "completedAt", ["traceparent"]}
 * Several items for the same endpoint are sent as one POST:
 *   {"eventType": "TASK_RESULTS", "count": N, "results": [payload...]}
 */
#ifndef CODEQ_CALLBACKS_BATCH_H
#define CODEQ_CALLBACKS_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct cb_item {
	char *queue;
	int64_t n;			/* item number in the queue's outbox */
	char *task_id;
	char *url;
	char *status;			/* completed, failed, dead */
	char *result;			/* JSON text or "" */
	char *error;
	int attempts;
	int64_t completed_at;
	char *traceparent;
	char *wid;			/* its webhook id, or NULL */
	int deliveries;			/* this one included */
	int64_t lease_until;		/* the store's score for it: its
					 * lease, and the fencing token of
					 * cb_retry and cb_dead */
	int64_t taken_at;		/* local clock, ms */
	struct cb_item *next;
};

void cb_item_free(struct cb_item *it);

/* The item's webhook-id: the store's wid, cb_<random>_<n>, the same on
 * every retry and replay ("cb_<queue>_<n>" for an item without one). */
void cb_item_id(const struct cb_item *it, char *out, size_t outlen);

/* Builds the body for items[0..n-1] (malloc()ed, *len set) and the
 * request's webhook-id: the item's id for one item; for a batch
 * "cbb_" + a digest of its items' ids, so the same batch retried keeps
 * its id.  NULL when out of memory. */
char *cb_body(struct cb_item *const *items, size_t n, size_t *len,
    char *id, size_t idlen);

/* Delay before the next delivery after a retryable failure: base *
 * 2^(deliveries-1) capped at max, +/- 20% jitter (rnd in [0, 1));
 * Retry-After, when the endpoint sent one, wins (capped at one hour). */
int64_t cb_backoff(int deliveries, int64_t base_ms, int64_t max_ms,
    int64_t retry_after_ms, double rnd);

#endif
