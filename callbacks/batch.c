/*
 * batch.c - result callback bodies, ids and backoff (see batch.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "batch.h"
#include "utf8.h"
#include "webhook.h"

#define RETRY_AFTER_MAX_MS (3600 * 1000LL)

void
cb_item_free(struct cb_item *it)
{
	if (it == NULL)
		return;
	free(it->queue);
	free(it->task_id);
	free(it->url);
	free(it->status);
	free(it->result);
	free(it->error);
	free(it->traceparent);
	free(it);
}

void
cb_item_id(const struct cb_item *it, char *out, size_t outlen)
{
	snprintf(out, outlen, "cb_%s_%" PRId64, it->queue, it->n);
}

static const char *
event_type(const char *status)
{
	if (strcmp(status, "completed") == 0)
		return "TASK_COMPLETED";
	if (strcmp(status, "dead") == 0)
		return "TASK_DEAD_LETTERED";
	return "TASK_FAILED";
}

static json_t *
payload(const struct cb_item *it)
{
	char id[200], at[40], up[16];
	json_t *o, *result = NULL;
	size_t i;

	cb_item_id(it, id, sizeof(id));
	wh_rfc3339(it->completed_at, at, sizeof(at));
	for (i = 0; it->status[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(it->status[i] >= 'a' && it->status[i] <= 'z' ?
		    it->status[i] - 32 : it->status[i]);
	up[i] = '\0';
	if (it->result && *it->result) {
		/* Results are stored as JSON text; anything else is sent as
		 * a string rather than dropped. */
		result = json_loads(it->result, JSON_DECODE_ANY, NULL);
		if (result == NULL)
			result = json_string_lossy(it->result);
	}
	/* Every text from the task may be any bytes (lossy: U+FFFD), so
	 * that no item is ever left out of its body. */
	o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:i, s:s}",
	    "webhookId", json_string_lossy(id),
	    "taskId", json_string_lossy(it->task_id), "queue", it->queue,
	    "eventType", event_type(it->status), "status", up,
	    "result", result ? result : json_null(),
	    "error", it->error && *it->error ? json_string_lossy(it->error) :
	    json_null(),
	    "attempts", it->attempts, "completedAt", at);
	if (o && it->traceparent && *it->traceparent)
		json_object_set_new(o, "traceparent",
		    json_string_lossy(it->traceparent));
	return o;
}

char *
cb_body(struct cb_item *const *items, size_t n, size_t *len, char *id,
    size_t idlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	json_t *root = NULL, *arr;
	char *s, *ids, one[200];
	size_t i, off = 0;

	if (n == 1) {
		cb_item_id(items[0], id, idlen);
		root = payload(items[0]);
	} else {
		/* Each line is at most sizeof(one) bytes ("id\n"). */
		if ((ids = malloc(n * sizeof(one) + 1)) == NULL)
			return NULL;
		if ((arr = json_array()) == NULL) {
			free(ids);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			cb_item_id(items[i], one, sizeof(one) - 1);
			off += (size_t)snprintf(ids + off, sizeof(one) + 1,
			    "%s\n", one);
			/* An item missing from the body would be acked
			 * unsent: no body rather than a partial one. */
			if (json_array_append_new(arr, payload(items[i])) != 0) {
				json_decref(arr);
				free(ids);
				return NULL;
			}
		}
		SHA256((unsigned char *)ids, off, md);
		free(ids);
		snprintf(id, idlen, "cbb_");
		for (i = 0; i < 13 && 4 + 2 * i + 2 < idlen; i++)
			snprintf(id + 4 + 2 * i, 3, "%02x", md[i]);
		root = json_pack("{s:s, s:I, s:o}", "eventType", "TASK_RESULTS",
		    "count", (json_int_t)n, "results", arr);
	}
	if (root == NULL)
		return NULL;
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s)
		*len = strlen(s);
	return s;
}

int64_t
cb_backoff(int deliveries, int64_t base_ms, int64_t max_ms,
    int64_t retry_after_ms, double rnd)
{
	int64_t d = base_ms;
	int i;

	if (retry_after_ms >= 0)
		return retry_after_ms > RETRY_AFTER_MAX_MS ?
		    RETRY_AFTER_MAX_MS : retry_after_ms;
	for (i = 1; i < deliveries && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return (int64_t)((double)d * (0.8 + 0.4 * rnd));
}
