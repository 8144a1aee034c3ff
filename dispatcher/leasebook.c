/*
 * leasebook.c - the leases each worker holds, as the dispatcher knows
 * them from CLAIMED and DONE, and the pure decisions of a heartbeat: which
 * leases go into the next pipelined round, and what each answer means.
 * No store, no clock: tests/unit/leasebook.c.  lease.c does the store
 * side (heartbeats, give-backs).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"

int
lease_add(struct child *c, const struct ipc_msg *m)
{
	struct lease *l = NULL;
	int added = 0;
	size_t i;

	for (i = 0; i < c->nleases; i++)
		if (strcmp(c->leases[i].id, m->u.claimed.id) == 0)
			l = &c->leases[i];
	if (l == NULL) {
		if (c->nleases == MAX_LEASES) {
			log_warning("too many leases reported by one worker",
			    "task", m->u.claimed.id);
			return 0;
		}
		l = &c->leases[c->nleases++];
		added = 1;
	}
	memcpy(l->queue, m->u.claimed.queue, sizeof(l->queue));
	memcpy(l->id, m->u.claimed.id, sizeof(l->id));
	memcpy(l->token, m->u.claimed.token, sizeof(l->token));
	l->deadline_ms = (int64_t)m->u.claimed.deadline_ms;
	return added;
}

/* 1 when the lease of id is the task whose handler runs (CLAIMED came
 * again with a deadline), not one waiting in a prefetched batch. */
int
lease_running(const struct child *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nleases; i++)
		if (strcmp(c->leases[i].id, id) == 0)
			return c->leases[i].deadline_ms > 0;
	return 0;
}

/* Forgets a lease; outcome (or NULL) goes to the metrics. */
void
lease_drop(struct child *c, const char *id, const char *outcome)
{
	size_t i;

	for (i = 0; i < c->nleases; i++)
		if (strcmp(c->leases[i].id, id) == 0) {
			if (outcome != NULL && c->pool != NULL)
				cqm_task_done(c->pool->pc->name,
				    c->leases[i].queue, outcome);
			c->leases[i] = c->leases[--c->nleases];
			return;
		}
}


size_t
lease_batch(struct pool *p, int *ci, size_t *ki, codeq_lease_ref *refs,
    struct child **owner, size_t max)
{
	size_t n = 0;

	for (; *ci < p->nchildren && n < max; (*ci)++, *ki = 0) {
		struct child *c = &p->children[*ci];

		for (; *ki < c->nleases && n < max; (*ki)++) {
			refs[n].id = c->leases[*ki].id;
			refs[n].token = c->leases[*ki].token;
			owner[n++] = c;
		}
		if (*ki < c->nleases)
			break;		/* the batch is full mid-child */
	}
	return n;
}

/*
 * A heartbeat refused with STATE while the task carries this lease's
 * token found it terminal: the worker completed or failed it and its
 * DONE is on the way.  Any other refusal (STALE: another token, the task
 * requeued or claimed again; NOTFOUND; a state that is not terminal) is
 * a lost lease.  A lost reply (ESTORE) says nothing: the next round asks
 * again.
 */
enum hb_verdict
heartbeat_verdict(int status, codeq_task_status state)
{
	if (status == CODEQ_OK)
		return HB_EXTENDED;
	if (status == CODEQ_ESTORE)
		return HB_UNKNOWN;
	if (status == CODEQ_ESTATE && (state == CODEQ_COMPLETED ||
	    state == CODEQ_FAILED || state == CODEQ_DEAD))
		return HB_FINISHED;
	return HB_LOST;
}
