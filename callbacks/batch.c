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

/*
 * The bodies are written by hand: with jansson (an object per item, a
 * hash table per object, then a dump) building them took more than half
 * of this process' time.  The output is byte for byte what
 * json_dumps(JSON_COMPACT) gives for the same document, keys in the same
 * order (tests/webhooks_unit.c compares both); an item's result, which
 * is JSON text of any shape, still goes through jansson.
 */
struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->oom || n == 0)
		return;
	if (b->n + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* s as a JSON string, escaped as jansson does (", \, control characters;
 * nothing else), any bytes (invalid UTF-8 as U+FFFD, as
 * json_string_lossy). */
static void
put_string(struct buf *b, const char *s)
{
	size_t n = strlen(s), i, start = 0;
	char *clean = NULL, esc[8];
	const char *e;

	if (!utf8_valid(s, n)) {
		if ((clean = utf8_clean(s, n, &n)) == NULL) {
			b->oom = 1;
			return;
		}
		s = clean;
	}
	put(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			e = esc;
		}
		puts_(b, e);
	}
	put(b, s + start, n - start);
	put(b, "\"", 1);
	free(clean);
}

/* Results are stored as JSON text (sent as that JSON value, compact);
 * anything else is sent as a string rather than dropped. */
static void
put_result(struct buf *b, const char *result)
{
	json_t *j;
	char *s;

	if (result == NULL || *result == '\0' || strcmp(result, "null") == 0) {
		puts_(b, "null");
		return;
	}
	if ((j = json_loads(result, JSON_DECODE_ANY, NULL)) == NULL) {
		put_string(b, result);
		return;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (s == NULL) {
		b->oom = 1;
		return;
	}
	puts_(b, s);
	free(s);
}

static void
put_payload(struct buf *b, const struct cb_item *it)
{
	char id[200], at[40], up[16], num[24];
	size_t i;

	cb_item_id(it, id, sizeof(id));
	wh_rfc3339(it->completed_at, at, sizeof(at));
	for (i = 0; it->status[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(it->status[i] >= 'a' && it->status[i] <= 'z' ?
		    it->status[i] - 32 : it->status[i]);
	up[i] = '\0';
	puts_(b, "{\"webhookId\":");
	put_string(b, id);
	puts_(b, ",\"taskId\":");
	put_string(b, it->task_id);
	puts_(b, ",\"queue\":");
	put_string(b, it->queue);
	puts_(b, ",\"eventType\":\"");
	puts_(b, event_type(it->status));
	puts_(b, "\",\"status\":");
	put_string(b, up);
	puts_(b, ",\"result\":");
	put_result(b, it->result);
	puts_(b, ",\"error\":");
	if (it->error && *it->error)
		put_string(b, it->error);
	else
		puts_(b, "null");
	snprintf(num, sizeof(num), "%d", it->attempts);
	puts_(b, ",\"attempts\":");
	puts_(b, num);
	puts_(b, ",\"completedAt\":");
	put_string(b, at);
	if (it->traceparent && *it->traceparent) {
		puts_(b, ",\"traceparent\":");
		put_string(b, it->traceparent);
	}
	puts_(b, "}");
}

char *
cb_body(struct cb_item *const *items, size_t n, size_t *len, char *id,
    size_t idlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH] = { 0 };
	struct buf b = { 0 }, ids = { 0 };
	char one[200], num[24];
	size_t i;

	if (n == 1) {
		cb_item_id(items[0], id, idlen);
		put_payload(&b, items[0]);
	} else {
		snprintf(num, sizeof(num), "%zu", n);
		puts_(&b, "{\"eventType\":\"TASK_RESULTS\",\"count\":");
		puts_(&b, num);
		puts_(&b, ",\"results\":[");
		for (i = 0; i < n; i++) {
			/* The batch id: a digest of its items' ids, one a
			 * line. */
			cb_item_id(items[i], one, sizeof(one) - 1);
			puts_(&ids, one);
			put(&ids, "\n", 1);
			if (i > 0)
				put(&b, ",", 1);
			put_payload(&b, items[i]);
		}
		puts_(&b, "]}");
		if (ids.oom)
			b.oom = 1;
		else
			SHA256((unsigned char *)ids.p, ids.n, md);
		free(ids.p);
		snprintf(id, idlen, "cbb_");
		for (i = 0; i < 13 && 4 + 2 * i + 2 < idlen; i++)
			snprintf(id + 4 + 2 * i, 3, "%02x", md[i]);
	}
	/* An item missing from the body would be acked unsent: no body
	 * rather than a partial one. */
	if (b.oom || b.p == NULL) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
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
