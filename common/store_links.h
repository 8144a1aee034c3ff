/*
 * store_links.h - one asynchronous link per store of a configuration
 * (the home, then each [shard NAME]; or each node of a Redis Cluster,
 * [store] cluster = yes), for the daemons' event loops: the
 * asynchronous side of libcodeq's routing (lib/shardmap.h gives both the
 * same answer).  The notifier's depth reads and the callbacks' outbox
 * scripts send each command to the store holding its queue.
 *
 * A link is opened when first asked for (AUTH and SELECT queued first,
 * store_async.h; the password file is read at each connect, so a rotated
 * password is picked up) and forgotten when it fails or closes: hiredis
 * then calls its commands back with no reply, and the next ask opens a
 * new one.
 */
#ifndef CODEQ_STORE_LINKS_H
#define CODEQ_STORE_LINKS_H

#include <stddef.h>

#include <ev.h>
#include <hiredis/async.h>

#include "conf.h"

struct store_links;

/* A link of store could not connect, or was lost (why says how). */
typedef void store_links_lost_fn(void *priv, size_t store, const char *why);

/* select_db: SELECT the URL's database (not for pub/sub).  NULL with why
 * in err when the shard map is refused or memory runs out. */
struct store_links *store_links_new(struct ev_loop *loop,
    const struct codeq_config *cfg, int select_db, store_links_lost_fn *lost,
    void *priv, char *err, size_t errlen);
size_t store_links_count(const struct store_links *l);
/* The store of a queue, of a key (codeq:{Q}:... as Q, else the home; on
 * a cluster, the node of the key's slot). */
size_t store_links_route(struct store_links *l, const char *queue);
size_t store_links_route_key(struct store_links *l, const char *key);
/* Store i's link, opened if needed; NULL when it cannot even start (lost
 * has been told why). */
redisAsyncContext *store_links_get(struct store_links *l, size_t i);
/* Drops every open link now (a call timed out): hiredis calls their
 * commands back with no reply, before this returns. */
void store_links_drop(struct store_links *l);
/* Drops every link; lost is not called any more.  l may be NULL. */
void store_links_free(struct store_links *l);

#endif
