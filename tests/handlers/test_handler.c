/*
 * tests/handlers/test_handler.c - a shared-object handler for the dispatcher tests.
 * The payload picks the behaviour:
 *   {"op":"echo"}            result = the payload
 *   {"op":"sleep","ms":N}    sleeps N ms, then result {"slept":N}
 *   {"op":"crash"}           SIGSEGV (the worker dies)
 *   {"op":"retry","ms":N}    retry after N ms (first attempt only)
 *   {"op":"fail"}            permanent failure
 *   {"op":"text"}            result is not JSON: "plain text"
 *   {"op":"hold","file":F}   waits while file F exists, then result
 *                            "released": a test decides when it ends
 *                            (a fixed sleep races a loaded machine)
 * handler_config "refuse" makes init fail.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "codeq.h"

static int
t_init(const char *config, void **state)
{
	*state = NULL;
	return config != NULL && strcmp(config, "refuse") == 0 ? -1 : 0;
}

static codeq_handler_outcome
t_handle(void *state, const codeq_handler_task *t, codeq_handler_reply *r)
{
	json_t *in = json_loadb(t->payload, t->payload_len, 0, NULL);
	const char *op = in ? json_string_value(json_object_get(in, "op")) : NULL;
	json_int_t ms = in ? json_integer_value(json_object_get(in, "ms")) : 0;
	codeq_handler_outcome o = CODEQ_HANDLER_OK;
	char buf[64];

	if (op == NULL || strcmp(op, "echo") == 0)
		r->result = strndup(t->payload, t->payload_len);
	else if (strcmp(op, "sleep") == 0) {
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) != 0)
			;
		snprintf(buf, sizeof(buf), "{\"slept\":%lld}", (long long)ms);
		r->result = strdup(buf);
	} else if (strcmp(op, "crash") == 0)
		raise(SIGSEGV);
	else if (strcmp(op, "retry") == 0 && t->attempt == 1) {
		r->retry_after_ms = ms;
		r->error = strdup("retry requested");
		o = CODEQ_HANDLER_RETRY;
	} else if (strcmp(op, "retry") == 0)
		r->result = strdup("\"retried\"");
	else if (strcmp(op, "fail") == 0) {
		r->error = strdup("permanent failure requested");
		o = CODEQ_HANDLER_FAIL;
	} else if (strcmp(op, "text") == 0)
		r->result = strdup("plain text");
	else if (strcmp(op, "hold") == 0) {
		const char *f = json_string_value(json_object_get(in, "file"));

		while (f != NULL && access(f, F_OK) == 0)
			usleep(50000);
		r->result = strdup("\"released\"");
	}
	json_decref(in);
	return o;
}

/* Built a second time with -DTEST_ABI_VERSION=99 (test_handler_badabi.so)
 * to check that codeqd refuses a handler of another ABI version. */
#ifndef TEST_ABI_VERSION
#define TEST_ABI_VERSION CODEQ_HANDLER_ABI_VERSION
#endif

const codeq_handler codeq_handler_v1 = {
	.abi_version = TEST_ABI_VERSION,
	.name = "test",
	.init = t_init,
	.handle = t_handle,
};
