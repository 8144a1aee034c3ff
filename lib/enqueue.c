/* enqueue.c: validating task specs and enqueueing them (one, or many in
 * pipelined rounds). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scripts.h"
#include "store.h"
#include "task.h"
#include "urlpolicy.h"

#define ENQ_ROUND 1000		/* tasks per pipelined round */
#define ENQ_PER_CALL 100	/* tasks of one queue per enqueue.lua call */
#define ENQ_FIELDS 9		/* enqueue.lua's arguments per task */
#define ENQ_NARGS (2 + ENQ_FIELDS)	/* KEYS[1], Q and one task */
#define DEFAULT_MAX_ATTEMPTS 5
#define DEFAULT_IDEM_TTL_MS (24LL * 3600 * 1000)

/* What enqueue_round does with a task, and with a call. */
enum { ST_SKIP = 0, ST_SENT, ST_RETRY };

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
	    s->max_attempts > 0 ? s->max_attempts : DEFAULT_MAX_ATTEMPTS);
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
	snprintf(a->key, sizeof(a->key), "codeq:{%s}:seq", s->queue);
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
	r = script_run(c, "enqueue", 1, ENQ_NARGS, a.argv, NULL, err);
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
 * The script calls of a round: runs of tasks to send (st SENT) of one
 * queue, at most ENQ_PER_CALL each, in the order given.  idx lists the
 * tasks of every call one after another; call j covers idx[at[j] ..
 * at[j + 1]).
 */
struct enq_calls {
	size_t *idx, *at, ncalls;
	struct enq_item *items;
	const char **argv;
	char key[TASK_KEY_MAX];
};

static int
calls_plan(const codeq_task_spec *specs, size_t from, size_t to,
    const char *st, struct enq_calls *k, codeq_error *err)
{
	size_t i, n = 0, in_call = 0;
	const char *q = NULL;

	k->idx = calloc(to - from, sizeof(*k->idx));
	k->at = calloc(to - from + 1, sizeof(*k->at));
	k->items = calloc(ENQ_PER_CALL, sizeof(*k->items));
	k->argv = calloc(2 + ENQ_FIELDS * ENQ_PER_CALL, sizeof(*k->argv));
	if (!k->idx || !k->at || !k->items || !k->argv)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	k->ncalls = 0;
	for (i = from; i < to; i++) {
		if (st[i - from] != ST_SENT)
			continue;
		if (q == NULL || strcmp(q, specs[i].queue) != 0 ||
		    in_call == ENQ_PER_CALL) {
			k->at[k->ncalls++] = n;
			q = specs[i].queue;
			in_call = 0;
		}
		k->idx[n++] = i;
		in_call++;
	}
	k->at[k->ncalls] = n;
	return CODEQ_OK;
}

static void
calls_free(struct enq_calls *k)
{
	free(k->idx);
	free(k->at);
	free(k->items);
	free(k->argv);
}

/* The arguments of call j; returns their number (KEYS[1] included). */
static int
call_args(const codeq_task_spec *specs, struct enq_calls *k, size_t j)
{
	size_t t, m = k->at[j + 1] - k->at[j];
	const codeq_task_spec *first = &specs[k->idx[k->at[j]]];

	snprintf(k->key, sizeof(k->key), "codeq:{%s}:seq", first->queue);
	k->argv[0] = k->key;
	k->argv[1] = first->queue;
	for (t = 0; t < m; t++)
		item_args(&specs[k->idx[k->at[j] + t]], &k->items[t],
		    k->argv + 2 + ENQ_FIELDS * t);
	return (int)(2 + ENQ_FIELDS * m);
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
	size_t t, m = k->at[j + 1] - k->at[j];
	codeq_error e;

	if (m == 1) {
		item_reply(r, &res[k->idx[k->at[j]]]);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements == m) {
		for (t = 0; t < m; t++)
			item_reply(r->element[t], &res[k->idx[k->at[j] + t]]);
		return;
	}
	if (script_status(r, &e) == CODEQ_OK)
		cq_err(&e, CODEQ_EPROTO, "store: unexpected reply to enqueue");
	for (t = 0; t < m; t++)
		result_err(&res[k->idx[k->at[j] + t]], &e);
}

/* One pipelined round: tasks [from, to), one script call per run of
 * tasks of one queue.  Nothing may be sent between the appends and the
 * reads (a blocking command would read a pipelined reply), so queues are
 * registered before and NOSCRIPT retries happen after. */
static int
enqueue_round(codeq_t *c, const codeq_task_spec *specs, size_t from,
    size_t to, codeq_enqueue_result *res, codeq_error *err)
{
	struct enq_calls k = { 0 };
	codeq_error e;
	redisReply *r;
	size_t i, j;
	char *st = NULL, *retry = NULL;
	int nargs;

	if ((st = calloc(to - from, 1)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	for (i = from; i < to; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		if (check_spec(c, &specs[i], &e) != CODEQ_OK ||
		    store_register_queue(c, specs[i].queue, &e) != CODEQ_OK) {
			result_err(&res[i], &e);
			if (e.code == CODEQ_ESTORE)
				goto lost;
			continue;
		}
		st[i - from] = ST_SENT;
	}
	if (calls_plan(specs, from, to, st, &k, err) != CODEQ_OK ||
	    (retry = calloc(k.ncalls + 1, 1)) == NULL) {
		calls_free(&k);
		free(st);
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	}
	for (j = 0; j < k.ncalls; j++) {
		nargs = call_args(specs, &k, j);
		if (script_append(c, "enqueue", 1, nargs, k.argv, NULL,
		    err) != CODEQ_OK)
			goto lost;
	}
	for (j = 0; j < k.ncalls; j++) {
		if ((r = store_get_reply(c, err)) == NULL)
			goto lost;
		if (script_is_noscript(r))
			retry[j] = ST_RETRY;
		else
			call_reply(r, &k, j, res);
		freeReplyObject(r);
	}
	for (j = 0; j < k.ncalls; j++) {
		if (retry[j] != ST_RETRY)
			continue;
		nargs = call_args(specs, &k, j);
		if ((r = script_run(c, "enqueue", 1, nargs, k.argv, NULL,
		    err)) == NULL)
			goto lost;
		call_reply(r, &k, j, res);
		freeReplyObject(r);
	}
	calls_free(&k);
	free(retry);
	free(st);
	return CODEQ_OK;
lost:
	/* The replies of this round are lost: their outcome is unknown. */
	for (i = from; i < to; i++)
		if (res[i].status == CODEQ_OK && res[i].id[0] == '\0') {
			res[i].status = CODEQ_ESTORE;
			snprintf(res[i].msg, sizeof(res[i].msg),
			    "store: connection lost, outcome unknown");
		}
	calls_free(&k);
	free(retry);
	free(st);
	if (c->rc != NULL)
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
