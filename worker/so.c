/*
 * so.c - the shared-object handler: dlopen()ed once per worker.
 *
 * The object exports `codeq_handler_v1`, a struct codeq_handler whose
 * abi_version must equal CODEQ_HANDLER_ABI_VERSION (codeq.h).  init()
 * runs once with the pool's handler_config, handle() once per task, fini()
 * when the worker stops.  A handler that crashes takes the worker with it:
 * the dispatcher gives the task back and restarts the worker.  A handler
 * cannot be interrupted in-process, so its timeout is enforced by the
 * dispatcher, which kills the worker (see dispatcher/supervise.c).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "log.h"

struct so_handler {
	void *dl;
	const codeq_handler *h;
	void *state;
};

/* Loads the object and checks its symbol and ABI version, without
 * calling init (codeqd -c FILE runs it in a throw-away child). */
int
so_probe(const char *path, char *err, size_t errlen)
{
	const codeq_handler *h;
	const char *e;
	void *dl;
	int rc = -1;

	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(err, errlen, "dlopen: %s", e ? e : "?");
		return -1;
	}
	if ((h = dlsym(dl, "codeq_handler_v1")) == NULL)
		snprintf(err, errlen, "no symbol codeq_handler_v1");
	else if (h->abi_version != CODEQ_HANDLER_ABI_VERSION)
		snprintf(err, errlen, "handler ABI version %d, codeqd speaks %d",
		    h->abi_version, CODEQ_HANDLER_ABI_VERSION);
	else if (h->handle == NULL)
		snprintf(err, errlen, "handle is NULL");
	else
		rc = 0;
	dlclose(dl);
	return rc;
}

int
so_open(const struct pool_config *pool, struct so_handler **out, char *err,
    size_t errlen)
{
	struct so_handler *s;
	const char *e;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((s->dl = dlopen(pool->so_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(err, errlen, "dlopen %s: %s", pool->so_path, e ? e : "?");
		goto fail;
	}
	dlerror();
	s->h = dlsym(s->dl, "codeq_handler_v1");
	if (s->h == NULL) {
		snprintf(err, errlen, "%s: no symbol codeq_handler_v1", pool->so_path);
		goto fail;
	}
	if (s->h->abi_version != CODEQ_HANDLER_ABI_VERSION) {
		snprintf(err, errlen, "%s: handler ABI version %d, codeqd speaks %d",
		    pool->so_path, s->h->abi_version, CODEQ_HANDLER_ABI_VERSION);
		goto fail;
	}
	if (s->h->handle == NULL) {
		snprintf(err, errlen, "%s: handle is NULL", pool->so_path);
		goto fail;
	}
	if (s->h->init != NULL && s->h->init(pool->handler_config, &s->state) != 0) {
		snprintf(err, errlen, "%s: init refused to start", pool->so_path);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->dl != NULL)
		dlclose(s->dl);
	free(s);
	return -1;
}

void
so_run(struct so_handler *s, const codeq_task *t, int64_t deadline_ms,
    struct run_result *r)
{
	codeq_handler_task task;
	codeq_handler_reply reply;
	codeq_handler_outcome o;

	memset(r, 0, sizeof(*r));
	memset(&reply, 0, sizeof(reply));
	task.id = t->id;
	task.queue = t->queue;
	task.payload = t->payload ? t->payload : "{}";
	task.payload_len = strlen(task.payload);
	task.attempt = t->attempts;
	task.max_attempts = t->max_attempts;
	task.deadline_ms = deadline_ms;

	o = s->h->handle(s->state, &task, &reply);
	r->retry_after_ms = -1;
	switch (o) {
	case CODEQ_HANDLER_OK:
		r->verdict = RUN_OK;
		r->result = result_normalize(reply.result ? reply.result : "",
		    reply.result ? strlen(reply.result) : 0);
		if (r->result == NULL)
			run_result_set(r, RUN_FAIL, "out of memory storing the result");
		break;
	case CODEQ_HANDLER_RETRY:
		run_result_set(r, RUN_RETRY, "%s",
		    reply.error ? reply.error : "handler asked to retry");
		if (reply.retry_after_ms > 0)
			r->retry_after_ms = reply.retry_after_ms;
		break;
	case CODEQ_HANDLER_FAIL:
		run_result_set(r, RUN_FAIL_PERMANENT, "%s",
		    reply.error ? reply.error : "handler failed permanently");
		break;
	default:
		run_result_set(r, RUN_FAIL, "handler returned unknown outcome %d",
		    (int)o);
		break;
	}
	free(reply.result);
	free(reply.error);
}

void
so_close(struct so_handler *s)
{
	if (s == NULL)
		return;
	if (s->h->fini != NULL)
		s->h->fini(s->state);
	dlclose(s->dl);
	free(s);
}
