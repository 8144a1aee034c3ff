/* finish.c: ending a lease: complete (one or many), fail, nack, release. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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
	return run_simple(c, "complete", &a, 6, err);
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
	r = script_run(c, "nack", 1, max_attempts > 0 ? 8 : 7, argv, NULL, err);
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
	code = run_simple(c, "release", &a, 5, err);
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
	code = run_simple(c, "fail", &a, 6, err);
	free(owned);
	return code;
}

/* script_batch's parse for completions: the reply carries nothing. */
static int
complete_parse(const redisReply *r, size_t i, void *arg)
{
	codeq_error e;

	(void)i;
	(void)arg;
	return script_status(r, &e);
}

int
codeq_complete_batch(codeq_t *c, const codeq_completion *items, size_t n,
    int *status, codeq_error *err)
{
	struct lease_args *a;
	const char *const **argvs;
	codeq_error e;
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	if (n == 0)
		return CODEQ_OK;
	if ((a = lease_args_array(n, &argvs, err)) == NULL)
		return err->code;
	for (i = 0; i < n; i++) {
		status[i] = complete_build(c, items[i].id, items[i].token,
		    items[i].result, &a[i], &e);
		if (status[i] == CODEQ_OK)
			argvs[i] = a[i].argv;
	}
	code = script_batch(c, "complete", 1, 6, n, argvs, status,
	    complete_parse, NULL, err);
	free(a);
	return code;
}
