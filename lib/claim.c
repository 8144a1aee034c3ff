/* claim.c: the worker's side of a lease: claim, heartbeat (one or many). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"

#define DEFAULT_LEASE_MS 30000
#define PROMOTE_LIMIT "100"	/* due delayed tasks promoted per claim */
#define MAX_CLAIM 1000

static int
claim_queue(codeq_t *c, const char *queue, const char *lease,
    const char *worker, size_t want, codeq_task **tasks, size_t *n,
    codeq_error *err)
{
	char key[TASK_KEY_MAX], wantbuf[24];
	const char *argv[6];
	redisReply *r;
	size_t i;
	int code;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_LEASED) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	snprintf(wantbuf, sizeof(wantbuf), "%zu", want);
	argv[0] = key;
	argv[1] = queue;
	argv[2] = lease;
	argv[3] = worker;
	argv[4] = wantbuf;
	argv[5] = PROMOTE_LIMIT;
	if ((r = script_run(c, CODEQ_SCRIPT_CLAIM, 1, 6, argv, NULL, err)) == NULL)
		return err->code;
	if ((code = script_status(r, err)) != CODEQ_OK)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements > want) {
		code = cq_err(err, CODEQ_EPROTO,
		    "store: unexpected reply to claim");
		goto out;
	}
	for (i = 0; i < r->elements; i++) {
		if ((code = task_from_reply(r->element[i], &tasks[*n],
		    err)) != CODEQ_OK)
			goto out;
		(*n)++;
	}
out:
	freeReplyObject(r);
	return code;
}

int
codeq_claim(codeq_t *c, const char *const *queues, size_t nqueues,
    const codeq_claim_opts *opt, codeq_task **tasks, size_t *n,
    codeq_error *err)
{
	char lease[24], worker[300], host[256];
	size_t want = 1, q;
	int code;
	CQ_ERR_LOCAL(err);

	*n = 0;
	if (nqueues == 0)
		return cq_err(err, CODEQ_EINVAL, "queues: none given");
	for (q = 0; q < nqueues; q++)
		if ((code = task_queue_check(queues[q], err)) != CODEQ_OK)
			return code;
	if (opt != NULL && opt->max_tasks > 0)
		want = opt->max_tasks;
	if (want > MAX_CLAIM)
		return cq_err(err, CODEQ_EINVAL,
		    "max_tasks: must be 1-%d, got %zu", MAX_CLAIM, want);
	if (opt != NULL && opt->lease_ms < 0)
		return cq_err(err, CODEQ_EINVAL, "lease: must be positive");
	if (opt != NULL && (code = task_duration_check("lease", opt->lease_ms,
	    err)) != CODEQ_OK)
		return code;
	snprintf(lease, sizeof(lease), "%lld", (long long)(opt != NULL &&
	    opt->lease_ms > 0 ? opt->lease_ms : DEFAULT_LEASE_MS));
	if (opt != NULL && opt->worker != NULL)
		snprintf(worker, sizeof(worker), "%s", opt->worker);
	else {
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(worker, sizeof(worker), "%s:%ld", host,
		    (long)getpid());
	}
	for (q = 0; q < nqueues && *n < want; q++) {
		if ((code = claim_queue(c, queues[q], lease, worker,
		    want - *n, tasks, n, err)) != CODEQ_OK)
			return *n > 0 ? CODEQ_OK : code;
	}
	if (*n == 0)
		return cq_err(err, CODEQ_EEMPTY, "nothing to claim");
	return CODEQ_OK;
}

/* Splits "id token id token ..." in place into refs. */
static size_t
claim_record_parse(char *s, codeq_lease_ref *refs, size_t max)
{
	char *save = NULL, *id, *token;
	size_t n = 0;

	for (id = strtok_r(s, " ", &save); id != NULL && n < max;
	    id = strtok_r(NULL, " ", &save)) {
		if ((token = strtok_r(NULL, " ", &save)) == NULL)
			break;
		refs[n].id = id;
		refs[n].token = token;
		n++;
	}
	return n;
}

int
codeq_last_claim(codeq_t *c, const char *queue, const char *worker,
    codeq_lease_ref *refs, size_t max, size_t *n, char **buf,
    codeq_error *err)
{
	char key[TASK_KEY_MAX + TASK_WORKER_NAME_MAX];
	redisReply *r;
	int code;
	CQ_ERR_LOCAL(err);

	*n = 0;
	*buf = NULL;
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (key_claim(key, sizeof(key), queue, worker) < 0)
		return cq_err(err, CODEQ_EINVAL, "worker: name too long");
	if ((r = store_command(c, err, "GET %s", key)) == NULL)
		return err->code;
	code = CODEQ_OK;
	if (r->type == REDIS_REPLY_STRING) {
		if ((*buf = strdup(r->str)) == NULL)
			code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		else
			*n = claim_record_parse(*buf, refs, max);
	} else if (r->type != REDIS_REPLY_NIL)
		code = cq_err(err, CODEQ_EPROTO,
		    "store: unexpected reply to GET claim record");
	freeReplyObject(r);
	return code;
}

/* Argument strings of one heartbeat.lua call. */
static int
hb_build(const char *id, const char *token, const char *lease,
    struct lease_args *a, codeq_error *err)
{
	int code;

	if ((code = lease_args_build(id, token, a, err)) != CODEQ_OK)
		return code;
	a->argv[4] = lease;
	return CODEQ_OK;
}

static int
hb_reply(const redisReply *r, int64_t *until, codeq_error *err)
{
	int code;

	if ((code = script_status(r, err)) != CODEQ_OK)
		return code;
	if (r->type != REDIS_REPLY_INTEGER)
		return cq_err(err, CODEQ_EPROTO,
		    "store: unexpected reply to heartbeat");
	if (until != NULL)
		*until = r->integer;
	return CODEQ_OK;
}

int
codeq_heartbeat(codeq_t *c, const char *id, const char *token,
    int64_t lease_ms, int64_t *lease_until, codeq_error *err)
{
	struct lease_args a;
	char lease[24];
	redisReply *r;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = task_duration_check("lease", lease_ms, err)) != CODEQ_OK)
		return code;
	snprintf(lease, sizeof(lease), "%lld",
	    (long long)(lease_ms > 0 ? lease_ms : DEFAULT_LEASE_MS));
	if ((code = hb_build(id, token, lease, &a, err)) != CODEQ_OK)
		return code;
	if ((r = script_run(c, CODEQ_SCRIPT_HEARTBEAT, 1, 5, a.argv, NULL, err)) == NULL)
		return err->code;
	code = hb_reply(r, lease_until, err);
	freeReplyObject(r);
	return code;
}

/* What a heartbeat refused with STATE says of the task: "task ID is
 * completed" (heartbeat.lua's lease_refusal). */
static codeq_task_status
hb_refused_state(const char *msg)
{
	const char *s = strrchr(msg, ' ');

	return s != NULL && s - msg >= 3 && strncmp(s - 3, " is ", 4) == 0 ?
	    task_status_parse(s + 1) : CODEQ_STATUS_UNKNOWN;
}

struct hb_out {
	int64_t *until;			/* or NULL */
	codeq_task_status *state;	/* or NULL */
};

/* script_batch's parse for heartbeats. */
static int
hb_parse(const redisReply *r, size_t i, void *arg)
{
	struct hb_out *o = arg;
	codeq_error e;
	int code;

	code = hb_reply(r, o->until != NULL ? &o->until[i] : NULL, &e);
	if (o->state != NULL)
		o->state[i] = code == CODEQ_ESTATE ? hb_refused_state(e.msg) :
		    CODEQ_STATUS_UNKNOWN;
	return code;
}

int
codeq_heartbeat_batch(codeq_t *c, const codeq_lease_ref *leases, size_t n,
    int64_t lease_ms, int *status, int64_t *lease_until, codeq_error *err)
{
	return codeq_heartbeat_batch_ex(c, leases, n, lease_ms, status,
	    lease_until, NULL, err);
}

int
codeq_heartbeat_batch_ex(codeq_t *c, const codeq_lease_ref *leases,
    size_t n, int64_t lease_ms, int *status, int64_t *lease_until,
    codeq_task_status *state, codeq_error *err)
{
	struct hb_out out = { lease_until, state };
	struct lease_args *a;
	const char *const **argvs;
	codeq_error e;
	char lease[24];
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	if (state != NULL)
		for (i = 0; i < n; i++)
			state[i] = CODEQ_STATUS_UNKNOWN;
	if (n == 0)
		return CODEQ_OK;
	if ((code = task_duration_check("lease", lease_ms, err)) != CODEQ_OK)
		return code;
	if ((a = lease_args_array(n, &argvs, err)) == NULL)
		return err->code;
	snprintf(lease, sizeof(lease), "%lld",
	    (long long)(lease_ms > 0 ? lease_ms : DEFAULT_LEASE_MS));
	for (i = 0; i < n; i++) {
		status[i] = hb_build(leases[i].id, leases[i].token, lease,
		    &a[i], &e);
		if (status[i] == CODEQ_OK)
			argvs[i] = a[i].argv;
	}
	code = script_batch(c, CODEQ_SCRIPT_HEARTBEAT, 1, 5, n, argvs, status, hb_parse,
	    &out, err);
	free(a);
	return code;
}
