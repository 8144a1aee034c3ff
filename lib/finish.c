/* finish.c: ending a lease: complete (one or many), fail, nack, release. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"
#include "utf8.h"

#define ERROR_TEXT_MAX (16 * 1024)	/* longer error texts are cut */

static int
check_result(codeq_t *c, const char *result, codeq_error *err)
{
	json_error_t jerr;
	json_t *j;
	size_t n;

	if (result == NULL)
		return CODEQ_OK;
	n = strlen(result);
	if (n > c->max_payload)
		return cq_err(err, CODEQ_ETOOBIG,
		    "result: %zu bytes, over the limit of %zu", n,
		    c->max_payload);
	if ((j = json_loadb(result, n, JSON_DECODE_ANY, &jerr)) == NULL)
		return cq_err(err, CODEQ_EINVAL,
		    "result: not valid JSON: %s (line %d, column %d)",
		    jerr.text, jerr.line, jerr.column);
	json_decref(j);
	return CODEQ_OK;
}

/* Runs a script whose success reply carries nothing the caller needs. */
static int
run_simple(codeq_t *c, const char *script, struct lease_args *a, int nargs,
    codeq_error *err)
{
	redisReply *r;
	int code;

	for (int i = 0; i < nargs; i++)
		a->lens[i] = strlen(a->argv[i]);
	if ((r = script_run(c, script, 1, nargs, a->argv, a->lens, err)) == NULL)
		return err->code;
	code = script_status(r, err);
	freeReplyObject(r);
	return code;
}

/* The error text, at most ERROR_TEXT_MAX bytes, not cut inside a
 * character (the callback body carries it as a JSON string). */
static const char *
cut_error(const char *error, char **owned)
{
	*owned = NULL;
	if (error == NULL)
		return "";
	if (strlen(error) <= ERROR_TEXT_MAX)
		return error;
	if ((*owned = strndup(error, utf8_cut(error, ERROR_TEXT_MAX))) == NULL)
		return "";
	return *owned;
}

/* The 6 arguments of one complete.lua call. */
static int
complete_build(codeq_t *c, const char *id, const char *token,
    const char *result_json, struct lease_args *a, codeq_error *err)
{
	int code;

	if ((code = lease_args_build(id, token, a, err)) != CODEQ_OK ||
	    (code = check_result(c, result_json, err)) != CODEQ_OK)
		return code;
	snprintf(a->num, sizeof(a->num), "%lld", (long long)c->retention_ms);
	a->argv[4] = result_json ? result_json : "";
	a->argv[5] = a->num;
	return CODEQ_OK;
}

int
codeq_complete(codeq_t *c, const char *id, const char *token,
    const char *result_json, codeq_error *err)
{
	struct lease_args a;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = complete_build(c, id, token, result_json, &a, err)) !=
	    CODEQ_OK)
		return code;
	return run_simple(c, CODEQ_SCRIPT_COMPLETE, &a, 6, err);
}

int
codeq_nack(codeq_t *c, const char *id, const char *token, int64_t delay_ms,
    const char *error, codeq_error *err)
{
	return codeq_nack_ex(c, id, token, delay_ms, error, 0, NULL, err);
}

/* nack's reply {status, delay_ms}: where the task went. */
static codeq_task_status
nack_status(const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING)
		return task_status_parse(r->element[0]->str);
	return CODEQ_STATUS_UNKNOWN;
}

int
codeq_nack_ex(codeq_t *c, const char *id, const char *token, int64_t delay_ms,
    const char *error, int max_attempts, codeq_task_status *status,
    codeq_error *err)
{
	struct lease_args a;
	const char *argv[8];
	char cap[16], *owned;
	redisReply *r;
	int code, i;
	CQ_ERR_LOCAL(err);

	if (status != NULL)
		*status = CODEQ_STATUS_UNKNOWN;
	if ((code = lease_args_build(id, token, &a, err)) != CODEQ_OK ||
	    (code = task_duration_check("delay", delay_ms, err)) != CODEQ_OK)
		return code;
	snprintf(a.num, sizeof(a.num), "%lld",
	    (long long)(delay_ms < 0 ? -1 : delay_ms));
	snprintf(a.num2, sizeof(a.num2), "%u", store_random(c));
	for (i = 0; i < 4; i++)
		argv[i] = a.argv[i];
	argv[4] = a.num;
	argv[5] = cut_error(error, &owned);
	argv[6] = a.num2;
	/* The cap only when there is one: the call of a plain nack. */
	snprintf(cap, sizeof(cap), "%d", max_attempts > 0 ? max_attempts : 0);
	argv[7] = cap;
	r = script_run(c, CODEQ_SCRIPT_NACK, 1, max_attempts > 0 ? 8 : 7, argv, NULL, err);
	free(owned);
	if (r == NULL)
		return err->code;
	code = script_status(r, err);
	if (code == CODEQ_OK && status != NULL)
		*status = nack_status(r);
	freeReplyObject(r);
	return code;
}

int
codeq_release(codeq_t *c, const char *id, const char *token,
    const char *reason, codeq_error *err)
{
	struct lease_args a;
	char *owned;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = lease_args_build(id, token, &a, err)) != CODEQ_OK)
		return code;
	a.argv[4] = cut_error(reason, &owned);
	code = run_simple(c, CODEQ_SCRIPT_RELEASE, &a, 5, err);
	free(owned);
	return code;
}

int
codeq_fail(codeq_t *c, const char *id, const char *token, const char *error,
    int permanent, codeq_error *err)
{
	struct lease_args a;
	char *owned;
	int code;
	CQ_ERR_LOCAL(err);

	if (!permanent)
		return codeq_nack(c, id, token, -1, error, err);
	if ((code = lease_args_build(id, token, &a, err)) != CODEQ_OK)
		return code;
	snprintf(a.num, sizeof(a.num), "%lld", (long long)c->retention_ms);
	a.argv[4] = cut_error(error, &owned);
	a.argv[5] = a.num;
	code = run_simple(c, CODEQ_SCRIPT_FAIL, &a, 6, err);
	free(owned);
	return code;
}

/*
 * A batch completion is one complete.lua call per run of consecutive
 * items of one queue (at most COMPLETE_PER_CALL), all pipelined: a
 * worker's or a client's batch costs the store one script call, not one
 * per task.
 */
#define COMPLETE_PER_CALL 64

struct complete_calls {
	size_t *idx;		/* items sent, in order */
	const char **queues;	/* of each item sent */
	size_t *first;		/* call j: idx[first[j] .. first[j + 1]) */
	int *nkeys, *nargs;
	const char ***argvs;
	const char **args;	/* every call's args, one block */
	redisReply **replies;
	size_t ncalls;
};

static void
calls_free(struct complete_calls *k)
{
	free(k->idx);
	free(k->queues);
	free(k->first);
	free(k->nkeys);
	free(k->nargs);
	free(k->argvs);
	free(k->args);
	free(k->replies);
}

/* Plans and builds the calls over the items whose status is CODEQ_OK. */
static int
calls_plan(const struct lease_args *a, size_t n, const int *status,
    struct complete_calls *k, codeq_error *err)
{
	size_t i, nv = 0, off = 0, j, t;

	memset(k, 0, sizeof(*k));
	k->idx = calloc(n, sizeof(*k->idx));
	k->queues = calloc(n, sizeof(*k->queues));
	k->first = calloc(n + 1, sizeof(*k->first));
	k->nkeys = calloc(n, sizeof(*k->nkeys));
	k->nargs = calloc(n, sizeof(*k->nargs));
	k->argvs = calloc(n, sizeof(*k->argvs));
	k->args = calloc(6 * n, sizeof(*k->args));
	k->replies = calloc(n, sizeof(*k->replies));
	if (!k->idx || !k->queues || !k->first || !k->nkeys || !k->nargs ||
	    !k->argvs || !k->args || !k->replies)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (status[i] == CODEQ_OK) {
			k->queues[nv] = a[i].queue;
			k->idx[nv++] = i;
		}
	k->ncalls = script_runs(k->queues, nv, COMPLETE_PER_CALL, k->first);
	for (j = 0; j < k->ncalls; j++) {
		const char **v = k->args + off;
		size_t f = k->first[j], m = k->first[j + 1] - f;

		for (t = 0; t < m; t++) {
			const struct lease_args *x = &a[k->idx[f + t]];

			v[t] = x->argv[0];		/* KEYS: the task hashes */
			v[m + 1 + 4 * t] = x->argv[2];	/* id */
			v[m + 2 + 4 * t] = x->argv[3];	/* token */
			v[m + 3 + 4 * t] = x->argv[4];	/* result */
			v[m + 4 + 4 * t] = x->argv[5];	/* retention */
		}
		v[m] = k->queues[f];
		k->nkeys[j] = (int)m;
		k->nargs[j] = (int)(5 * m + 1);
		k->argvs[j] = v;
		off += 5 * m + 1;
	}
	return CODEQ_OK;
}

/* Call j's reply, one status per item. */
static void
call_status(const redisReply *r, const struct complete_calls *k, size_t j,
    int *status)
{
	size_t t, f = k->first[j], m = k->first[j + 1] - f;
	codeq_error e;
	int whole;

	if (m > 1 && r->type == REDIS_REPLY_ARRAY && r->elements == m) {
		for (t = 0; t < m; t++)
			status[k->idx[f + t]] = script_status(r->element[t], &e);
		return;
	}
	whole = script_status(r, &e);
	if (whole == CODEQ_OK && m > 1)
		whole = CODEQ_EPROTO;	/* not the array of m replies */
	for (t = 0; t < m; t++)
		status[k->idx[f + t]] = whole;
}

int
codeq_complete_batch(codeq_t *c, const codeq_completion *items, size_t n,
    int *status, codeq_error *err)
{
	struct complete_calls k;
	struct lease_args *a;
	const char *const **unused;
	codeq_error e;
	size_t i, j;
	int code;
	CQ_ERR_LOCAL(err);

	if (n == 0)
		return CODEQ_OK;
	if ((a = lease_args_array(n, &unused, err)) == NULL)
		return err->code;
	for (i = 0; i < n; i++)
		status[i] = complete_build(c, items[i].id, items[i].token,
		    items[i].result, &a[i], &e);
	if ((code = calls_plan(a, n, status, &k, err)) != CODEQ_OK)
		goto out;
	code = script_pipeline_v(c, CODEQ_SCRIPT_COMPLETE, k.nkeys, k.nargs, 1, k.ncalls,
	    (const char *const **)k.argvs, k.replies, err);
	for (j = 0; j < k.ncalls; j++) {
		if (k.replies[j] != NULL) {
			call_status(k.replies[j], &k, j, status);
			freeReplyObject(k.replies[j]);
		} else if (code != CODEQ_OK)
			for (i = k.first[j]; i < k.first[j + 1]; i++)
				status[k.idx[i]] = CODEQ_ESTORE;
	}
out:
	calls_free(&k);
	free(a);
	return code;
}
