/* queue.c: per-queue housekeeping and inspection: promote, reap, stats,
 * backoff configuration, the queue registry. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "queue.h"
#include "scripts.h"
#include "store.h"
#include "task.h"

#define DEFAULT_BATCH 1000	/* tasks moved per promote/reap call */

static int
int_reply(const redisReply *r, const char *what, int64_t *out,
    codeq_error *err)
{
	int code;

	if ((code = script_status(r, err)) != CODEQ_OK)
		return code;
	if (r->type == REDIS_REPLY_INTEGER)
		*out = r->integer;
	else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER)
		*out = r->element[0]->integer;
	else
		return cq_err(err, CODEQ_EPROTO,
		    "store: unexpected reply to %s", what);
	return CODEQ_OK;
}

/* Runs a housekeeping script: KEYS[1] codeq:{Q}:<key>, Q, limit[, rand].
 * second (may be NULL) receives the second number of an array reply,
 * and is left as it is when the reply has none. */
static int
housekeep(codeq_t *c, const char *script, const char *keyname,
    const char *queue, size_t limit, int with_rand, size_t *count,
    int64_t *second, codeq_error *err)
{
	char key[TASK_KEY_MAX], lim[24], rnd[16];
	const char *argv[4];
	redisReply *r;
	int64_t v = 0;
	int code;

	if (count != NULL)
		*count = 0;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (key_queue(key, sizeof(key), queue, keyname) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	snprintf(lim, sizeof(lim), "%zu", limit > 0 ? limit : DEFAULT_BATCH);
	snprintf(rnd, sizeof(rnd), "%u", store_random(c));
	argv[0] = key;
	argv[1] = queue;
	argv[2] = lim;
	argv[3] = rnd;
	r = script_run(c, script, 1, with_rand ? 4 : 3, argv, NULL, err);
	if (r == NULL)
		return err->code;
	code = int_reply(r, script, &v, err);
	if (code == CODEQ_OK && second != NULL && r->type == REDIS_REPLY_ARRAY &&
	    r->elements > 1 && r->element[1]->type == REDIS_REPLY_INTEGER)
		*second = r->element[1]->integer;
	freeReplyObject(r);
	if (code == CODEQ_OK && count != NULL)
		*count = (size_t)v;
	return code;
}

int
codeq_promote(codeq_t *c, const char *queue, size_t limit, size_t *moved,
    codeq_error *err)
{
	CQ_ERR_LOCAL(err);
	return queue_promote(c, queue, limit, moved, NULL, err);
}

int
queue_promote(codeq_t *c, const char *queue, size_t limit, size_t *moved,
    int64_t *wait_ms, codeq_error *err)
{
	if (wait_ms != NULL)
		*wait_ms = -1;
	return housekeep(c, CODEQ_SCRIPT_PROMOTE, CODEQ_KEY_DELAYED, queue,
	    limit, 0, moved, wait_ms, err);
}

int
codeq_reap(codeq_t *c, const char *queue, size_t limit, size_t *reaped,
    codeq_error *err)
{
	CQ_ERR_LOCAL(err);
	return housekeep(c, CODEQ_SCRIPT_REAP, CODEQ_KEY_LEASED, queue, limit, 1,
	    reaped, NULL, err);
}

int
codeq_reap_ex(codeq_t *c, const char *queue, size_t limit, size_t *reaped,
    size_t *dead, codeq_error *err)
{
	int64_t d = 0;
	int code;
	CQ_ERR_LOCAL(err);

	code = housekeep(c, CODEQ_SCRIPT_REAP, CODEQ_KEY_LEASED, queue, limit, 1,
	    reaped, &d, err);
	if (dead != NULL)
		*dead = d > 0 ? (size_t)d : 0;
	return code;
}

int
codeq_queue_set_backoff(codeq_t *c, const char *queue, const codeq_backoff *b,
    codeq_error *err)
{
	char key[TASK_KEY_MAX];
	redisReply *r;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (b->base_ms <= 0 || b->max_ms < b->base_ms)
		return cq_err(err, CODEQ_EINVAL, "backoff: base must be > 0 "
		    "and max >= base, got base %lld max %lld",
		    (long long)b->base_ms, (long long)b->max_ms);
	if ((code = task_duration_check("backoff", b->max_ms, err)) !=
	    CODEQ_OK)
		return code;
	if (b->jitter_pct < 0 || b->jitter_pct > 100)
		return cq_err(err, CODEQ_EINVAL,
		    "backoff: jitter must be 0-100 %%, got %d", b->jitter_pct);
	/* Configuration, not a task state change: a plain HSET. */
	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_CONF) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	r = store_command(c, err, "HSET %s backoff_base_ms %lld "
	    "backoff_max_ms %lld jitter_pct %d", key,
	    (long long)b->base_ms, (long long)b->max_ms, b->jitter_pct);
	if (r == NULL)
		return err->code;
	code = store_reply_ok(r, "HSET conf", err);
	freeReplyObject(r);
	return code;
}

int
codeq_queues(codeq_t *c, char ***names, size_t *n, codeq_error *err)
{
	redisReply *r;
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	*names = NULL;
	*n = 0;
	if ((r = store_command(c, err, "SMEMBERS %s", CODEQ_KEY_QUEUES)) == NULL)
		return err->code;
	if ((code = store_reply_ok(r, "SMEMBERS " CODEQ_KEY_QUEUES, err)) !=
	    CODEQ_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY) {
		code = cq_err(err, CODEQ_EPROTO,
		    "store: " CODEQ_KEY_QUEUES " is not a set");
		goto out;
	}
	if ((*names = calloc(r->elements + 1, sizeof(char *))) == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < r->elements; i++) {
		/* The registry is a plain set anyone can SADD to: a member
		 * that is no queue name would make every caller that walks
		 * the queues (stats, reap, the daemon's timers) fail on it. */
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    !codeq_queue_name_valid(r->element[i]->str))
			continue;
		if (((*names)[*n] = strdup(r->element[i]->str)) == NULL) {
			codeq_strv_free(*names, *n);
			*names = NULL;
			*n = 0;
			code = cq_err(err, CODEQ_ENOMEM, "out of memory");
			goto out;
		}
		(*n)++;
	}
out:
	freeReplyObject(r);
	return code;
}

static void
stats_counter(codeq_stats *s, const char *k, int64_t v)
{
	static const struct { const char *name; size_t off; } f[] = {
		{ "enqueued", offsetof(codeq_stats, enqueued) },
		{ "claimed", offsetof(codeq_stats, claimed) },
		{ "completed", offsetof(codeq_stats, completed) },
		{ "failed", offsetof(codeq_stats, failed) },
		{ "retried", offsetof(codeq_stats, retried) },
		{ "dead_lettered", offsetof(codeq_stats, dead_lettered) },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(k, f[i].name) == 0)
			*(int64_t *)((char *)s + f[i].off) = v;
}

int
codeq_stats_get(codeq_t *c, const char *queue, codeq_stats *s,
    codeq_error *err)
{
	char key[TASK_KEY_MAX];
	const char *argv[2];
	redisReply *r, *cnt;
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	memset(s, 0, sizeof(*s));
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_STATS) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	argv[0] = key;
	argv[1] = queue;
	if ((r = script_run(c, CODEQ_SCRIPT_STATS, 1, 2, argv, NULL, err)) ==
	    NULL)
		return err->code;
	if ((code = script_status(r, err)) != CODEQ_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 17 ||
	    r->element[16]->type != REDIS_REPLY_ARRAY) {
		code = cq_err(err, CODEQ_EPROTO, "store: unexpected reply to stats");
		goto out;
	}
	for (i = 0; i < 16; i++)
		if (r->element[i]->type != REDIS_REPLY_INTEGER) {
			code = cq_err(err, CODEQ_EPROTO,
			    "store: unexpected reply to stats");
			goto out;
		}
	for (i = 0; i < 10; i++) {
		s->ready[i] = r->element[i]->integer;
		s->ready_total += s->ready[i];
	}
	s->delayed = r->element[10]->integer;
	s->leased = r->element[11]->integer;
	s->dlq = r->element[12]->integer;
	s->outbox = r->element[13]->integer;
	s->callbacks_dlq = r->element[14]->integer;
	s->oldest_ready_ms = r->element[15]->integer;
	cnt = r->element[16];
	for (i = 0; i + 1 < cnt->elements; i += 2)
		if (cnt->element[i]->type == REDIS_REPLY_STRING &&
		    cnt->element[i + 1]->type == REDIS_REPLY_STRING)
			stats_counter(s, cnt->element[i]->str,
			    strtoll(cnt->element[i + 1]->str, NULL, 10));
out:
	freeReplyObject(r);
	return code;
}
