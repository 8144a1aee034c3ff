/*
 * routes.c - codeQ's /v1/codeq routes (its pkg/app/url_mappings.go), the
 * scope each one needs, and the handler that serves it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"

#define P "/v1/codeq"

static const struct route routes[] = {
	{ "POST", P "/tasks", AUTH_S_PRODUCER, h_create, 1 },
	{ "POST", P "/tasks/batch", AUTH_S_PRODUCER, h_create_batch, 1 },
	{ "POST", P "/tasks/claim", AUTH_S_CLAIM, h_claim, 1 },
	{ "POST", P "/tasks/claim/batch", AUTH_S_CLAIM, h_claim_batch, 1 },
	{ "POST", P "/tasks/batch/results", AUTH_S_RESULT, h_result_batch, 1 },
	{ "POST", P "/tasks/:id/heartbeat", AUTH_S_HEARTBEAT, h_heartbeat, 1 },
	{ "POST", P "/tasks/:id/abandon", AUTH_S_ABANDON, h_abandon, 1 },
	{ "POST", P "/tasks/:id/nack", AUTH_S_NACK, h_nack, 1 },
	{ "POST", P "/tasks/:id/result", AUTH_S_RESULT, h_result, 1 },
	{ "GET", P "/tasks/:id", AUTH_S_ANY, h_get, 0 },
	{ "GET", P "/tasks/:id/result", AUTH_S_ANY, h_get_result, 0 },
	{ "POST", P "/workers/subscriptions", AUTH_S_SUBSCRIBE, h_subscribe, 1 },
	{ "POST", P "/workers/subscriptions/:id/heartbeat", AUTH_S_SUBSCRIBE,
	    h_sub_heartbeat, 1 },
	{ "GET", P "/admin/queues", AUTH_S_ADMIN, h_queues, 0 },
	{ "GET", P "/admin/queues/:id", AUTH_S_ADMIN, h_queue_stats, 0 },
	{ NULL, NULL, 0, NULL, 0 }
};

static int
unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies one %-encoded path segment of n bytes; -1 if bad or too long. */
static int
segment(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return -1;
		if ((hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* Does url match pattern?  The ":id" segment goes into id. */
static int
match(const char *pattern, const char *url, char *id, size_t idlen)
{
	const char *colon = strstr(pattern, ":id");
	size_t pre, post, ulen = strlen(url), seglen;
	const char *seg;

	if (colon == NULL)
		return strcmp(pattern, url) == 0;
	pre = (size_t)(colon - pattern);
	post = strlen(colon + 3);
	if (ulen <= pre + post || strncmp(url, pattern, pre) != 0 ||
	    strcmp(url + ulen - post, colon + 3) != 0)
		return 0;
	seg = url + pre;
	seglen = ulen - pre - post;
	if (memchr(seg, '/', seglen) != NULL)
		return 0;
	return segment(seg, seglen, id, idlen) == 0;
}

const struct route *
route_find(const char *method, const char *url, char *id, size_t idlen,
    int *method_known)
{
	const struct route *r;

	*method_known = 0;
	for (r = routes; r->method != NULL; r++) {
		if (!match(r->pattern, url, id, idlen))
			continue;
		*method_known = 1;
		if (strcmp(r->method, method) == 0)
			return r;
	}
	return NULL;
}
