/*
 * depth.h - the ready depth of queues, read for the notifier over
 * asynchronous store connections (hiredis + libev; one per store, each
 * queue's LLENs to the store holding it: common/store_links.h), so that
 * its loop goes on sending and reading signals while the stores answer.
 *
 * Queues asked for while a read is in flight wait for the next one: one
 * read at a time, each of every queue asked for since the last began.  A
 * read that the store does not answer within the timeout, or whose
 * connection fails, ends with every depth unknown (-1) and an error; the
 * connections are made again for the next read.
 */
#ifndef CODEQ_NOTIFIER_DEPTH_H
#define CODEQ_NOTIFIER_DEPTH_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"

struct depth_reader;

/* A read ended: depth[i] of queues[i] (the sum of its ten ready lists),
 * or -1 for every queue with error set. */
typedef void depth_done_fn(void *arg, char *const *queues,
    const int64_t *depth, size_t n, const char *error);

/* NULL when out of memory or cfg's shard map is refused. */
struct depth_reader *depth_reader_new(struct ev_loop *loop,
    const struct codeq_config *cfg, depth_done_fn *done, void *arg);
/* Asks for queue's depth in the next read (started by depth_read()).
 * -1 when out of memory. */
int depth_want(struct depth_reader *r, const char *queue);
/* Starts a read of the queues asked for, unless one is in flight (then
 * they go in the next, started when it ends). */
void depth_read(struct depth_reader *r);
/* Drops the connections; a read in flight ends without calling back. */
void depth_reader_free(struct depth_reader *r);

#endif
