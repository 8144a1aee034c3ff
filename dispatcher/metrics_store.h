/*
 * metrics_store.h - reads queue depths from the store for /metrics and
 * /healthz, without blocking the dispatcher's loop.
 *
 * A collection is one asynchronous round on a private hiredis connection
 * driven by the dispatcher's libev loop: SMEMBERS codeq:queues, then the
 * read-only `stats` script (lib/scripts/stats.lua) once per queue, all
 * pipelined.  Its cost is bounded: at most max_queues queues (sorted by
 * name; codeq_queues still counts them all) and a deadline after which
 * the collection is abandoned and the store reported as not answering.
 * The results land in the gauges of codeq_metrics.h.
 */
#ifndef CODEQ_METRICS_STORE_H
#define CODEQ_METRICS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "conf.h"

struct metrics_store;

/* Called once when a collection ends, successfully or not. */
typedef void (*metrics_store_done_fn)(void *arg);

/* The stores of cfg ([store] url, the home, whose registry names the
 * queues; each queue's stats come from the store holding it, [shard
 * NAME]); password: NULL or one that overrides the home URL's.
 * timeout_ms bounds a whole collection.  NULL with err filled on a bad
 * URL or shard map, or when out of memory. */
struct metrics_store *metrics_store_new(struct ev_loop *loop,
    const struct codeq_config *cfg, const char *password, int64_t timeout_ms,
    size_t max_queues, metrics_store_done_fn done, void *arg, char *err,
    size_t errlen);
void metrics_store_free(struct metrics_store *ms);

/* Starts a collection unless one is running. */
void metrics_store_refresh(struct metrics_store *ms);
int metrics_store_busy(const struct metrics_store *ms);
/* Result of the last finished collection: 1 when the store answered. */
int metrics_store_ok(const struct metrics_store *ms);
/* Why the last collection failed ("" after a success). */
const char *metrics_store_error(const struct metrics_store *ms);
/* ev_now() of the end of the last collection, 0 before the first. */
ev_tstamp metrics_store_when(const struct metrics_store *ms);

#endif
