/* finish.c: ending a lease: complete (one or many), fail, nack. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "scripts.h"
#include "store.h"
#include "task.h"

#define ERROR_TEXT_MAX (16 * 1024)	/* longer error texts are cut */

/* Arguments shared by complete/fail/nack: KEYS[1] task hash, Q, id, token,
 * then two script-specific ones. */
struct fin_args {
	char queue[CODEQ_ID_MAX];
	char key[TASK_KEY_MAX];
	char num[24];
	char num2[24];
	const char *argv[7];
	size_t lens[7];
};

static int
fin_build(const char *id, const char *token, struct fin_args *a,
    codeq_error *err)
{
	int code;

	if ((code = task_id_split(id, a->queue, sizeof(a->queue), a->key,
	    sizeof(a->key), err)) != CODEQ_OK)
		return code;
	if (token == NULL || *token == '\0')
		return cq_err(err, CODEQ_EINVAL, "token: missing");
	a->argv[0] = a->key;
	a->argv[1] = a->queue;
	a->argv[2] = id;
	a->argv[3] = token;
	return CODEQ_OK;
}

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
run_simple(codeq_t *c, const char *script, struct fin_args *a, int nargs,
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

static const char *
cut_error(const char *error, char **owned)
{
	*owned = NULL;
	if (error == NULL)
		return "";
	if (strlen(error) <= ERROR_TEXT_MAX)
		return error;
	if ((*owned = strndup(error, ERROR_TEXT_MAX)) == NULL)
		return "";
	return *owned;
}

int
codeq_complete(codeq_t *c, const char *id, const char *token,
    const char *result_json, codeq_error *err)
{
	struct fin_args a;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = fin_build(id, token, &a, err)) != CODEQ_OK ||
	    (code = check_result(c, result_json, err)) != CODEQ_OK)
		return code;
	snprintf(a.num, sizeof(a.num), "%lld", (long long)c->retention_ms);
	a.argv[4] = result_json ? result_json : "";
	a.argv[5] = a.num;
	return run_simple(c, "complete", &a, 6, err);
}

int
codeq_nack(codeq_t *c, const char *id, const char *token, int64_t delay_ms,
    const char *error, codeq_error *err)
{
	struct fin_args a;
	char *owned;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = fin_build(id, token, &a, err)) != CODEQ_OK)
		return code;
	snprintf(a.num, sizeof(a.num), "%lld",
	    (long long)(delay_ms < 0 ? -1 : delay_ms));
	snprintf(a.num2, sizeof(a.num2), "%u", store_random(c));
	a.argv[4] = a.num;
	a.argv[5] = cut_error(error, &owned);
	a.argv[6] = a.num2;
	code = run_simple(c, "nack", &a, 7, err);
	free(owned);
	return code;
}

int
codeq_fail(codeq_t *c, const char *id, const char *token, const char *error,
    int permanent, codeq_error *err)
{
	struct fin_args a;
	char *owned;
	int code;
	CQ_ERR_LOCAL(err);

	if (!permanent)
		return codeq_nack(c, id, token, -1, error, err);
	if ((code = fin_build(id, token, &a, err)) != CODEQ_OK)
		return code;
	snprintf(a.num, sizeof(a.num), "%lld", (long long)c->retention_ms);
	a.argv[4] = cut_error(error, &owned);
	a.argv[5] = a.num;
	code = run_simple(c, "fail", &a, 6, err);
	free(owned);
	return code;
}

int
codeq_complete_batch(codeq_t *c, const codeq_completion *items, size_t n,
    int *status, codeq_error *err)
{
	struct fin_args *a = NULL;
	const char *const **argvs = NULL;
	redisReply **replies = NULL;
	codeq_error e;
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	if (n == 0)
		return CODEQ_OK;
	a = calloc(n, sizeof(*a));
	argvs = calloc(n, sizeof(*argvs));
	replies = calloc(n, sizeof(*replies));
	if (a == NULL || argvs == NULL || replies == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		status[i] = fin_build(items[i].id, items[i].token, &a[i], &e);
		if (status[i] == CODEQ_OK)
			status[i] = check_result(c, items[i].result, &e);
		if (status[i] != CODEQ_OK)
			continue;
		snprintf(a[i].num, sizeof(a[i].num), "%lld",
		    (long long)c->retention_ms);
		a[i].argv[4] = items[i].result ? items[i].result : "";
		a[i].argv[5] = a[i].num;
		argvs[i] = a[i].argv;
	}
	code = script_pipeline(c, "complete", 1, 6, n, argvs, replies, err);
	for (i = 0; i < n; i++) {
		if (code != CODEQ_OK && argvs[i] != NULL)
			status[i] = CODEQ_ESTORE;
		if (replies[i] != NULL) {
			status[i] = script_status(replies[i], &e);
			freeReplyObject(replies[i]);
		}
	}
out:
	free(a);
	free(argvs);
	free(replies);
	return code;
}
