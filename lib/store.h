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
 * exponential backoff.
 */
#ifndef CODEQ_STORE_H
#define CODEQ_STORE_H

#include <stdarg.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "codeq.h"
#include "url.h"

#define STORE_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define STORE_DEFAULT_COMMAND_TIMEOUT_MS 5000
#define STORE_DEFAULT_RECONNECT_ATTEMPTS 5
#define STORE_DEFAULT_MAX_PAYLOAD (1024 * 1024)
#define STORE_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define STORE_KNOWN_QUEUES 32

struct codeq {
	redisContext *rc;		/* NULL while disconnected */
	struct store_url url;
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int reconnect_attempts;
	size_t max_payload;
	int64_t retention_ms;
	char (*sha)[41];		/* per script_defs entry; "" until loaded */
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

/* Connects if the link is down (reconnect with backoff). */
int store_ensure(codeq_t *c, codeq_error *err);
/* Drops the link after an I/O error, filling err with ESTORE. */
int store_lost(codeq_t *c, codeq_error *err);

redisReply *store_command(codeq_t *c, codeq_error *err, const char *fmt, ...);
redisReply *store_argv(codeq_t *c, int argc, const char **argv,
    const size_t *lens, codeq_error *err);
int store_append_argv(codeq_t *c, int argc, const char **argv,
    const size_t *lens, codeq_error *err);
int store_append_command(codeq_t *c, codeq_error *err, const char *fmt, ...);
/* Next pipelined reply, or NULL with err set. */
redisReply *store_get_reply(codeq_t *c, codeq_error *err);

/* Checks that r is not an error reply; returns EPROTO with what. */
int store_reply_ok(const redisReply *r, const char *what, codeq_error *err);

/* Adds the queue to codeq:queues once per connection (it lives outside the
 * queue's slot, so it cannot be written by the enqueue script). */
int store_register_queue(codeq_t *c, const char *queue, codeq_error *err);

/* A pseudo-random integer 0-999999 for backoff jitter. */
unsigned int store_random(codeq_t *c);

#endif
