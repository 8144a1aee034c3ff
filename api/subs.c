/*
 * subs.c - worker subscriptions (WORK_AVAILABLE webhooks, sent by
 * codeq-webhooks' notifier) and their heartbeat, and the admin routes:
 * the queues and each queue's depths and counters.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "json.h"

#define SUB_QUEUES_MAX 64
#define TTL_MAX_S 86400

/* 0, or -1 with why. */
static int
sub_spec(struct req *r, codeq_subscription_spec *s, const char **q,
    char *why, size_t whylen)
{
	const char *mode = NULL;
	int64_t ttl = 0, interval = 0;
	codeq_error e;

	memset(s, 0, sizeof(*s));
	if (jfield_str(r->json, "callbackUrl", 2048, &s->url, why, whylen) < 0 ||
	    jfield_queues(r->json, "eventTypes", SUB_QUEUES_MAX, q, &s->nqueues,
	    why, whylen) < 0 || jfield_int(r->json, "ttlSeconds", 1, TTL_MAX_S,
	    &ttl, why, whylen) < 0 || jfield_str(r->json, "deliveryMode", 16,
	    &mode, why, whylen) < 0 || jfield_str(r->json, "groupId", 128,
	    &s->group, why, whylen) < 0 || jfield_int(r->json,
	    "minIntervalSeconds", 0, TTL_MAX_S, &interval, why, whylen) < 0)
		return -1;
	if (s->url == NULL || codeq_webhook_url_valid(s->url, &e) != CODEQ_OK) {
		snprintf(why, whylen, "'callbackUrl': %s", s->url ? e.msg :
		    "required");
		return -1;
	}
	if (mode && codeq_sub_mode_parse(mode, &s->mode) != CODEQ_OK) {
		snprintf(why, whylen, "'deliveryMode' must be fanout, group or hash");
		return -1;
	}
	s->ttl_ms = ttl * 1000;
	s->min_interval_ms = interval * 1000;
	return 0;
}

/* The queues of a subscription: eventTypes, else the token's (or "*"). */
static int
sub_queues(struct req *r, codeq_subscription_spec *s, const char **q)
{
	size_t i;

	if (s->nqueues == 0 && r->tok->queues != NULL) {
		for (i = 0; i < r->tok->nqueues && i < SUB_QUEUES_MAX; i++)
			q[i] = r->tok->queues[i];
		s->nqueues = i;
	} else if (s->nqueues == 0) {
		q[s->nqueues++] = "*";
	}
	s->queues = q;
	for (i = 0; i < s->nqueues; i++)
		if (strcmp(q[i], "*") == 0 ? r->tok->queues != NULL &&
		    !auth_allows(r->tok, AUTH_S_ADMIN) : !api_queue_ok(r, q[i])) {
			if (strcmp(q[i], "*") == 0)
				api_error(r, MHD_HTTP_FORBIDDEN, "token not "
				    "allowed on every queue ('*')");
			return -1;
		}
	return 0;
}

static enum api_done
sub_answer(struct api *a, struct req *r, const char *id)
{
	codeq_subscription *s = NULL;
	codeq_error e;
	char when[40];
	int rc;

	if ((rc = codeq_subscription_get(a->c, id, &s, &e)) != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	format_rfc3339_ms(s->expires_at, when, sizeof(when));
	codeq_subscription_free(s);
	return api_json(r, MHD_HTTP_OK, json_pack("{ssss}", "subscriptionId", id,
	    "expiresAt", when));
}

enum api_done
h_subscribe(struct api *a, struct req *r)
{
	codeq_subscription_spec s;
	const char *q[SUB_QUEUES_MAX];
	char why[300] = "", id[CODEQ_ID_MAX];
	codeq_error e;
	int rc;

	if (sub_spec(r, &s, q, why, sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	if (sub_queues(r, &s, q) < 0)
		return API_ANSWERED;
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((rc = codeq_subscribe(a->c, &s, id, &e)) != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	return sub_answer(a, r, id);
}

enum api_done
h_sub_heartbeat(struct api *a, struct req *r)
{
	int64_t ttl = 0, until;
	codeq_error e;
	char why[160];
	int rc;

	if (jfield_int(r->json, "ttlSeconds", 1, TTL_MAX_S, &ttl, why,
	    sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	if (api_store(a) == NULL)
		return api_unavailable(r);
	rc = codeq_subscription_renew(a->c, r->id, ttl * 1000, &until, &e);
	if (rc != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	return sub_answer(a, r, r->id);
}

/* ---- Admin ------------------------------------------------------------ */

static json_t *
stats_json(const char *queue, const codeq_stats *s)
{
	json_t *prio = json_array();
	int i;

	for (i = 9; prio && i >= 0; i--)
		json_array_append_new(prio, json_integer(s->ready[i]));
	return json_pack("{ss sI sI sI sI s{sI sI sI sI sI sI} so sI sI}",
	    "command", queue, "ready", (json_int_t)s->ready_total,
	    "delayed", (json_int_t)s->delayed,
	    "inProgress", (json_int_t)s->leased, "dlq", (json_int_t)s->dlq,
	    "counters", "enqueued", (json_int_t)s->enqueued,
	    "claimed", (json_int_t)s->claimed,
	    "completed", (json_int_t)s->completed,
	    "failed", (json_int_t)s->failed, "retried", (json_int_t)s->retried,
	    "deadLettered", (json_int_t)s->dead_lettered,
	    "readyByPriority", prio, "callbacksPending", (json_int_t)s->outbox,
	    "oldestReadyMs", (json_int_t)s->oldest_ready_ms);
}

enum api_done
h_queue_stats(struct api *a, struct req *r)
{
	codeq_stats s;
	codeq_error e;
	int rc;

	if (!codeq_queue_name_valid(r->id))
		return api_error(r, MHD_HTTP_BAD_REQUEST, "invalid queue name");
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((rc = codeq_stats_get(a->c, r->id, &s, &e)) != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	return api_json(r, MHD_HTTP_OK, stats_json(r->id, &s));
}

enum api_done
h_queues(struct api *a, struct req *r)
{
	char **names = NULL;
	size_t n = 0, i;
	codeq_stats s;
	codeq_error e;
	json_t *arr;
	int rc;

	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((rc = codeq_queues(a->c, &names, &n, &e)) != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	arr = json_array();
	for (i = 0; i < n && arr && rc == CODEQ_OK; i++)
		if ((rc = codeq_stats_get(a->c, names[i], &s, &e)) == CODEQ_OK)
			json_array_append_new(arr, stats_json(names[i], &s));
	codeq_strv_free(names, n);
	if (rc != CODEQ_OK) {
		json_decref(arr);
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	return api_json(r, MHD_HTTP_OK, json_pack("{so}", "queues", arr));
}
