/*
 * cbdlq.c - the result callbacks' dead-letter queue, codeq:{Q}:cbdlq
 * (codeq.h; docs/webhooks.md).  Items are the outbox's hashes
 * codeq:{Q}:cb:N, kept with their last status and error.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeq.h"
#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"

void
codeq_callbacks_free(codeq_callback *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(items[i].task_id);
		free(items[i].url);
		free(items[i].status);
		free(items[i].last_error);
	}
	free(items);
}

static int
fill(codeq_callback *cb, const redisReply *r)
{
	static const char *const names[] = { "task_id", "url", "status",
	    "last_error" };
	char **dst[] = { &cb->task_id, &cb->url, &cb->status,
	    &cb->last_error };
	size_t i, j;

	for (i = 0; i + 1 < r->elements; i += 2) {
		const char *k = r->element[i]->str, *v = r->element[i + 1]->str;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		for (j = 0; j < 4; j++)
			if (strcmp(k, names[j]) == 0 &&
			    (*dst[j] = strdup(v)) == NULL)
				return -1;
		if (strcmp(k, "deliveries") == 0)
			cb->deliveries = atoi(v);
		else if (strcmp(k, "last_status") == 0)
			cb->last_status = strtoll(v, NULL, 10);
		else if (strcmp(k, "created_at") == 0)
			cb->created_at = strtoll(v, NULL, 10);
		else if (strcmp(k, "dead_at") == 0)
			cb->dead_at = strtoll(v, NULL, 10);
	}
	for (j = 0; j < 4; j++)
		if (*dst[j] == NULL && (*dst[j] = strdup("")) == NULL)
			return -1;
	return 0;
}

int
codeq_callbacks_dlq_list(codeq_t *c, const char *queue, size_t offset,
    size_t limit, codeq_callback **items, size_t *n, codeq_error *err)
{
	char key[TASK_KEY_MAX];
	codeq_callback *v = NULL;
	redisReply *ns, *r;
	size_t i, k = 0;
	int code;

	*items = NULL;
	*n = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK ||
	    (code = task_range_check(offset, limit, err)) != CODEQ_OK)
		return code;
	if (limit == 0)
		limit = 100;
	/* hiredis' format knows %lld, not %zu. */
	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_CBDLQ) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if ((ns = store_command(c, err, "LRANGE %s %lld %lld", key,
	    (long long)offset, (long long)(offset + limit - 1))) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	if (ns->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(ns);
		return cq_err(err, CODEQ_EPROTO, "store: bad LRANGE reply");
	}
	for (i = 0; i < ns->elements; i++)
		if (ns->element[i]->type != REDIS_REPLY_STRING ||
		    key_cb(key, sizeof(key), queue, ns->element[i]->str) < 0 ||
		    (code = store_append_command(c, err, "HGETALL %s", key))
		    != CODEQ_OK) {
			/* Commands queued so far must not meet the next
			 * caller's replies: drop the link.  (An item number
			 * that is no string or too long for a key is not
			 * what cb_dead.lua writes.) */
			if (code == CODEQ_OK)
				code = cq_err(err, CODEQ_EPROTO,
				    "store: bad LRANGE reply");
			store_lost(c, NULL);
			goto fail;
		}
	if ((v = calloc(ns->elements + 1, sizeof(*v))) == NULL) {
		store_lost(c, NULL);
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < ns->elements; i++) {
		if ((r = store_get_reply(c, err)) == NULL) {
			code = err ? err->code : CODEQ_ESTORE;
			goto fail;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
			v[k].item = strtoll(ns->element[i]->str, NULL, 10);
			if (fill(&v[k++], r) < 0) {
				freeReplyObject(r);
				store_lost(c, NULL);
				code = cq_err(err, CODEQ_ENOMEM, "out of memory");
				goto fail;
			}
		}
		freeReplyObject(r);
	}
	freeReplyObject(ns);
	*items = v;
	*n = k;
	return CODEQ_OK;
fail:
	freeReplyObject(ns);
	codeq_callbacks_free(v, k);
	return code;
}

/* Runs cb_dlq_replay or cb_dlq_purge; *count receives the integer reply. */
static int
run(codeq_t *c, const char *script, const char *queue, int64_t item,
    size_t limit, size_t *count, codeq_error *err)
{
	char key[160], it[24], lim[24];
	const char *args[4];
	redisReply *r;
	int code;

	if (count)
		*count = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_CBDLQ) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if (item > 0)
		snprintf(it, sizeof(it), "%" PRId64, item);
	else
		it[0] = '\0';
	snprintf(lim, sizeof(lim), "%zu", limit ? limit : (size_t)1000000);
	args[0] = key;
	args[1] = queue;
	args[2] = it;
	args[3] = lim;
	if ((r = script_run(c, script, 1, strcmp(script, CODEQ_SCRIPT_CB_DLQ_REPLAY) == 0
	    ? 4 : 3, args, NULL, err)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	if ((code = script_status(r, err)) == CODEQ_OK) {
		if (r->type != REDIS_REPLY_INTEGER)
			code = cq_err(err, CODEQ_EPROTO, "store: %s: bad reply",
			    script);
		else if (count)
			*count = (size_t)r->integer;
	}
	freeReplyObject(r);
	if (code == CODEQ_OK && item > 0 && count && *count == 0)
		code = cq_err(err, CODEQ_ENOTFOUND, "callback item %" PRId64
		    " is not in the callbacks DLQ of %s", item, queue);
	return code;
}

int
codeq_callbacks_dlq_replay(codeq_t *c, const char *queue, int64_t item,
    size_t limit, size_t *replayed, codeq_error *err)
{
	return run(c, CODEQ_SCRIPT_CB_DLQ_REPLAY, queue, item, limit, replayed, err);
}

int
codeq_callbacks_dlq_purge(codeq_t *c, const char *queue, int64_t item,
    size_t *purged, codeq_error *err)
{
	return run(c, CODEQ_SCRIPT_CB_DLQ_PURGE, queue, item, 0, purged, err);
}
