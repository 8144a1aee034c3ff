/*
 * json.c - codeQ's task and result objects (its pkg/domain/task.go and
 * result.go field names) built from codeq's tasks, and request fields.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "conf.h"
#include "json.h"

const char *
cq_status(codeq_task_status s)
{
	switch (s) {
	case CODEQ_READY: case CODEQ_DELAYED: return "PENDING";
	case CODEQ_LEASED: return "IN_PROGRESS";
	case CODEQ_COMPLETED: return "COMPLETED";
	case CODEQ_FAILED: case CODEQ_DEAD: return "FAILED";
	default: return "UNKNOWN";
	}
}

static void
set_time(json_t *o, const char *key, int64_t ms)
{
	char t[40];

	if (ms <= 0)
		return;
	format_rfc3339_ms(ms, t, sizeof(t));
	json_object_set_new(o, key, json_string(t));
}

static void
set_str(json_t *o, const char *key, const char *v)
{
	if (v != NULL && *v != '\0')
		json_object_set_new(o, key, json_string(v));
}

/* The last change codeq records: completion, else the due time of a
 * delayed task, else creation. */
static int64_t
updated_at(const codeq_task *t)
{
	if (t->completed_at > 0)
		return t->completed_at;
	if (t->due_at > t->created_at)
		return t->due_at;
	return t->created_at;
}

json_t *
cq_task(const codeq_task *t, int with_token)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "id", json_string(t->id));
	json_object_set_new(o, "command", json_string(t->queue));
	/* codeQ's payload is the JSON text, as a string. */
	json_object_set_new(o, "payload", json_string(t->payload ? t->payload : "{}"));
	json_object_set_new(o, "priority", json_integer(t->priority));
	set_str(o, "webhook", t->webhook);
	json_object_set_new(o, "status", json_string(cq_status(t->status)));
	json_object_set_new(o, "state", json_string(codeq_status_name(t->status)));
	if (t->status == CODEQ_LEASED) {
		set_str(o, "workerId", t->worker);
		set_time(o, "leaseUntil", t->lease_until);
		if (with_token)
			set_str(o, "leaseToken", t->lease_token);
	}
	json_object_set_new(o, "attempts", json_integer(t->attempts));
	json_object_set_new(o, "maxAttempts", json_integer(t->max_attempts));
	set_str(o, "error", t->error);
	set_str(o, "idempotencyKey", t->idempotency_key);
	if (t->status == CODEQ_DELAYED)
		set_time(o, "runAt", t->due_at);
	set_time(o, "createdAt", t->created_at);
	set_time(o, "updatedAt", updated_at(t));
	return o;
}

json_t *
cq_result(const codeq_task *t)
{
	json_t *o = json_object(), *res = NULL;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "taskId", json_string(t->id));
	json_object_set_new(o, "status", json_string(cq_status(t->status)));
	if (t->result && *t->result)
		res = json_loads(t->result, JSON_DECODE_ANY, NULL);
	if (res != NULL)
		json_object_set_new(o, "result", res);
	set_str(o, "error", t->error);
	set_time(o, "completedAt", t->completed_at);
	return o;
}

int
jfield_int(json_t *o, const char *key, int64_t min, int64_t max,
    int64_t *out, char *why, size_t whylen)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	json_int_t n;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || (n = json_integer_value(v)) < min || n > max) {
		snprintf(why, whylen, "'%s' must be a whole number %lld-%lld",
		    key, (long long)min, (long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

int
jfield_str(json_t *o, const char *key, size_t max, const char **out,
    char *why, size_t whylen)
{
	json_t *v = o ? json_object_get(o, key) : NULL;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, whylen, "'%s' must be a string of at most %zu "
		    "bytes", key, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
jfield_queues(json_t *o, const char *key, size_t max, const char **out,
    size_t *n, char *why, size_t whylen)
{
	json_t *v = o ? json_object_get(o, key) : NULL, *e;
	size_t i;

	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > max)
		goto bad;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) ||
		    (!codeq_queue_name_valid(json_string_value(e)) &&
		    strcmp(json_string_value(e), "*") != 0))
			goto bad;
		out[(*n)++] = json_string_value(e);
	}
	return 0;
bad:
	snprintf(why, whylen, "'%s' must be an array of at most %zu queue "
	    "names (1-100 characters of A-Z a-z 0-9 _ . -)", key, max);
	return -1;
}
