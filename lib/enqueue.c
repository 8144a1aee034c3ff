/* enqueue.c: validating task specs and enqueueing them (one, or many in
 * pipelined rounds). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"
#include "urlpolicy.h"

#define ENQ_ROUND 1000		/* tasks per pipelined round */
#define ENQ_PER_CALL 100	/* tasks of one queue per enqueue.lua call */
#define ENQ_FIELDS 9		/* enqueue.lua's arguments per task */
#define ENQ_NARGS (2 + ENQ_FIELDS)	/* KEYS[1], Q and one task */
#define DEFAULT_IDEM_TTL_MS (24LL * 3600 * 1000)

/* The number strings of one task's arguments. */
struct enq_item {
	char prio[8], delay[24], at[24], maxatt[16], ttl[24];
};

/* The argument strings of a one-task enqueue.lua call. */
struct enq_args {
	char key[TASK_KEY_MAX];
	struct enq_item item;
	const char *argv[ENQ_NARGS];
};

static int
check_payload(codeq_t *c, const char *payload, codeq_error *err)
{
	json_error_t jerr;
	json_t *j;
	size_t n = strlen(payload);

	if (n > c->max_payload)
		return cq_err(err, CODEQ_ETOOBIG,
		    "payload: %zu bytes, over the limit of %zu", n,
		    c->max_payload);
	j = json_loadb(payload, n, JSON_DECODE_ANY, &jerr);
	if (j == NULL)
		return cq_err(err, CODEQ_EINVAL,
		    "payload: not valid JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
	json_decref(j);
	return CODEQ_OK;
}

/* The result-callback URL, checked as subscriptions' are
 * (lib/urlpolicy.c): http or https, a host, no blanks, at most 2048
 * bytes.  The address policy applies when the callback is sent. */
static int
check_webhook(const char *url, codeq_error *err)
{
	char why[200];

	if (url == NULL || url[0] == '\0')
		return CODEQ_OK;
	if (strlen(url) > URLPOLICY_URL_MAX ||
	    (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0))
		return cq_err(err, CODEQ_EINVAL, "webhook: must be an http:// "
		    "or https:// URL of at most %d bytes, got '%.60s'",
		    URLPOLICY_URL_MAX, url);
	if (urlpolicy_validate(url, why, sizeof(why)) < 0)
		return cq_err(err, CODEQ_EINVAL, "webhook: %s, got '%.60s'",
		    why, url);
	return CODEQ_OK;
}

static int
check_spec(codeq_t *c, const codeq_task_spec *s, codeq_error *err)
{
	int code;

	if ((code = task_queue_check(s->queue, err)) != CODEQ_OK)
		return code;
	if (s->priority < 0 || s->priority > 9)
		return cq_err(err, CODEQ_EINVAL,
		    "priority: must be 0-9, got %d", s->priority);
	if (s->delay_ms < 0)
		return cq_err(err, CODEQ_EINVAL,
		    "delay: must not be negative, got %lld ms",
		    (long long)s->delay_ms);
	if ((code = task_duration_check("delay", s->delay_ms, err)) !=
	    CODEQ_OK)
		return code;
	if (s->at_ms < 0 || s->at_ms > TASK_TIME_MAX_MS)
		return cq_err(err, CODEQ_EINVAL,
		    "at: must be a time between 1970 and 9999, got %lld",
		    (long long)s->at_ms);
	if (s->max_attempts < 0 || s->max_attempts > 1000)
		return cq_err(err, CODEQ_EINVAL,
		    "max_attempts: must be 1-1000, got %d", s->max_attempts);
	if (s->idempotency_key != NULL && (s->idempotency_key[0] == '\0' ||
	    strlen(s->idempotency_key) > 256))
		return cq_err(err, CODEQ_EINVAL,
		    "idempotency_key: must be 1-256 bytes");
	if (s->idempotency_ttl_ms < 0)
		return cq_err(err, CODEQ_EINVAL,
		    "idempotency_ttl: must not be negative");
	if ((code = task_duration_check("idempotency_ttl",
	    s->idempotency_ttl_ms, err)) != CODEQ_OK)
		return code;
	if ((code = check_webhook(s->webhook, err)) != CODEQ_OK)
		return code;
	if (s->traceparent != NULL && strlen(s->traceparent) > 256)
		return cq_err(err, CODEQ_EINVAL,
		    "traceparent: longer than 256 bytes");
	return check_payload(c, s->payload ? s->payload : "{}", err);
}

/* A task's ENQ_FIELDS arguments, in argv[0..8]. */
static void
item_args(const codeq_task_spec *s, struct enq_item *it, const char **argv)
{
	snprintf(it->prio, sizeof(it->prio), "%d", s->priority);
	snprintf(it->delay, sizeof(it->delay), "%lld", (long long)s->delay_ms);
	snprintf(it->at, sizeof(it->at), "%lld", (long long)s->at_ms);
	snprintf(it->maxatt, sizeof(it->maxatt), "%d",
	    s->max_attempts > 0 ? s->max_attempts : CODEQ_MAX_ATTEMPTS_DEFAULT);
	snprintf(it->ttl, sizeof(it->ttl), "%lld", (long long)
	    (s->idempotency_ttl_ms > 0 ? s->idempotency_ttl_ms :
	    DEFAULT_IDEM_TTL_MS));
	argv[0] = s->payload ? s->payload : "{}";
	argv[1] = it->prio;
	argv[2] = it->delay;
	argv[3] = it->at;
	argv[4] = it->maxatt;
	argv[5] = s->idempotency_key ? s->idempotency_key : "";
	argv[6] = it->ttl;
	argv[7] = s->webhook ? s->webhook : "";
	argv[8] = s->traceparent ? s->traceparent : "";
}

static void
build_args(const codeq_task_spec *s, struct enq_args *a)
{
	/* Fits: a->key is sized for the longest queue name. */
	(void)key_queue(a->key, sizeof(a->key), s->queue, CODEQ_KEY_SEQ);
	a->argv[0] = a->key;
	a->argv[1] = s->queue;
	item_args(s, &a->item, a->argv + 2);
}

/* Reads the reply of enqueue.lua: {id, duplicate, status}. */
static int
parse_reply(const redisReply *r, char id[CODEQ_ID_MAX], int *dup,
    codeq_error *err)
{
	int code;

	if ((code = script_status(r, err)) != CODEQ_OK)
		return code;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= CODEQ_ID_MAX ||
	    r->element[1]->type != REDIS_REPLY_INTEGER)
		return cq_err(err, CODEQ_EPROTO,
		    "store: unexpected reply to enqueue");
	memcpy(id, r->element[0]->str, r->element[0]->len + 1);
	if (dup != NULL)
		*dup = r->element[1]->integer != 0;
	return CODEQ_OK;
}

int
codeq_enqueue(codeq_t *c, const codeq_task_spec *spec,
    char id_out[CODEQ_ID_MAX], int *duplicate, codeq_error *err)
{
	struct enq_args a;
	redisReply *r;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = check_spec(c, spec, err)) != CODEQ_OK)
		return code;
	if ((code = store_register_queue(c, spec->queue, err)) != CODEQ_OK)
		return code;
	build_args(spec, &a);
	r = script_run(c, CODEQ_SCRIPT_ENQUEUE, 1, ENQ_NARGS, a.argv, NULL, err);
	if (r == NULL)
		return err->code;
	code = parse_reply(r, id_out, duplicate, err);
	freeReplyObject(r);
	return code;
}

static void
result_err(codeq_enqueue_result *res, const codeq_error *e)
{
	res->status = e->code;
	/* Cut to the result's shorter message buffer. */
	memcpy(res->msg, e->msg, sizeof(res->msg) - 1);
	res->msg[sizeof(res->msg) - 1] = '\0';
}

/*
 * The script calls of a round: the tasks to send, in order (idx), cut by
 * script_runs into runs of one queue; call j covers sent tasks first[j]
 * .. first[j + 1] - 1, and every call's arguments are in one block.
 */
struct enq_calls {
	size_t nsent, ncalls;
	size_t *idx, *first;
	const char **queues;		/* of each sent task */
	struct enq_item *items;		/* of each sent task */
	char (*keys)[TASK_KEY_MAX];	/* KEYS[1] of each call */
	const char **args;
	const char ***argvs;
	int *nkeys, *nargs;
	redisReply **replies;
};

static void
calls_free(struct enq_calls *k)
{
	free(k->idx);
	free(k->first);
	free(k->queues);
	free(k->items);
	free(k->keys);
	free(k->args);
	free(k->argvs);
	free(k->nkeys);
	free(k->nargs);
	free(k->replies);
}

/* Plans and builds the calls of the tasks whose sent[i - from] is set. */
static int
calls_plan(const codeq_task_spec *specs, size_t from, size_t to,
    const char *sent, struct enq_calls *k, codeq_error *err)
{
	size_t n = to - from, i, j, t, off = 0;

	memset(k, 0, sizeof(*k));
	k->idx = calloc(n, sizeof(*k->idx));
	k->first = calloc(n + 1, sizeof(*k->first));
	k->queues = calloc(n, sizeof(*k->queues));
	k->items = calloc(n, sizeof(*k->items));
	k->keys = calloc(n, sizeof(*k->keys));
	k->args = calloc(n * (2 + ENQ_FIELDS), sizeof(*k->args));
	k->argvs = calloc(n, sizeof(*k->argvs));
	k->nkeys = calloc(n, sizeof(*k->nkeys));
	k->nargs = calloc(n, sizeof(*k->nargs));
	k->replies = calloc(n, sizeof(*k->replies));
	if (!k->idx || !k->first || !k->queues || !k->items || !k->keys ||
	    !k->args || !k->argvs || !k->nkeys || !k->nargs || !k->replies)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	for (i = from; i < to; i++)
		if (sent[i - from]) {
			k->queues[k->nsent] = specs[i].queue;
			k->idx[k->nsent++] = i;
		}
	k->ncalls = script_runs(k->queues, k->nsent, ENQ_PER_CALL, k->first);
	for (j = 0; j < k->ncalls; j++) {
		const char **v = k->args + off;
		size_t f = k->first[j], m = k->first[j + 1] - f;

		(void)key_queue(k->keys[j], sizeof(k->keys[j]), k->queues[f],
		    CODEQ_KEY_SEQ);	/* fits, as in build_args() */
		v[0] = k->keys[j];
		v[1] = k->queues[f];
		for (t = 0; t < m; t++)
			item_args(&specs[k->idx[f + t]], &k->items[f + t],
			    v + 2 + ENQ_FIELDS * t);
		k->argvs[j] = v;
		k->nkeys[j] = 1;
		k->nargs[j] = (int)(2 + ENQ_FIELDS * m);
		off += 2 + ENQ_FIELDS * m;
	}
	return CODEQ_OK;
}

/* One task's part of a reply (the whole reply for a one-task call). */
static void
item_reply(const redisReply *r, codeq_enqueue_result *res)
{
	codeq_error e;

	if (parse_reply(r, res->id, &res->duplicate, &e) != CODEQ_OK)
		result_err(res, &e);
}

/* The reply of call j, one result per task. */
static void
call_reply(const redisReply *r, const struct enq_calls *k, size_t j,
    codeq_enqueue_result *res)
{
	size_t t, f = k->first[j], m = k->first[j + 1] - f;
	codeq_error e;

	if (m == 1) {
		item_reply(r, &res[k->idx[f]]);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == m) {
		for (t = 0; t < m; t++)
			item_reply(r->element[t], &res[k->idx[f + t]]);
		return;
	}
	if (script_status(r, &e) == CODEQ_OK)
		cq_err(&e, CODEQ_EPROTO, "store: unexpected reply to enqueue");
	for (t = 0; t < m; t++)
		result_err(&res[k->idx[f + t]], &e);
}

/* One pipelined round: tasks [from, to), one script call per run of
 * tasks of one queue (script_pipeline_v, which also reloads the script
 * after NOSCRIPT).  Queues are registered before the round: nothing may
 * be sent between its appends and its reads. */
static int
enqueue_round(codeq_t *c, const codeq_task_spec *specs, size_t from,
    size_t to, codeq_enqueue_result *res, codeq_error *err)
{
	struct enq_calls k = { 0 };
	codeq_error e;
	size_t i, j;
	char *sent;
	int code = CODEQ_OK;

	if ((sent = calloc(to - from, 1)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	memset(&res[from], 0, (to - from) * sizeof(*res));
	for (i = from; i < to && code == CODEQ_OK; i++) {
		if (check_spec(c, &specs[i], &e) != CODEQ_OK ||
		    store_register_queue(c, specs[i].queue, &e) != CODEQ_OK) {
			result_err(&res[i], &e);
			if (e.code == CODEQ_ESTORE)
				code = CODEQ_ESTORE;
		} else
			sent[i - from] = 1;
	}
	if (code == CODEQ_OK &&
	    (code = calls_plan(specs, from, to, sent, &k, err)) == CODEQ_OK)
		code = script_pipeline_v(c, CODEQ_SCRIPT_ENQUEUE, k.nkeys, k.nargs, 1,
		    k.ncalls, (const char *const **)k.argvs, k.replies, err);
	for (j = 0; j < k.ncalls; j++)
		if (k.replies[j] != NULL) {
			call_reply(k.replies[j], &k, j, res);
			freeReplyObject(k.replies[j]);
		}
	calls_free(&k);
	free(sent);
	if (code != CODEQ_ESTORE)
		return code;
	/* The replies of this round are lost: their outcome is unknown. */
	for (i = from; i < to; i++)
		if (res[i].status == CODEQ_OK && res[i].id[0] == '\0') {
			res[i].status = CODEQ_ESTORE;
			snprintf(res[i].msg, sizeof(res[i].msg),
			    "store: connection lost, outcome unknown");
		}
	store_lost(c, &e);
	return cq_err(err, CODEQ_ESTORE, "store: connection lost during a "
	    "batch (tasks %zu-%zu)", from, to - 1);
}

int
codeq_enqueue_batch(codeq_t *c, const codeq_task_spec *specs, size_t n,
    codeq_enqueue_result *results, codeq_error *err)
{
	size_t from, to;
	int code;
	CQ_ERR_LOCAL(err);

	for (from = 0; from < n; from = to) {
		to = from + ENQ_ROUND < n ? from + ENQ_ROUND : n;
		if ((code = enqueue_round(c, specs, from, to, results,
		    err)) != CODEQ_OK) {
			for (size_t i = to; i < n; i++) {
				memset(&results[i], 0, sizeof(results[i]));
				results[i].status = CODEQ_ESTORE;
				snprintf(results[i].msg, sizeof(results[i].msg),
				    "not sent: store connection lost");
			}
			return code;
		}
	}
	return CODEQ_OK;
}
