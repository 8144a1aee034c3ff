/*
 * tasks.c - the producer's routes: create one task or a batch, read a
 * task, read (or wait for) its result.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "clock.h"
#include "json.h"

#define BATCH_MAX 100		/* codeQ's limit for batch create */
#define WAIT_MAX_S 60		/* longest long poll */
#define DELAY_MAX_S (100LL * 365 * 86400)

int
api_id_queue(const char *id, char *q, size_t qlen)
{
	const char *colon = strrchr(id, ':');
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - id)) == 0 || n >= qlen)
		return -1;
	memcpy(q, id, n);
	q[n] = '\0';
	return codeq_queue_name_valid(q) ? 0 : -1;
}

int
api_queue_ok(struct req *r, const char *queue)
{
	if (auth_allows(r->tok, AUTH_S_ADMIN) ||
	    auth_queue_allowed(r->tok, queue))
		return 1;
	api_error(r, MHD_HTTP_FORBIDDEN, "token not allowed on queue '%s'", queue);
	return 0;
}

/* The id's queue, checked against the token: 0, or -1 when answered. */
static int
id_allowed(struct req *r, char *q, size_t qlen)
{
	if (api_id_queue(r->id, q, qlen) < 0) {
		api_error(r, MHD_HTTP_NOT_FOUND, "no such task '%s'", r->id);
		return -1;
	}
	return api_queue_ok(r, q) ? 0 : -1;
}

/* When to run: runAt (RFC 3339) or delaySeconds. */
static int
spec_when(json_t *o, codeq_task_spec *s, char *why, size_t whylen)
{
	const char *run_at = NULL;
	int64_t delay = 0;

	if (jfield_str(o, "runAt", 64, &run_at, why, whylen) < 0 ||
	    jfield_int(o, "delaySeconds", 0, DELAY_MAX_S, &delay, why, whylen) < 0)
		return -1;
	if (run_at && parse_time_ms(run_at, &s->at_ms) < 0) {
		snprintf(why, whylen, "invalid 'runAt' (use RFC 3339)");
		return -1;
	}
	s->delay_ms = delay * 1000;
	return 0;
}

/* A task spec from codeQ's create body; *payload is the caller's. */
static int
spec_from(json_t *o, codeq_task_spec *s, char **payload, char *why,
    size_t whylen)
{
	int64_t prio = 0, max = 0;
	json_t *p;

	memset(s, 0, sizeof(*s));
	*payload = NULL;
	if (!json_is_object(o)) {
		snprintf(why, whylen, "a task must be a JSON object");
		return -1;
	}
	if (jfield_str(o, "command", 100, &s->queue, why, whylen) < 0 ||
	    jfield_int(o, "priority", 0, 9, &prio, why, whylen) < 0 ||
	    jfield_int(o, "maxAttempts", 1, 1000, &max, why, whylen) < 0 ||
	    jfield_str(o, "webhook", 2048, &s->webhook, why, whylen) < 0 ||
	    jfield_str(o, "idempotencyKey", 256, &s->idempotency_key, why,
	    whylen) < 0 || spec_when(o, s, why, whylen) < 0)
		return -1;
	if (s->queue == NULL || !codeq_queue_name_valid(s->queue)) {
		snprintf(why, whylen, "'command' must be a queue name (1-100 "
		    "characters of A-Z a-z 0-9 _ . -)");
		return -1;
	}
	s->priority = (int)prio;
	s->max_attempts = (int)max;
	if ((p = json_object_get(o, "payload")) != NULL &&
	    (*payload = json_dumps(p, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	s->payload = *payload;
	return 0;
}

/* The task as stored now, in codeQ's shape; NULL when it cannot be read. */
static json_t *
read_task(struct api *a, const char *id, int *code, char *msg, size_t msglen)
{
	codeq_task *t = NULL;
	codeq_error e;
	json_t *j;

	if ((*code = codeq_get(a->c, id, &t, &e)) != CODEQ_OK) {
		api_store_lost(a, *code);
		snprintf(msg, msglen, "%s", e.msg);
		return NULL;
	}
	j = cq_task(t, 0);
	codeq_task_free(t);
	return j;
}

/* The task just enqueued from s, in codeQ's shape, without reading it
 * back: a new task is exactly what its spec says, created now (the api's
 * clock; GET returns the store's).  A duplicate of an idempotency key is
 * the existing task, which is read. */
static json_t *
new_task(struct api *a, const codeq_task_spec *s, const char *id, int dup,
    int *code, char *msg, size_t msglen)
{
	codeq_task t;
	int64_t now = clock_wall_ms();

	if (dup)
		return read_task(a, id, code, msg, msglen);
	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.queue = (char *)s->queue;
	t.payload = (char *)s->payload;
	t.webhook = (char *)s->webhook;
	t.idempotency_key = (char *)s->idempotency_key;
	t.priority = s->priority;
	t.max_attempts = s->max_attempts > 0 ? s->max_attempts :
	    CODEQ_MAX_ATTEMPTS_DEFAULT;
	t.created_at = now;
	t.due_at = s->at_ms > 0 ? s->at_ms : now + s->delay_ms;
	t.status = t.due_at > now ? CODEQ_DELAYED : CODEQ_READY;
	return cq_task(&t, 0);
}

enum api_done
h_create(struct api *a, struct req *r)
{
	codeq_task_spec s;
	char why[256] = "", id[CODEQ_ID_MAX], *payload;
	codeq_error e;
	json_t *j;
	int dup, rc;

	if (spec_from(r->json, &s, &payload, why, sizeof(why)) < 0) {
		free(payload);
		return api_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
	}
	if (!api_queue_ok(r, s.queue)) {
		free(payload);
		return API_ANSWERED;
	}
	if (api_store(a) == NULL) {
		free(payload);
		return api_unavailable(r);
	}
	rc = codeq_enqueue(a->c, &s, id, &dup, &e);
	if (rc != CODEQ_OK) {
		free(payload);
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	j = new_task(a, &s, id, dup, &rc, why, sizeof(why));
	free(payload);
	if (j == NULL)
		return api_codeq_error(r, rc, why);
	return api_json(r, MHD_HTTP_ACCEPTED, j);
}

/* Each task of a batch: checked, then enqueued in one pipelined call. */
struct batch {
	codeq_task_spec spec[BATCH_MAX];
	char *payload[BATCH_MAX];
	char why[BATCH_MAX][160];
	int ok[BATCH_MAX];
	size_t idx[BATCH_MAX];	/* spec i is task idx[i] of the body */
	codeq_enqueue_result res[BATCH_MAX];
};

static json_t *
batch_item(struct api *a, struct batch *b, size_t i, size_t *k)
{
	char msg[256];
	json_t *t;
	int rc;

	if (!b->ok[i])
		return json_pack("{ss}", "error", b->why[i]);
	if (b->res[*k].status != CODEQ_OK)
		return json_pack("{ss}", "error", b->res[(*k)++].msg);
	t = new_task(a, &b->spec[*k], b->res[*k].id, b->res[*k].duplicate, &rc,
	    msg, sizeof(msg));
	(*k)++;
	return t ? json_pack("{so}", "task", t) : json_pack("{ss}", "error", msg);
}

static enum api_done
batch_answer(struct api *a, struct req *r, struct batch *b, size_t n)
{
	json_t *out = json_array();
	size_t i, k = 0;

	for (i = 0; i < n && out; i++)
		json_array_append_new(out, batch_item(a, b, i, &k));
	return api_json(r, MHD_HTTP_OK, out ? json_pack("{so}", "results", out) :
	    NULL);
}

enum api_done
h_create_batch(struct api *a, struct req *r)
{
	json_t *tasks = r->json ? json_object_get(r->json, "tasks") : NULL, *t;
	struct batch *b;
	size_t i, n, m = 0;
	codeq_error e;
	enum api_done d;
	int rc;

	if (!json_is_array(tasks) || (n = json_array_size(tasks)) == 0 ||
	    n > BATCH_MAX)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "'tasks' must be an "
		    "array of 1-%d tasks", BATCH_MAX);
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return API_FAILED;
	json_array_foreach(tasks, i, t) {
		b->why[i][0] = '\0';
		b->ok[i] = spec_from(t, &b->spec[m], &b->payload[m], b->why[i],
		    sizeof(b->why[i])) == 0;
		if (b->ok[i] && !auth_queue_allowed(r->tok, b->spec[m].queue) &&
		    !auth_allows(r->tok, AUTH_S_ADMIN)) {
			snprintf(b->why[i], sizeof(b->why[i]), "token not "
			    "allowed on queue '%s'", b->spec[m].queue);
			b->ok[i] = 0;
		}
		if (b->ok[i])
			b->idx[m++] = i;
		else
			free(b->payload[m]);
	}
	rc = m > 0 ? codeq_enqueue_batch(a->c, b->spec, m, b->res, &e) : CODEQ_OK;
	if (rc != CODEQ_OK) {
		api_store_lost(a, rc);
		d = api_codeq_error(r, rc, e.msg);
	} else
		d = batch_answer(a, r, b, n);
	for (i = 0; i < m; i++)
		free(b->payload[i]);
	free(b);
	return d;
}

enum api_done
h_get(struct api *a, struct req *r)
{
	char q[128], msg[256];
	json_t *j;
	int rc;

	if (id_allowed(r, q, sizeof(q)) < 0)
		return API_ANSWERED;
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((j = read_task(a, r->id, &rc, msg, sizeof(msg))) == NULL)
		return api_codeq_error(r, rc, msg);
	return api_json(r, MHD_HTTP_OK, j);
}

static int
is_terminal(codeq_task_status s)
{
	return s == CODEQ_COMPLETED || s == CODEQ_FAILED || s == CODEQ_DEAD;
}

/* First call: the deadline from ?waitSeconds=N. */
static int
result_deadline(struct req *r)
{
	const char *w = MHD_lookup_connection_value(r->conn,
	    MHD_GET_ARGUMENT_KIND, "waitSeconds");
	char *end;
	long s = 0;

	if (w != NULL) {
		s = strtol(w, &end, 10);
		if (end == w || *end != '\0' || s < 0)
			return -1;
	}
	r->deadline_ms = api_now_ms() + (s > WAIT_MAX_S ? WAIT_MAX_S : s) * 1000;
	return 0;
}

enum api_done
h_get_result(struct api *a, struct req *r)
{
	codeq_task *t = NULL;
	codeq_error e;
	char q[128];
	enum api_done d;
	int rc;

	if (!r->waiting && (id_allowed(r, q, sizeof(q)) < 0))
		return API_ANSWERED;
	if (!r->waiting && result_deadline(r) < 0)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "'waitSeconds' must be "
		    "a whole number of seconds");
	if (api_store(a) == NULL)
		return api_unavailable(r);
	if ((rc = codeq_get(a->c, r->id, &t, &e)) != CODEQ_OK) {
		api_store_lost(a, rc);
		return api_codeq_error(r, rc, e.msg);
	}
	if (is_terminal(t->status))
		d = api_json(r, MHD_HTTP_OK, json_pack("{soso}", "task",
		    cq_task(t, 0), "result", cq_result(t)));
	else if (!a->stopping && api_now_ms() < r->deadline_ms)
		d = API_WAIT;
	else
		d = api_json(r, MHD_HTTP_NOT_FOUND, json_pack("{ssso}", "error",
		    "result not ready", "task", cq_task(t, 0)));
	codeq_task_free(t);
	return d;
}
