/*
 * worker.c - the remote worker's routes: claim (one, or a batch; with a
 * long poll), heartbeat, abandon, nack, result (one, or a batch).
 *
 * Fencing: a claim answers each task with its lease token (the task's
 * leaseToken field, and the X-CodeQ-Lease-Token header for a single
 * claim); heartbeat, abandon, nack and result carry it back (body field
 * leaseToken, or the header), and the store refuses a stale one (409).
 * A codeQ client sends no token: then the task's current token is used
 * if the task is leased to the caller's own token name (its workerId),
 * as codeQ checks ownership by worker id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "json.h"

#define CLAIM_QUEUES_MAX 32
#define CLAIM_BATCH_MAX 100
#define RESULTS_BATCH_MAX 100
#define LEASE_DEFAULT_S 30
#define LEASE_MAX_S 86400
#define WAIT_MAX_S 60
#define TOKEN_MAX 64
#define TEXT_MAX 65536		/* reason, error */

/* ---- Claim ----------------------------------------------------------- */

static int
set_queues(struct req *r, const char *const *q, size_t n)
{
	size_t i;

	if ((r->queues = calloc(n, sizeof(*r->queues))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((r->queues[i] = strdup(q[i])) == NULL)
			return -1;
		r->nqueues++;
	}
	return 0;
}

/* The queues to claim from: commands[], else the token's own list. */
static int
claim_queues(struct req *r, char *why, size_t whylen)
{
	const char *q[CLAIM_QUEUES_MAX];
	size_t n, i;

	if (jfield_queues(r->json, "commands", CLAIM_QUEUES_MAX, q, &n, why,
	    whylen) < 0)
		return -1;
	if (n == 0 && r->tok->queues != NULL)
		return set_queues(r, (const char *const *)r->tok->queues,
		    r->tok->nqueues < CLAIM_QUEUES_MAX ? r->tok->nqueues :
		    CLAIM_QUEUES_MAX);
	if (n == 0) {
		snprintf(why, whylen, "'commands' must name the queues to claim "
		    "from (this token may use every queue)");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(q[i], "*") == 0) {
			snprintf(why, whylen, "'commands': '*' is not a queue");
			return -1;
		}
	return set_queues(r, q, n);
}

/* First call of a claim: its queues, lease, wait and count. */
static int
claim_parse(struct req *r, int batch, char *why, size_t whylen)
{
	int64_t lease = LEASE_DEFAULT_S, wait = 0, count = 1;
	size_t i;

	if (jfield_int(r->json, "leaseSeconds", 1, LEASE_MAX_S, &lease, why,
	    whylen) < 0 || jfield_int(r->json, "waitSeconds", 0, 3600, &wait,
	    why, whylen) < 0 || (batch && jfield_int(r->json, "count", 1,
	    CLAIM_BATCH_MAX, &count, why, whylen) < 0) ||
	    claim_queues(r, why, whylen) < 0)
		return -1;
	for (i = 0; i < r->nqueues; i++)
		if (!api_queue_ok(r, r->queues[i]))
			return 1;
	r->lease_ms = lease * 1000;
	r->count = (size_t)count;
	r->deadline_ms = api_now_ms() + (wait > WAIT_MAX_S ? WAIT_MAX_S : wait) *
	    1000;
	return 0;
}

static enum api_done
claim_answer(struct req *r, codeq_task **t, size_t n, int batch)
{
	json_t *arr;
	size_t i;

	if (!batch) {
		snprintf(r->lease_hdr, sizeof(r->lease_hdr), "%s",
		    t[0]->lease_token ? t[0]->lease_token : "");
		return api_json(r, MHD_HTTP_OK, cq_task(t[0], 1));
	}
	if ((arr = json_array()) == NULL)
		return API_FAILED;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, cq_task(t[i], 1));
	return api_json(r, MHD_HTTP_OK, json_pack("{so}", "tasks", arr));
}

static enum api_done
claim(struct api *a, struct req *r, int batch)
{
	codeq_task *t[CLAIM_BATCH_MAX];
	codeq_claim_opts o;
	codeq_error e;
	char why[256] = "";
	enum api_done d;
	size_t n = 0, i;
	int rc;

	if (!r->waiting && (rc = claim_parse(r, batch, why, sizeof(why))) != 0)
		return rc > 0 ? API_ANSWERED :
		    api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why[0] ? why :
		    "out of memory");
	if (api_store(a) == NULL)
		return api_unavailable(r);
	memset(&o, 0, sizeof(o));
	o.lease_ms = r->lease_ms;
	o.worker = r->tok->name;
	o.max_tasks = r->count;
	rc = codeq_claim(a->c, (const char *const *)r->queues, r->nqueues, &o,
	    t, &n, &e);
	if (rc == CODEQ_EEMPTY)
		return !a->stopping && api_now_ms() < r->deadline_ms ? API_WAIT :
		    api_empty(r, MHD_HTTP_NO_CONTENT);
	if (rc != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	d = claim_answer(r, t, n, batch);
	for (i = 0; i < n; i++)
		codeq_task_free(t[i]);
	return d;
}

enum api_done
h_claim(struct api *a, struct req *r)
{
	return claim(a, r, 0);
}

enum api_done
h_claim_batch(struct api *a, struct req *r)
{
	return claim(a, r, 1);
}

/* ---- The lease token ----------------------------------------------- */

/*
 * The lease token for task id: o's leaseToken, else the header, else
 * (a codeQ client) the task's current token when it is leased to this
 * caller.  0, or -1 with *code and msg.
 */
static int
lease_token(struct api *a, struct req *r, json_t *o, const char *id,
    char *tok, int *code, char *msg, size_t msglen)
{
	const char *t = NULL, *h;
	codeq_task *task = NULL;
	codeq_error e;

	*code = CODEQ_EINVAL;
	if (jfield_str(o, "leaseToken", TOKEN_MAX - 1, &t, msg, msglen) < 0)
		return -1;
	h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    "X-CodeQ-Lease-Token");
	if (t == NULL && o == r->json && h != NULL && strlen(h) < TOKEN_MAX)
		t = h;
	if (t != NULL) {
		snprintf(tok, TOKEN_MAX, "%s", t);
		*code = CODEQ_OK;
		return 0;
	}
	if ((*code = codeq_get(a->c, id, &task, &e)) != CODEQ_OK) {
		api_store_lost(a, *code);
		snprintf(msg, msglen, "%s", e.msg);
		return -1;
	}
	*code = CODEQ_ESTALE;
	snprintf(msg, msglen, "no leaseToken, and the task is not leased to "
	    "worker '%s'", r->tok->name);
	if (task->status == CODEQ_LEASED && task->worker && task->lease_token &&
	    strcmp(task->worker, r->tok->name) == 0) {
		snprintf(tok, TOKEN_MAX, "%s", task->lease_token);
		*code = CODEQ_OK;
	}
	codeq_task_free(task);
	return *code == CODEQ_OK ? 0 : -1;
}

/* Common start of the by-id routes: queue allowed, store, token. */
static int
by_id(struct api *a, struct req *r, char *tok)
{
	char q[128], msg[256];
	int code;

	if (api_id_queue(r->id, q, sizeof(q)) < 0) {
		api_error(r, MHD_HTTP_NOT_FOUND, "no such task '%s'", r->id);
		return -1;
	}
	if (!api_queue_ok(r, q))
		return -1;
	if (api_store(a) == NULL) {
		api_unavailable(r);
		return -1;
	}
	if (lease_token(a, r, r->json, r->id, tok, &code, msg, sizeof(msg)) < 0) {
		api_codeq_error(r, code, msg);
		return -1;
	}
	return 0;
}

static enum api_done
store_error(struct api *a, struct req *r, int rc, const codeq_error *e)
{
	api_store_lost(a, rc);
	if (rc == CODEQ_ESTALE)
		return api_error(r, MHD_HTTP_CONFLICT, "stale lease token: the "
		    "task was claimed again since (%s)", e->msg);
	return api_codeq_error(r, rc, e->msg);
}

/* ---- Heartbeat, abandon, nack ------------------------------------- */

enum api_done
h_heartbeat(struct api *a, struct req *r)
{
	char tok[TOKEN_MAX], why[160], until[40];
	int64_t ext = LEASE_DEFAULT_S, lease_until = 0;
	codeq_error e;
	int rc;

	if (jfield_int(r->json, "extendSeconds", 1, LEASE_MAX_S, &ext, why,
	    sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	if (by_id(a, r, tok) < 0)
		return API_ANSWERED;
	rc = codeq_heartbeat(a->c, r->id, tok, ext * 1000, &lease_until, &e);
	if (rc != CODEQ_OK)
		return store_error(a, r, rc, &e);
	format_rfc3339_ms(lease_until, until, sizeof(until));
	return api_json(r, MHD_HTTP_OK, json_pack("{sbss}", "ok", 1,
	    "leaseUntil", until));
}

enum api_done
h_abandon(struct api *a, struct req *r)
{
	const char *reason = NULL;
	char tok[TOKEN_MAX], why[160];
	codeq_error e;
	int rc;

	if (jfield_str(r->json, "reason", TEXT_MAX, &reason, why, sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	if (by_id(a, r, tok) < 0)
		return API_ANSWERED;
	if ((rc = codeq_release(a->c, r->id, tok, reason, &e)) != CODEQ_OK)
		return store_error(a, r, rc, &e);
	return api_json(r, MHD_HTTP_OK, json_pack("{ss}", "status", "requeued"));
}

enum api_done
h_nack(struct api *a, struct req *r)
{
	const char *reason = NULL;
	char tok[TOKEN_MAX], why[160];
	int64_t delay = -1;
	codeq_task_status st;
	codeq_error e;
	json_t *o;
	int rc;

	if (jfield_int(r->json, "delaySeconds", 0, 100LL * 365 * 86400, &delay,
	    why, sizeof(why)) < 0 || jfield_str(r->json, "reason", TEXT_MAX,
	    &reason, why, sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	if (by_id(a, r, tok) < 0)
		return API_ANSWERED;
	rc = codeq_nack_ex(a->c, r->id, tok, delay < 0 ? -1 : delay * 1000,
	    reason, 0, &st, &e);
	if (rc != CODEQ_OK)
		return store_error(a, r, rc, &e);
	o = json_pack("{ss}", "status", st == CODEQ_DEAD ? "dlq" : "requeued");
	if (o && delay >= 0)
		json_object_set_new(o, "delaySeconds", json_integer(delay));
	return api_json(r, MHD_HTTP_OK, o);
}

/* ---- Results -------------------------------------------------------- */

struct verdict {
	int failed;		/* status FAILED */
	char *result;		/* JSON text (COMPLETED), the caller's */
	const char *error;
};

static int
verdict_from(json_t *o, struct verdict *v, char *why, size_t whylen)
{
	const char *status = NULL;
	json_t *res;

	memset(v, 0, sizeof(*v));
	if (jfield_str(o, "status", 16, &status, why, whylen) < 0 ||
	    jfield_str(o, "error", TEXT_MAX, &v->error, why, whylen) < 0)
		return -1;
	if (status == NULL || (strcmp(status, "COMPLETED") != 0 &&
	    strcmp(status, "FAILED") != 0)) {
		snprintf(why, whylen, "'status' must be COMPLETED or FAILED");
		return -1;
	}
	v->failed = strcmp(status, "FAILED") == 0;
	res = json_object_get(o, "result");
	if (!v->failed && res != NULL && !json_is_null(res) &&
	    (v->result = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* The result record of a verdict the store just accepted, without reading
 * it back: what was submitted, completed now (the api's clock; GET
 * /result returns the store's). */
static json_t *
verdict_record(const char *id, const struct verdict *v)
{
	codeq_task t;

	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.status = v->failed ? CODEQ_FAILED : CODEQ_COMPLETED;
	t.result = v->result;
	t.error = v->failed ? (char *)(v->error ? v->error : "failed") : NULL;
	t.completed_at = clock_wall_ms();
	return cq_result(&t);
}

static int
submit(struct api *a, const char *id, const char *tok, const struct verdict *v,
    codeq_error *e)
{
	if (v->failed)
		return codeq_fail(a->c, id, tok, v->error ? v->error : "failed",
		    1, e);
	return codeq_complete(a->c, id, tok, v->result, e);
}

enum api_done
h_result(struct api *a, struct req *r)
{
	char tok[TOKEN_MAX], why[160];
	struct verdict v;
	codeq_error e;
	enum api_done d;
	int rc;

	if (r->json == NULL || verdict_from(r->json, &v, why, sizeof(why)) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", r->json ? why :
		    "a body with 'status' is required");
	if (by_id(a, r, tok) < 0) {
		free(v.result);
		return API_ANSWERED;
	}
	if ((rc = submit(a, r->id, tok, &v, &e)) != CODEQ_OK) {
		free(v.result);
		return store_error(a, r, rc, &e);
	}
	d = api_json(r, MHD_HTTP_OK, verdict_record(r->id, &v));
	free(v.result);
	return d;
}

/* One item of a results batch, from its check to its answer. */
struct ritem {
	const char *id;
	char tok[TOKEN_MAX];
	struct verdict v;
	int rc;			/* CODEQ_OK: ready to submit, then submitted */
	char why[256];
};

static void
item_prepare(struct api *a, struct req *r, json_t *it, struct ritem *x)
{
	char q[128];

	x->rc = CODEQ_EINVAL;
	if (!json_is_object(it) || jfield_str(it, "taskId", CODEQ_ID_MAX - 1,
	    &x->id, x->why, sizeof(x->why)) < 0 || x->id == NULL)
		snprintf(x->why, sizeof(x->why), "each result needs a 'taskId'");
	else if (api_id_queue(x->id, q, sizeof(q)) < 0)
		snprintf(x->why, sizeof(x->why), "no such task");
	else if (!auth_allows(r->tok, AUTH_S_ADMIN) &&
	    !auth_queue_allowed(r->tok, q))
		snprintf(x->why, sizeof(x->why), "token not allowed on queue '%s'", q);
	else if (verdict_from(it, &x->v, x->why, sizeof(x->why)) == 0)
		(void)lease_token(a, r, it, x->id, x->tok, &x->rc, x->why,
		    sizeof(x->why));
}

/* The completions in one pipelined round, the failures one by one. */
static void
items_submit(struct api *a, struct ritem *x, size_t n)
{
	codeq_completion c[RESULTS_BATCH_MAX];
	int status[RESULTS_BATCH_MAX];
	size_t i, k = 0, map[RESULTS_BATCH_MAX];
	codeq_error e;

	for (i = 0; i < n; i++) {
		if (x[i].rc != CODEQ_OK)
			continue;
		if (x[i].v.failed) {
			x[i].rc = submit(a, x[i].id, x[i].tok, &x[i].v, &e);
			snprintf(x[i].why, sizeof(x[i].why), "%s", e.msg);
			continue;
		}
		c[k].id = x[i].id;
		c[k].token = x[i].tok;
		c[k].result = x[i].v.result;
		map[k++] = i;
	}
	if (k > 0 && codeq_complete_batch(a->c, c, k, status, &e) != CODEQ_OK)
		api_store_lost(a, CODEQ_ESTORE);
	for (i = 0; i < k; i++) {
		x[map[i]].rc = status[i];
		snprintf(x[map[i]].why, sizeof(x[map[i]].why), "%s",
		    status[i] == CODEQ_ESTALE ? "stale lease token" :
		    codeq_strerror(status[i]));
	}
}

static json_t *
item_answer(const struct ritem *x)
{
	const char *id = x->id ? x->id : "";

	if (x->rc == CODEQ_OK)
		return json_pack("{sss{ssss}}", "taskId", id, "result", "taskId",
		    id, "status", x->v.failed ? "FAILED" : "COMPLETED");
	return json_pack("{ssss}", "taskId", id, "error", x->why);
}

enum api_done
h_result_batch(struct api *a, struct req *r)
{
	json_t *items = r->json ? json_object_get(r->json, "results") : NULL;
	json_t *out, *it;
	struct ritem *x;
	size_t i, n;

	if (!json_is_array(items) || (n = json_array_size(items)) == 0 ||
	    n > RESULTS_BATCH_MAX)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "'results' must be an "
		    "array of 1-%d results", RESULTS_BATCH_MAX);
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((x = calloc(n, sizeof(*x))) == NULL || (out = json_array()) == NULL) {
		free(x);
		return API_FAILED;
	}
	json_array_foreach(items, i, it)
		item_prepare(a, r, it, &x[i]);
	items_submit(a, x, n);
	for (i = 0; i < n; i++) {
		json_array_append_new(out, item_answer(&x[i]));
		free(x[i].v.result);
	}
	free(x);
	return api_json(r, MHD_HTTP_OK, json_pack("{so}", "results", out));
}
