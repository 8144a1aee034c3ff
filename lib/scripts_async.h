/*
 * scripts_async.h - the storage protocol's scripts on a hiredis
 * asynchronous connection: the same registry and SHA1s as scripts.h's
 * synchronous script_run(), for the daemons' event loops (codeqd's
 * metrics, codeq-webhooks' callbacks outbox).
 *
 * A call goes as EVALSHA with the SHA1 of the script's text; when the
 * store answers NOSCRIPT (a fresh, restarted or flushed store) it goes
 * once more as EVAL with the text, which also loads it for the calls
 * after.  No SCRIPT LOAD round trip, no per-connection state.
 *
 * The caller owns each struct script_call, and what its fields point to,
 * until its done function is called: the runner keeps no copy, so a call
 * costs no allocation.
 */
#ifndef CODEQ_SCRIPTS_ASYNC_H
#define CODEQ_SCRIPTS_ASYNC_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

struct script_call;

/* The script's reply (error replies included: see script_status), or
 * NULL when the link was lost or freed before it came.  hiredis frees
 * the reply when this returns. */
typedef void script_done_fn(redisAsyncContext *ac, redisReply *r,
    struct script_call *call);

struct script_call {
	const char *name;		/* CODEQ_SCRIPT_* (keys.h) */
	int nkeys;			/* the first nkeys of args are keys */
	int nargs;
	const char *const *args;
	const size_t *lens;		/* NULL: NUL-terminated args */
	script_done_fn *done;
	void *priv;			/* the caller's */
	int eval;			/* the runner's: sent again as EVAL */
};

/* Sends call on ac.  0: done will be called exactly once; -1: nothing
 * was sent (no such script, or ac is closing) and done is not called. */
int script_async_run(redisAsyncContext *ac, struct script_call *call);

#endif
