/* task.c: task ids, task hashes and the read-only task calls (get, result). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "keys.h"
#include "store.h"
#include "task.h"

int
codeq_queue_name_valid(const char *q)
{
	size_t n;

	if (q == NULL)
		return 0;
	n = strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-");
	return n >= 1 && n <= 100 && q[n] == '\0';
}

int
task_queue_check(const char *queue, codeq_error *err)
{
	if (!codeq_queue_name_valid(queue))
		return cq_err(err, CODEQ_EINVAL, "queue: must be 1-100 "
		    "characters of [A-Za-z0-9_.-], got '%.100s'",
		    queue ? queue : "(null)");
	return CODEQ_OK;
}

int
task_id_split(const char *id, char *queue, size_t qlen, char *key,
    size_t klen, codeq_error *err)
{
	const char *colon, *seq;
	size_t n;

	if (id == NULL || (colon = strrchr(id, ':')) == NULL)
		goto bad;
	seq = colon + 1;
	n = colon - id;
	if (n == 0 || n >= qlen || *seq == '\0' || strlen(seq) > 20 ||
	    strspn(seq, "0123456789") != strlen(seq))
		goto bad;
	memcpy(queue, id, n);
	queue[n] = '\0';
	if (!codeq_queue_name_valid(queue))
		goto bad;
	if (key_task(key, klen, queue, seq) < 0)
		goto bad;
	return CODEQ_OK;
bad:
	return cq_err(err, CODEQ_EINVAL,
	    "id: must be QUEUE:NUMBER, got '%.100s'", id ? id : "(null)");
}

int
task_duration_check(const char *field, int64_t ms, codeq_error *err)
{
	if (ms > TASK_DURATION_MAX_MS)
		return cq_err(err, CODEQ_EINVAL, "%s: longer than 100 years, "
		    "got %lld ms", field, (long long)ms);
	return CODEQ_OK;
}

int
task_range_check(size_t offset, size_t limit, codeq_error *err)
{
	if (offset > (size_t)INT64_MAX / 2 || limit > (size_t)INT64_MAX / 2)
		return cq_err(err, CODEQ_EINVAL, "offset, limit: too large "
		    "(%zu, %zu)", offset, limit);
	return CODEQ_OK;
}

int
lease_args_build(const char *id, const char *token, struct lease_args *a,
    codeq_error *err)
{
	int code;

	if ((code = task_id_split(id, a->queue, sizeof(a->queue), a->key,
	    sizeof(a->key), err)) != CODEQ_OK)
		return code;
	if (token == NULL || *token == '\0')
		return cq_err(err, CODEQ_EINVAL, "token: missing");
	a->argv[0] = a->key;
	a->argv[1] = a->queue;
	a->argv[2] = id;
	a->argv[3] = token;
	return CODEQ_OK;
}

struct lease_args *
lease_args_array(size_t n, const char *const ***argvs, codeq_error *err)
{
	struct lease_args *a;

	/* The pointers that follow the structs are aligned. */
	_Static_assert(sizeof(*a) % _Alignof(const char *const *) == 0,
	    "lease_args size breaks the argv pointers' alignment");
	if (n > SIZE_MAX / (sizeof(*a) + sizeof(**argvs)) ||
	    (a = calloc(1, n * (sizeof(*a) + sizeof(**argvs)))) == NULL) {
		cq_err(err, CODEQ_ENOMEM, "out of memory");
		return NULL;
	}
	*argvs = (const char *const **)(void *)(a + n);
	return a;
}

codeq_task_status
task_status_parse(const char *s)
{
	int i;

	for (i = 0; i < CODEQ_STATUS_UNKNOWN; i++)
		if (strcmp(s, codeq_status_name(i)) == 0)
			return i;
	return CODEQ_STATUS_UNKNOWN;
}

void
codeq_task_free(codeq_task *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->queue);
	free(t->payload);
	free(t->lease_token);
	free(t->worker);
	free(t->result);
	free(t->error);
	free(t->webhook);
	free(t->traceparent);
	free(t->idempotency_key);
	free(t);
}

void
codeq_tasks_free(codeq_task **tasks, size_t n)
{
	size_t i;

	if (tasks == NULL)
		return;
	for (i = 0; i < n; i++)
		codeq_task_free(tasks[i]);
	free(tasks);
}

void
codeq_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int64_t
to_i64(const char *s)
{
	return strtoll(s, NULL, 10);
}

/* Sets one field; returns -1 on allocation failure. */
static int
set_field(codeq_task *t, const char *k, const char *v, size_t vlen)
{
	struct { const char *name; char **dst; } strs[] = {
		{ "id", &t->id }, { "queue", &t->queue },
		{ "payload", &t->payload }, { "lease_token", &t->lease_token },
		{ "worker", &t->worker }, { "result", &t->result },
		{ "error", &t->error }, { "webhook", &t->webhook },
		{ "traceparent", &t->traceparent },
		{ "idem_key", &t->idempotency_key },
	};
	size_t i;

	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(k, strs[i].name) != 0)
			continue;
		free(*strs[i].dst);
		if ((*strs[i].dst = malloc(vlen + 1)) == NULL)
			return -1;
		memcpy(*strs[i].dst, v, vlen);
		(*strs[i].dst)[vlen] = '\0';
		return 0;
	}
	if (strcmp(k, "status") == 0)
		t->status = task_status_parse(v);
	else if (strcmp(k, "priority") == 0)
		t->priority = (int)to_i64(v);
	else if (strcmp(k, "attempts") == 0)
		t->attempts = (int)to_i64(v);
	else if (strcmp(k, "max_attempts") == 0)
		t->max_attempts = (int)to_i64(v);
	else if (strcmp(k, "created_at") == 0)
		t->created_at = to_i64(v);
	else if (strcmp(k, "due_at") == 0)
		t->due_at = to_i64(v);
	else if (strcmp(k, "completed_at") == 0)
		t->completed_at = to_i64(v);
	else if (strcmp(k, "lease_until") == 0)
		t->lease_until = to_i64(v);
	return 0;
}

int
task_from_reply(const redisReply *r, codeq_task **out, codeq_error *err)
{
	codeq_task *t;
	size_t i;

	*out = NULL;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return cq_err(err, CODEQ_EPROTO, "store: a task is not a hash");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	t->status = CODEQ_STATUS_UNKNOWN;
	for (i = 0; i < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING) {
			codeq_task_free(t);
			return cq_err(err, CODEQ_EPROTO,
			    "store: a task field is not a string");
		}
		if (set_field(t, k->str, v->str, v->len) != 0) {
			codeq_task_free(t);
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		}
	}
	if (t->id == NULL || t->queue == NULL) {
		codeq_task_free(t);
		return cq_err(err, CODEQ_EPROTO,
		    "store: task hash without id or queue");
	}
	*out = t;
	return CODEQ_OK;
}

int
codeq_get(codeq_t *c, const char *id, codeq_task **out, codeq_error *err)
{
	char queue[CODEQ_ID_MAX], key[TASK_KEY_MAX];
	redisReply *r;
	int code;
	CQ_ERR_LOCAL(err);

	*out = NULL;
	if ((code = task_id_split(id, queue, sizeof(queue), key, sizeof(key),
	    err)) != CODEQ_OK)
		return code;
	if ((r = store_command(c, err, "HGETALL %s", key)) == NULL)
		return err->code;
	if ((code = store_reply_ok(r, "HGETALL", err)) == CODEQ_OK) {
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 0)
			code = cq_err(err, CODEQ_ENOTFOUND,
			    "task %s not found (unknown, or expired after its "
			    "retention)", id);
		else
			code = task_from_reply(r, out, err);
	}
	freeReplyObject(r);
	return code;
}

static int
is_terminal(codeq_task_status s)
{
	return s == CODEQ_COMPLETED || s == CODEQ_FAILED || s == CODEQ_DEAD;
}

int
codeq_result(codeq_t *c, const char *id, int64_t wait_ms, codeq_task **out,
    codeq_error *err)
{
	/* Waiting longer than the bound is waiting for ever: clamp it
	 * rather than overflow the deadline. */
	int64_t deadline = clock_mono_ms() + (wait_ms <= 0 ? 0 :
	    wait_ms < TASK_DURATION_MAX_MS ? wait_ms : TASK_DURATION_MAX_MS);
	int64_t pause = 10, left;
	codeq_task *t;
	int code;
	CQ_ERR_LOCAL(err);

	*out = NULL;
	/* Polling with a growing pause (10 ms .. 250 ms): cheap for the
	 * store, prompt for short tasks, and it needs no pub/sub
	 * connection. */
	for (;;) {
		if ((code = codeq_get(c, id, &t, err)) != CODEQ_OK)
			return code;
		if (is_terminal(t->status)) {
			*out = t;
			return CODEQ_OK;
		}
		left = deadline - clock_mono_ms();
		if (left <= 0) {
			code = cq_err(err, CODEQ_ETIMEDOUT,
			    "task %s is not finished (status %s)", id,
			    codeq_status_name(t->status));
			codeq_task_free(t);
			return code;
		}
		codeq_task_free(t);
		struct timespec ts;
		int64_t p = pause < left ? pause : left;
		ts.tv_sec = p / 1000;
		ts.tv_nsec = (p % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		pause = pause * 2 > 250 ? 250 : pause * 2;
	}
}

void
task_worker_name(char *buf, size_t len, long pid, const char *pool)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s:%ld:%s", host, pid, pool);
}
