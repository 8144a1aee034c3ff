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

#include "callbacks_batch.h"
#include "jsonbuf.h"
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
	free(it->wid);
	free(it);
}

void
cb_item_id(const struct cb_item *it, char *out, size_t outlen)
{
	if (it->wid != NULL && it->wid[0] != '\0')
		snprintf(out, outlen, "%s", it->wid);
	else
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

/*
 * The bodies are written by hand: with jansson (an object per item, a
 * hash table per object, then a dump) building them took more than half
 * of this process' time.  The output is byte for byte what
 * json_dumps(JSON_COMPACT) gives for the same document, keys in the same
 * order (tests/unit/webhooks.c compares both); an item's result, which
 * is JSON text of any shape, still goes through jansson (common/jsonbuf.h).
 */

/* Results are stored as JSON text (sent as that JSON value, compact);
 * anything else is sent as a string rather than dropped. */
static void
put_result(struct jsonbuf *b, const char *result)
{
	json_t *j;
	char *s;

	if (result == NULL || *result == '\0' || strcmp(result, "null") == 0) {
		jb_puts(b, "null");
		return;
	}
	if ((j = json_loads(result, JSON_DECODE_ANY, NULL)) == NULL) {
		jb_string(b, result);
		return;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (s == NULL) {
		b->oom = 1;
		return;
	}
	jb_puts(b, s);
	free(s);
}

static void
put_payload(struct jsonbuf *b, const struct cb_item *it)
{
	char id[200], at[40], up[16], num[24];
	size_t i;

	cb_item_id(it, id, sizeof(id));
	format_rfc3339_ms(it->completed_at, at, sizeof(at));
	for (i = 0; it->status[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(it->status[i] >= 'a' && it->status[i] <= 'z' ?
		    it->status[i] - 32 : it->status[i]);
	up[i] = '\0';
	jb_puts(b, "{\"webhookId\":");
	jb_string(b, id);
	jb_puts(b, ",\"taskId\":");
	jb_string(b, it->task_id);
	jb_puts(b, ",\"queue\":");
	jb_string(b, it->queue);
	jb_puts(b, ",\"eventType\":\"");
	jb_puts(b, event_type(it->status));
	jb_puts(b, "\",\"status\":");
	jb_string(b, up);
	jb_puts(b, ",\"result\":");
	put_result(b, it->result);
	jb_puts(b, ",\"error\":");
	if (it->error && *it->error)
		jb_string(b, it->error);
	else
		jb_puts(b, "null");
	snprintf(num, sizeof(num), "%d", it->attempts);
	jb_puts(b, ",\"attempts\":");
	jb_puts(b, num);
	jb_puts(b, ",\"completedAt\":");
	jb_string(b, at);
	if (it->traceparent && *it->traceparent) {
		jb_puts(b, ",\"traceparent\":");
		jb_string(b, it->traceparent);
	}
	jb_puts(b, "}");
}

char *
cb_body(struct cb_item *const *items, size_t n, size_t *len, char *id,
    size_t idlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH] = { 0 };
	struct jsonbuf b = { 0 }, ids = { 0 };
	char one[200], num[24];
	size_t i;

	if (n == 1) {
		cb_item_id(items[0], id, idlen);
		put_payload(&b, items[0]);
	} else {
		snprintf(num, sizeof(num), "%zu", n);
		jb_puts(&b, "{\"eventType\":\"TASK_RESULTS\",\"count\":");
		jb_puts(&b, num);
		jb_puts(&b, ",\"results\":[");
		for (i = 0; i < n; i++) {
			/* The batch id: a digest of its items' ids, one a
			 * line. */
			cb_item_id(items[i], one, sizeof(one) - 1);
			jb_puts(&ids, one);
			jb_put(&ids, "\n", 1);
			if (i > 0)
				jb_put(&b, ",", 1);
			put_payload(&b, items[i]);
		}
		jb_puts(&b, "]}");
		if (ids.oom)
			b.oom = 1;
		else
			SHA256((unsigned char *)ids.p, ids.len, md);
		free(ids.p);
		snprintf(id, idlen, "cbb_");
		for (i = 0; i < 13 && 4 + 2 * i + 2 < idlen; i++)
			snprintf(id + 4 + 2 * i, 3, "%02x", md[i]);
	}
	/* An item missing from the body would be acked unsent: no body
	 * rather than a partial one. */
	return jb_finish(&b, len);
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
