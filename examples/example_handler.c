/*
 * example_handler.c - a shared-object handler for codeqd (codeq-handler(7)).
 *
 * Build: it is built by `make` as examples/.libs/example_handler.so (and
 * installed in $(pkglibdir)).  Use it in a pool:
 *
 *   [pool shout]
 *   queues = shout
 *   so = /usr/local/lib/codeq/example_handler.so
 *   handler_config = shouted by codeq
 *
 * Payload {"text": "hello world"} gives the result
 * {"upper": "HELLO WORLD", "words": 2, "by": "shouted by codeq", "attempt": 1}.
 * {"fail": "why"} fails the task permanently; {"retry_after_ms": N} asks for
 * a retry after N ms on the first attempt and succeeds on the next one.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codeq.h"

struct state {
	char *by;
};

static int
ex_init(const char *config, void **state)
{
	struct state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->by = strdup(config != NULL ? config : "example_handler");
	if (s->by == NULL) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static codeq_handler_outcome
ex_handle(void *state, const codeq_handler_task *task, codeq_handler_reply *reply)
{
	struct state *s = state;
	json_error_t jerr;
	json_t *in, *out, *v;
	const char *text;
	char *upper;
	size_t i, words = 0;
	int inword = 0;

	if ((in = json_loadb(task->payload, task->payload_len, 0, &jerr)) == NULL) {
		reply->error = strdup("payload is not a JSON object");
		return CODEQ_HANDLER_FAIL;
	}
	if ((v = json_object_get(in, "fail")) != NULL) {
		reply->error = strdup(json_is_string(v) ? json_string_value(v) : "failed");
		json_decref(in);
		return CODEQ_HANDLER_FAIL;
	}
	if ((v = json_object_get(in, "retry_after_ms")) != NULL &&
	    json_is_integer(v) && task->attempt == 1) {
		reply->retry_after_ms = json_integer_value(v);
		reply->error = strdup("asked to retry on the first attempt");
		json_decref(in);
		return CODEQ_HANDLER_RETRY;
	}
	v = json_object_get(in, "text");
	text = json_is_string(v) ? json_string_value(v) : "";
	if ((upper = strdup(text)) == NULL) {
		json_decref(in);
		return CODEQ_HANDLER_RETRY;	/* out of memory: try again later */
	}
	for (i = 0; upper[i] != '\0'; i++) {
		upper[i] = (char)toupper((unsigned char)upper[i]);
		if (isspace((unsigned char)upper[i]))
			inword = 0;
		else if (!inword) {
			inword = 1;
			words++;
		}
	}
	out = json_pack("{s:s, s:I, s:s, s:i}", "upper", upper, "words",
	    (json_int_t)words, "by", s->by, "attempt", task->attempt);
	free(upper);
	json_decref(in);
	if (out == NULL)
		return CODEQ_HANDLER_RETRY;
	reply->result = json_dumps(out, JSON_COMPACT);	/* malloc()ed: codeq frees it */
	json_decref(out);
	return CODEQ_HANDLER_OK;
}

static void
ex_fini(void *state)
{
	struct state *s = state;

	free(s->by);
	free(s);
}

/* The one symbol codeqd looks up. */
const codeq_handler codeq_handler_v1 = {
	.abi_version = CODEQ_HANDLER_ABI_VERSION,
	.name = "example",
	.init = ex_init,
	.handle = ex_handle,
	.fini = ex_fini,
};
