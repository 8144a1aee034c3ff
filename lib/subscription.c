/*
 * subscription.c - WORK_AVAILABLE subscriptions (codeq.h, "Subscriptions").
 *
 * A subscription is the hash codeq:sub:ID with a TTL, plus its id in the
 * sorted set codeq:subs scored by expiry (docs/storage.md): the notifier
 * reads the live ones with ZRANGEBYSCORE codeq:subs NOW +inf, so an
 * expired subscription stops receiving even before the store drops its
 * hash.  Fields: id url queues (comma-separated) mode group
 * min_interval_ms ttl_ms created_at expires_at secret.
 */
#include "config.h"

#include <sys/random.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeq.h"
#include "keys.h"
#include "store.h"
#include "task.h"
#include "urlpolicy.h"

#define SUB_KEY_MAX (CODEQ_ID_MAX + 16)
#define SUB_QUEUES_MAX 64

const char *
codeq_sub_mode_name(codeq_sub_mode m)
{
	switch (m) {
	case CODEQ_SUB_GROUP: return "group";
	case CODEQ_SUB_HASH: return "hash";
	default: return "fanout";
	}
}

int
codeq_sub_mode_parse(const char *s, codeq_sub_mode *out)
{
	if (s && strcmp(s, "fanout") == 0)
		*out = CODEQ_SUB_FANOUT;
	else if (s && strcmp(s, "group") == 0)
		*out = CODEQ_SUB_GROUP;
	else if (s && strcmp(s, "hash") == 0)
		*out = CODEQ_SUB_HASH;
	else
		return CODEQ_EINVAL;
	return CODEQ_OK;
}

int
codeq_webhook_url_valid(const char *url, codeq_error *err)
{
	char why[200];

	if (urlpolicy_validate(url, why, sizeof(why)) < 0)
		return cq_err(err, CODEQ_EINVAL, "webhook URL: %s", why);
	return CODEQ_OK;
}

/* The store's clock (invariant 7). */
static int
store_now(codeq_t *c, int64_t *now, codeq_error *err)
{
	redisReply *r = store_command(c, err, "TIME");

	if (r == NULL)
		return err ? err->code : CODEQ_ESTORE;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return cq_err(err, CODEQ_EPROTO, "store: bad TIME reply");
	}
	*now = strtoll(r->element[0]->str, NULL, 10) * 1000 +
	    strtoll(r->element[1]->str, NULL, 10) / 1000;
	freeReplyObject(r);
	return CODEQ_OK;
}

static int
id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n < CODEQ_ID_MAX &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static void
new_id(char out[CODEQ_ID_MAX])
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char r[26];
	size_t i;

	/* The kernel's generator; a failure (none on a kernel since 3.17
	 * once it is seeded) falls back to rand(): an id need only be
	 * unique, not secret. */
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	memcpy(out, "sub_", 4);
	for (i = 0; i < sizeof(r); i++)
		out[4 + i] = b32[r[i] & 31];
	out[4 + sizeof(r)] = '\0';
}

static int
spec_check(const codeq_subscription_spec *s, char *queues, size_t qlen,
    codeq_error *err)
{
	size_t i, off = 0;
	int code;

	if (s == NULL || s->nqueues == 0 || s->queues == NULL)
		return cq_err(err, CODEQ_EINVAL, "subscribe: no queue given");
	if (s->nqueues > SUB_QUEUES_MAX)
		return cq_err(err, CODEQ_EINVAL, "subscribe: at most %d queues",
		    SUB_QUEUES_MAX);
	for (i = 0; i < s->nqueues; i++) {
		const char *q = s->queues[i];

		if (q == NULL || (strcmp(q, "*") != 0 &&
		    !codeq_queue_name_valid(q)))
			return cq_err(err, CODEQ_EINVAL, "subscribe: bad queue "
			    "name '%s' (1-100 of [A-Za-z0-9_.-], or *)",
			    q ? q : "");
		off += (size_t)snprintf(queues + off, qlen - off, "%s%s",
		    i ? "," : "", q);
		if (off >= qlen)
			return cq_err(err, CODEQ_EINVAL, "subscribe: queue "
			    "list too long");
	}
	if ((code = codeq_webhook_url_valid(s->url, err)) != CODEQ_OK)
		return code;
	if (s->mode != CODEQ_SUB_FANOUT && s->mode != CODEQ_SUB_GROUP &&
	    s->mode != CODEQ_SUB_HASH)
		return cq_err(err, CODEQ_EINVAL, "subscribe: bad mode");
	if (s->ttl_ms < 0 || s->min_interval_ms < 0)
		return cq_err(err, CODEQ_EINVAL, "subscribe: negative duration");
	if ((code = task_duration_check("ttl", s->ttl_ms, err)) !=
	    CODEQ_OK || (code = task_duration_check("min_interval",
	    s->min_interval_ms, err)) != CODEQ_OK)
		return code;
	if (s->group && (strlen(s->group) > 100 || strchr(s->group, ',')))
		return cq_err(err, CODEQ_EINVAL, "subscribe: bad group name");
	if (s->secret && (strlen(s->secret) == 0 || strlen(s->secret) > 500))
		return cq_err(err, CODEQ_EINVAL, "subscribe: secret must be "
		    "1-500 bytes");
	return CODEQ_OK;
}

int
codeq_subscribe(codeq_t *c, const codeq_subscription_spec *spec,
    char id_out[CODEQ_ID_MAX], codeq_error *err)
{
	char queues[SUB_QUEUES_MAX * 102], key[SUB_KEY_MAX], ttl[24], exp[24];
	char now_s[24], minint[24];
	const char *argv[24];
	redisReply *r;
	int64_t now, ttl_ms;
	int code, n = 0;

	if ((code = spec_check(spec, queues, sizeof(queues), err)) != CODEQ_OK)
		return code;
	if ((code = store_now(c, &now, err)) != CODEQ_OK)
		return code;
	ttl_ms = spec->ttl_ms > 0 ? spec->ttl_ms : CODEQ_SUB_DEFAULT_TTL_MS;
	new_id(id_out);
	(void)key_sub(key, sizeof(key), id_out);	/* fits: a new id */
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
	snprintf(exp, sizeof(exp), "%" PRId64, now + ttl_ms);
	snprintf(now_s, sizeof(now_s), "%" PRId64, now);
	snprintf(minint, sizeof(minint), "%" PRId64, spec->min_interval_ms);
	argv[n++] = "HSET";
	argv[n++] = key;
	argv[n++] = "id"; argv[n++] = id_out;
	argv[n++] = "url"; argv[n++] = spec->url;
	argv[n++] = "queues"; argv[n++] = queues;
	argv[n++] = "mode"; argv[n++] = codeq_sub_mode_name(spec->mode);
	argv[n++] = "group"; argv[n++] = spec->group ? spec->group : "";
	argv[n++] = "min_interval_ms"; argv[n++] = minint;
	argv[n++] = "ttl_ms"; argv[n++] = ttl;
	argv[n++] = "created_at"; argv[n++] = now_s;
	argv[n++] = "expires_at"; argv[n++] = exp;
	if (spec->secret) {
		argv[n++] = "secret";
		argv[n++] = spec->secret;
	}
	if ((r = store_argv(c, n, argv, NULL, err)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	code = store_reply_ok(r, "subscribe", err);
	freeReplyObject(r);
	if (code != CODEQ_OK)
		return code;
	if ((r = store_command(c, err, "PEXPIRE %s %s", key, ttl)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	freeReplyObject(r);
	if ((r = store_command(c, err, "ZADD %s %s %s", CODEQ_KEY_SUBS, exp,
	    id_out)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	code = store_reply_ok(r, "subscribe", err);
	freeReplyObject(r);
	return code;
}

int
codeq_subscription_renew(codeq_t *c, const char *id, int64_t ttl_ms,
    int64_t *expires_at, codeq_error *err)
{
	char key[SUB_KEY_MAX], ttl[24], exp[24];
	redisReply *r;
	int64_t now;
	int code;

	if (!id_valid(id))
		return cq_err(err, CODEQ_EINVAL, "renew: bad subscription id");
	if (ttl_ms < 0)
		return cq_err(err, CODEQ_EINVAL, "renew: negative TTL");
	if ((code = task_duration_check("ttl", ttl_ms, err)) != CODEQ_OK)
		return code;
	(void)key_sub(key, sizeof(key), id);	/* fits: id_valid() */
	if ((code = store_now(c, &now, err)) != CODEQ_OK)
		return code;
	if ((r = store_command(c, err, "HGET %s ttl_ms", key)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return cq_err(err, CODEQ_ENOTFOUND, "subscription %s not found "
		    "(expired or removed)", id);
	}
	if (ttl_ms == 0)
		ttl_ms = strtoll(r->str, NULL, 10);
	freeReplyObject(r);
	if (ttl_ms <= 0)
		ttl_ms = CODEQ_SUB_DEFAULT_TTL_MS;
	snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
	snprintf(exp, sizeof(exp), "%" PRId64, now + ttl_ms);
	if ((r = store_command(c, err, "HSET %s expires_at %s ttl_ms %s", key,
	    exp, ttl)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	freeReplyObject(r);
	if ((r = store_command(c, err, "PEXPIRE %s %s", key, ttl)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	freeReplyObject(r);
	if ((r = store_command(c, err, "ZADD %s %s %s", CODEQ_KEY_SUBS, exp,
	    id)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	code = store_reply_ok(r, "renew", err);
	freeReplyObject(r);
	if (code == CODEQ_OK && expires_at)
		*expires_at = now + ttl_ms;
	return code;
}

int
codeq_subscription_remove(codeq_t *c, const char *id, codeq_error *err)
{
	char key[SUB_KEY_MAX];
	redisReply *r;
	long long gone;

	if (!id_valid(id))
		return cq_err(err, CODEQ_EINVAL, "remove: bad subscription id");
	(void)key_sub(key, sizeof(key), id);	/* fits: id_valid() */
	if ((r = store_command(c, err, "DEL %s", key)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	gone = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if ((r = store_command(c, err, "ZREM %s %s", CODEQ_KEY_SUBS, id)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	gone += r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (gone == 0)
		return cq_err(err, CODEQ_ENOTFOUND, "subscription %s not found",
		    id);
	return CODEQ_OK;
}

void
codeq_subscription_free(codeq_subscription *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nqueues; i++)
		free(s->queues[i]);
	free(s->queues);
	free(s->id);
	free(s->url);
	free(s->group);
	free(s);
}

void
codeq_subscriptions_free(codeq_subscription **subs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		codeq_subscription_free(subs[i]);
	free(subs);
}

static int
split_queues(const char *list, codeq_subscription *s)
{
	char *dup = strdup(list), *p, *save = NULL;

	if (dup == NULL)
		return -1;
	s->queues = calloc(SUB_QUEUES_MAX, sizeof(char *));
	if (s->queues == NULL) {
		free(dup);
		return -1;
	}
	for (p = strtok_r(dup, ",", &save); p && s->nqueues < SUB_QUEUES_MAX;
	    p = strtok_r(NULL, ",", &save))
		if ((s->queues[s->nqueues++] = strdup(p)) == NULL) {
			free(dup);
			return -1;
		}
	free(dup);
	return 0;
}

/* HGETALL reply -> subscription; NULL when empty (expired meanwhile). */
static codeq_subscription *
from_hash(const redisReply *r, int *oom)
{
	codeq_subscription *s;
	size_t i;

	*oom = 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto oom;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const char *k = r->element[i]->str, *v = r->element[i + 1]->str;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k, "id") == 0 && !(s->id = strdup(v)))
			goto oom;
		else if (strcmp(k, "url") == 0 && !(s->url = strdup(v)))
			goto oom;
		else if (strcmp(k, "group") == 0 && !(s->group = strdup(v)))
			goto oom;
		else if (strcmp(k, "queues") == 0 && split_queues(v, s) < 0)
			goto oom;
		else if (strcmp(k, "mode") == 0)
			codeq_sub_mode_parse(v, &s->mode);
		else if (strcmp(k, "min_interval_ms") == 0)
			s->min_interval_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "ttl_ms") == 0)
			s->ttl_ms = strtoll(v, NULL, 10);
		else if (strcmp(k, "created_at") == 0)
			s->created_at = strtoll(v, NULL, 10);
		else if (strcmp(k, "expires_at") == 0)
			s->expires_at = strtoll(v, NULL, 10);
		else if (strcmp(k, "secret") == 0)
			s->has_secret = 1;
	}
	if (s->id == NULL || s->url == NULL || s->queues == NULL) {
		codeq_subscription_free(s);
		return NULL;
	}
	if (s->group == NULL && (s->group = strdup("")) == NULL)
		goto oom;
	return s;
oom:
	codeq_subscription_free(s);
	*oom = 1;
	return NULL;
}

int
codeq_subscription_get(codeq_t *c, const char *id, codeq_subscription **out,
    codeq_error *err)
{
	char key[SUB_KEY_MAX];
	redisReply *r;
	int oom;

	*out = NULL;
	if (!id_valid(id))
		return cq_err(err, CODEQ_EINVAL, "bad subscription id");
	(void)key_sub(key, sizeof(key), id);	/* fits: id_valid() */
	if ((r = store_command(c, err, "HGETALL %s", key)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	*out = from_hash(r, &oom);
	freeReplyObject(r);
	if (oom)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	if (*out == NULL)
		return cq_err(err, CODEQ_ENOTFOUND, "subscription %s not found",
		    id);
	return CODEQ_OK;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp((*(codeq_subscription *const *)a)->id,
	    (*(codeq_subscription *const *)b)->id);
}

int
codeq_subscription_list(codeq_t *c, codeq_subscription ***subs, size_t *n,
    codeq_error *err)
{
	codeq_subscription **v = NULL;
	redisReply *ids = NULL, *r;
	char now_s[24], key[SUB_KEY_MAX];
	int64_t now;
	size_t i, k = 0;
	int code, oom;

	*subs = NULL;
	*n = 0;
	if ((code = store_now(c, &now, err)) != CODEQ_OK)
		return code;
	snprintf(now_s, sizeof(now_s), "%" PRId64, now);
	/* Expired ids are dropped here too: the set does not grow forever. */
	if ((r = store_command(c, err, "ZREMRANGEBYSCORE %s -inf (%s",
	    CODEQ_KEY_SUBS, now_s)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	freeReplyObject(r);
	if ((ids = store_command(c, err, "ZRANGEBYSCORE %s %s +inf",
	    CODEQ_KEY_SUBS, now_s)) == NULL)
		return err ? err->code : CODEQ_ESTORE;
	if (ids->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(ids);
		return cq_err(err, CODEQ_EPROTO, "store: bad ZRANGEBYSCORE reply");
	}
	for (i = 0; i < ids->elements; i++) {
		/* A member too long for an id (not written by libcodeq)
		 * reads as a missing hash: its key is cut, but still longer
		 * than the key of any valid id. */
		(void)key_sub(key, sizeof(key), ids->element[i]->str);
		if ((code = store_append_command(c, err, "HGETALL %s", key)) !=
		    CODEQ_OK)
			goto fail;
	}
	if ((v = calloc(ids->elements + 1, sizeof(*v))) == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < ids->elements; i++) {
		if ((r = store_get_reply(c, err)) == NULL) {
			code = err ? err->code : CODEQ_ESTORE;
			goto fail;
		}
		if ((v[k] = from_hash(r, &oom)) != NULL)
			k++;
		freeReplyObject(r);
		if (oom) {
			code = cq_err(err, CODEQ_ENOMEM, "out of memory");
			goto fail;
		}
	}
	freeReplyObject(ids);
	qsort(v, k, sizeof(*v), by_id);
	*subs = v;
	*n = k;
	return CODEQ_OK;
fail:
	/* Replies may still be pending on the link: drop it, the next call
	 * reconnects. */
	if (code != CODEQ_ESTORE)
		store_lost(c, NULL);
	freeReplyObject(ids);
	codeq_subscriptions_free(v, k);
	return code;
}
