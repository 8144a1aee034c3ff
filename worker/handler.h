/*
 * handler.h - what running a handler produces, whatever its kind.
 *
 * Both handler kinds (exec.c, so.c) turn one task into a struct run_result;
 * worker.c turns that verdict into one store call (complete, nack or fail).
 */
#ifndef CODEQ_WORKER_HANDLER_H
#define CODEQ_WORKER_HANDLER_H

#include <stdint.h>

#include "codeq.h"
#include "conf.h"

enum run_verdict {
	RUN_OK = 0,		/* complete with result (JSON text) */
	RUN_RETRY,		/* nack: retry after retry_after_ms (<0: backoff) */
	RUN_FAIL,		/* fail, attempts permitting: retry with backoff */
	RUN_FAIL_PERMANENT,	/* fail with no more attempts */
	RUN_ABORTED,		/* stopped for shutdown: released, attempt refunded */
	RUN_LEASE_LOST,		/* stopped: the lease was lost, no verdict to store */
};

struct run_result {
	enum run_verdict verdict;
	char *result;		/* RUN_OK: JSON text, malloc()ed */
	char *error;		/* otherwise: text, malloc()ed (may be NULL) */
	int64_t retry_after_ms;
	int timed_out;
};

void run_result_free(struct run_result *r);
/* Sets verdict and a formatted error text. */
void run_result_set(struct run_result *r, enum run_verdict v,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Turns handler output into the stored result: valid JSON is kept as it
 * is, empty output becomes null, anything else becomes a JSON string
 * (invalid UTF-8 replaced by U+FFFD).  Returns malloc()ed text or NULL. */
char *result_normalize(const char *out, size_t len);

/* Exit codes of the exec-handler contract (codeq-handler(7)). */
#define HANDLER_EXIT_OK		0
#define HANDLER_EXIT_PERMANENT	65	/* EX_DATAERR: fail, no more attempts */
#define HANDLER_EXIT_RETRY	75	/* EX_TEMPFAIL: retry later */

/* Exit status of a worker whose .so handler could not be loaded or
 * refused to start (EX_CONFIG): the dispatcher counts it as a crash. */
#define WORKER_EXIT_CONFIG	78

struct ipc_msg;
struct child_link;

struct exec_ctx {
	const struct pool_config *pool;
	struct child_link *link;	/* watched while the handler runs:
					   ABORT (or its end) stops the handler */
	int lease_lost;		/* set when LEASE_LOST named the running task */
	/* The worker's handler for the other messages (RELOAD, LEASE_LOST
	 * of a task still waiting in a prefetched batch). */
	void (*on_msg)(void *arg, const struct ipc_msg *m);
	void *arg;
};

int exec_run(struct exec_ctx *ctx, const codeq_task *t, int64_t deadline_ms,
    struct run_result *r);

struct so_handler;
/* dlopen()s the pool's .so once, checks its ABI version, calls init. */
int so_open(const struct pool_config *pool, struct so_handler **out,
    char *err, size_t errlen);
void so_run(struct so_handler *h, const codeq_task *t, int64_t deadline_ms,
    struct run_result *r);
void so_close(struct so_handler *h);
int so_probe(const char *path, char *err, size_t errlen);

#endif
