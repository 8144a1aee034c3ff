/* dlq.c: the dead-letter queue of a queue: list, requeue, purge. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"

#define DLQ_BATCH 1000		/* ids moved/deleted per script call */
#define DLQ_LIST_DEFAULT 100

int
codeq_dlq_list(codeq_t *c, const char *queue, size_t offset, size_t limit,
    codeq_task ***tasks, size_t *n, codeq_error *err)
{
	char dlq[TASK_KEY_MAX];
	redisReply *ids = NULL, *r;
	codeq_task **out = NULL;
	size_t i, sent = 0;
	int code;
	CQ_ERR_LOCAL(err);

	*tasks = NULL;
	*n = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK ||
	    (code = task_range_check(offset, limit, err)) != CODEQ_OK)
		return code;
	if (limit == 0)
		limit = DLQ_LIST_DEFAULT;
	if (key_queue(dlq, sizeof(dlq), queue, CODEQ_KEY_DLQ) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	ids = store_command(c, err, "LRANGE %s %lld %lld", dlq,
	    (long long)offset, (long long)(offset + limit - 1));
	if (ids == NULL)
		return err->code;
	if ((code = store_reply_ok(ids, "LRANGE dlq", err)) != CODEQ_OK)
		goto out;
	if (ids->type != REDIS_REPLY_ARRAY) {
		code = cq_err(err, CODEQ_EPROTO, "store: the DLQ is not a list");
		goto out;
	}
	if ((out = calloc(ids->elements + 1, sizeof(*out))) == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto out;
	}
	/* One pipelined round for the task hashes. */
	for (i = 0; i < ids->elements; i++) {
		char q[CODEQ_ID_MAX], key[TASK_KEY_MAX];
		codeq_error e;
		if (ids->element[i]->type != REDIS_REPLY_STRING ||
		    task_id_split(ids->element[i]->str, q, sizeof(q), key,
		    sizeof(key), &e) != CODEQ_OK)
			continue;
		if ((code = store_append_command(c, err, "HGETALL %s",
		    key)) != CODEQ_OK)
			goto out;
		sent++;
	}
	for (i = 0; i < sent; i++) {
		if ((r = store_get_reply(c, err)) == NULL) {
			code = err->code;
			goto out;
		}
		/* A dangling id (no hash) is skipped: fsck reports it. */
		if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		    task_from_reply(r, &out[*n], err) == CODEQ_OK)
			(*n)++;
		freeReplyObject(r);
	}
	*tasks = out;
	out = NULL;
	code = CODEQ_OK;
out:
	if (out != NULL) {
		codeq_tasks_free(out, *n);
		*n = 0;
		if (sent > 0) {
			/* Replies may still be pending: drop the link. */
			codeq_error e;
			store_lost(c, &e);
		}
	}
	freeReplyObject(ids);
	return code;
}

/* One dlq_requeue.lua / dlq_purge.lua call; *count from its reply. */
static int
dlq_script(codeq_t *c, const char *script, const char *queue, const char *id,
    size_t limit, size_t *count, codeq_error *err)
{
	char key[TASK_KEY_MAX], lim[24];
	const char *argv[4];
	redisReply *r;
	int code, nargs;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_DLQ) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	snprintf(lim, sizeof(lim), "%zu", limit);
	argv[0] = key;
	argv[1] = queue;
	if (id != NULL) {	/* dlq_requeue: Q, id, limit */
		argv[2] = id;
		argv[3] = lim;
		nargs = 4;
	} else {		/* dlq_purge: Q, limit */
		argv[2] = lim;
		nargs = 3;
	}
	if ((r = script_run(c, script, 1, nargs, argv, NULL, err)) == NULL)
		return err->code;
	if ((code = script_status(r, err)) == CODEQ_OK) {
		if (r->type == REDIS_REPLY_INTEGER)
			*count = (size_t)r->integer;
		else
			code = cq_err(err, CODEQ_EPROTO,
			    "store: unexpected reply to %s", script);
	}
	freeReplyObject(r);
	return code;
}

int
codeq_dlq_requeue(codeq_t *c, const char *queue, const char *id,
    size_t limit, size_t *moved, codeq_error *err)
{
	char q[CODEQ_ID_MAX], key[TASK_KEY_MAX];
	size_t total = 0, k, want;
	int code;
	CQ_ERR_LOCAL(err);

	if (moved != NULL)
		*moved = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (id != NULL) {
		if ((code = task_id_split(id, q, sizeof(q), key, sizeof(key),
		    err)) != CODEQ_OK)
			return code;
		if (strcmp(q, queue) != 0)
			return cq_err(err, CODEQ_EINVAL,
			    "id: task %s is not in queue %s", id, queue);
		code = dlq_script(c, CODEQ_SCRIPT_DLQ_REQUEUE, queue, id, 1, &total, err);
		if (moved != NULL)
			*moved = total;
		return code;
	}
	/* limit 0: everything, in bounded script calls. */
	do {
		want = DLQ_BATCH;
		if (limit > 0 && limit - total < want)
			want = limit - total;
		k = 0;
		code = dlq_script(c, CODEQ_SCRIPT_DLQ_REQUEUE, queue, "", want, &k, err);
		total += k;
	} while (code == CODEQ_OK && k == want && (limit == 0 || total < limit));
	if (moved != NULL)
		*moved = total;
	return code;
}

int
codeq_dlq_purge(codeq_t *c, const char *queue, size_t *purged,
    codeq_error *err)
{
	size_t total = 0, k;
	int code;
	CQ_ERR_LOCAL(err);

	if (purged != NULL)
		*purged = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	do {
		k = 0;
		code = dlq_script(c, CODEQ_SCRIPT_DLQ_PURGE, queue, NULL, DLQ_BATCH, &k,
		    err);
		total += k;
	} while (code == CODEQ_OK && k == DLQ_BATCH);
	if (purged != NULL)
		*purged = total;
	return code;
}
