/*
 * store.h - internal: the connection behind a codeq_t (blocking hiredis),
 * shared by every file of libcodeq and by the daemon's parts that link
 * libcodeq-common.
 *
 * Command names are written as literals at the start of the format string
 * (store_command(c, err, "HGETALL %s", key)), so tests/storage/kvrocks_commands.sh
 * can find every command the C code uses and check it against KVRocks'
 * list.
 *
 * A call whose reply was lost (I/O error, timeout) returns NULL with
 * CODEQ_ESTORE and drops the link; the next call reconnects, retrying with
 * exponential backoff.  With shards there is one link per store, each
 * with its own connection; messages name the store ("shard b (URL): ...").
 */
#ifndef CODEQ_STORE_H
#define CODEQ_STORE_H

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "codeq.h"
#include "shardmap.h"
#include "url.h"

#define STORE_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define STORE_DEFAULT_COMMAND_TIMEOUT_MS 5000
#define STORE_DEFAULT_RECONNECT_ATTEMPTS 5
#define STORE_DEFAULT_MAX_PAYLOAD (1024 * 1024)
#define STORE_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define STORE_KNOWN_QUEUES 32

/* One store: the home (links[0]) or a shard (links[i], the map's store
 * i).  Each has its own connection, reconnection and loaded scripts. */
struct store_link {
	redisContext *rc;		/* NULL while disconnected */
	struct store_url *url;		/* the home's: codeq's url; else own */
	struct store_url own;
	char label[320];		/* "store HOST:PORT", "shard NAME (URL)" */
	char (*sha)[41];		/* per script_defs entry; "" until loaded */
};

struct codeq {
	struct store_url url;		/* the home store's (the daemons open
					 * their asynchronous links with it) */
	struct store_link *links;	/* [0] the home store */
	size_t nlinks;			/* 1 + shards */
	struct shardmap *map;		/* NULL without shards */
	/* A Redis Cluster (codeq_options.cluster): links[0] then only names
	 * it and keeps the scripts' SHAs; every command goes through cl by
	 * its routing key (store_cmd.c), and a pipeline's replies are read
	 * as each command is appended, kept here until store_get_reply. */
	struct cluster *cl;
	redisReply **held;
	size_t held_head, held_len, held_cap;
	/* The link of each pipelined reply not read yet, in append order
	 * (only with shards: one link needs no bookkeeping). */
	size_t *fifo;
	size_t fifo_head, fifo_len, fifo_cap;
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int reconnect_attempts;
	size_t max_payload;
	int64_t retention_ms;
	unsigned int rand_state;	/* jitter seeds for nack/reap */
	/* Queues already added to the registry on this connection. */
	char *known[STORE_KNOWN_QUEUES];
	size_t nknown;
};

/* Public functions accept err == NULL; they point it at a local buffer
 * first so that internal code can always fill it. */
#define CQ_ERR_LOCAL(err) \
	codeq_error err##_local_; \
	if ((err) == NULL) \
		(err) = &err##_local_

/* Sets *err (may be NULL) and returns code. */
int cq_err(codeq_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* hiredis writes with write(2): SIGPIPE is blocked around the calls that
 * may write (store.c says why). */
struct pipe_guard {
	sigset_t old;
	int was_pending;
	int active;
};
void pipe_block(struct pipe_guard *g);
void pipe_unblock(struct pipe_guard *g);

/* Connects link i if it is down (reconnect with backoff). */
int store_link_ensure(codeq_t *c, size_t i, codeq_error *err);
/* Drops link i after an I/O error, filling err with ESTORE naming it. */
int store_link_lost(codeq_t *c, size_t i, codeq_error *err);
/* Abandons a pipeline: drops every link that may still owe replies (so
 * they cannot meet the next caller's), filling err with ESTORE. */
int store_lost(codeq_t *c, codeq_error *err);

/*
 * Routing (docs/storage.md, "Shards").  Every command goes to the store
 * of its first key: for EVAL and EVALSHA the first of KEYS (the home when
 * there is none), for any other command its first argument.  A first key
 * that is no queue key codeq:{Q}:... -- a global record, a SCAN cursor,
 * an INFO section, or no argument at all -- goes to the home store.
 * Commands that must reach every store (SCAN for fsck, SCRIPT LOAD) name
 * the link with the store_link_* calls.  With one store, nothing is
 * parsed.
 */
static inline size_t
store_nlinks(const codeq_t *c)
{
	return c->nlinks;
}
size_t store_link_of_queue(const codeq_t *c, const char *queue);
size_t store_link_of_key(const codeq_t *c, const char *key, size_t len);

redisReply *store_link_command(codeq_t *c, size_t i, codeq_error *err,
    const char *fmt, ...);
redisReply *store_link_argv(codeq_t *c, size_t i, int argc,
    const char **argv, const size_t *lens, codeq_error *err);
int store_link_append_argv(codeq_t *c, size_t i, int argc,
    const char **argv, const size_t *lens, codeq_error *err);

redisReply *store_command(codeq_t *c, codeq_error *err, const char *fmt, ...);
redisReply *store_argv(codeq_t *c, int argc, const char **argv,
    const size_t *lens, codeq_error *err);
int store_append_argv(codeq_t *c, int argc, const char **argv,
    const size_t *lens, codeq_error *err);
int store_append_command(codeq_t *c, codeq_error *err, const char *fmt, ...);
/* Next pipelined reply, in append order whatever the links (every link
 * with output waiting is flushed first, so the stores work in parallel),
 * or NULL with err set: the pipeline is then abandoned (store_lost). */
redisReply *store_get_reply(codeq_t *c, codeq_error *err);

/* Cluster mode: frees the replies a pipeline has not read. */
void store_cluster_drop_held(codeq_t *c);

/* Checks that r is not an error reply; returns EPROTO with what. */
int store_reply_ok(const redisReply *r, const char *what, codeq_error *err);

/* Adds the queue to codeq:queues once per connection (it lives outside the
 * queue's slot, so it cannot be written by the enqueue script). */
int store_register_queue(codeq_t *c, const char *queue, codeq_error *err);

/* A pseudo-random integer 0-999999 for backoff jitter. */
unsigned int store_random(codeq_t *c);

#endif
