/*
 * lease.c - the leases held on this host.
 *
 * Workers report each lease (CLAIMED) and its end (DONE).  The dispatcher
 * extends all leases of a pool in one pipelined round (codeq_heartbeat_batch)
 * every third of the pool's lease, and when a worker dies it gives that
 * worker's tasks back at once: nack with delay 0 and the reason as the
 * error ("worker exited on signal 9"); the attempt was counted by the
 * claim.  A worker the dispatcher itself stopped (killed after
 * shutdown_timeout, or restarted for another lease it lost) did nothing
 * wrong: its tasks are released, the attempt refunded.  If the store is
 * unreachable the give-back waits in a list and is retried each tick;
 * should the lease expire first, the reaper requeues the task instead, so
 * nothing is lost either way.
 *
 * The store calls go through the dispatcher's store link (dstore.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"
#include "task.h"

void
lease_give_back(struct child *c, const char *why, enum giveback_kind kind)
{
	struct giveback *g;
	size_t i;

	for (i = 0; i < c->nleases; i++) {
		if (c->pool != NULL && !c->leases[i].recovered)
			cqm_task_done(c->pool->pc->name, c->leases[i].queue,
			    kind == GB_RELEASE ? "released" : "worker_died");
		if ((g = calloc(1, sizeof(*g))) == NULL)
			continue;	/* the reaper will requeue it */
		memcpy(g->id, c->leases[i].id, sizeof(g->id));
		memcpy(g->token, c->leases[i].token, sizeof(g->token));
		memcpy(g->queue, c->leases[i].queue, sizeof(g->queue));
		if (c->pool != NULL) {
			snprintf(g->pool, sizeof(g->pool), "%s", c->pool->pc->name);
			g->max_attempts = c->pool->pc->max_attempts;
		}
		snprintf(g->error, sizeof(g->error), "%s", why);
		g->kind = kind;
		g->recovered = c->leases[i].recovered;
		g->next = D.givebacks;
		D.givebacks = g;
	}
	c->nleases = 0;
	givebacks_run();
}

void
givebacks_run(void)
{
	struct giveback **gp = &D.givebacks, *g;
	codeq_task_status st;
	codeq_error err;
	codeq_t *s;
	int rc;

	while ((g = *gp) != NULL) {
		if ((s = dstore_get()) == NULL)
			return;
		st = CODEQ_READY;
		/* The pool's max_attempts applies as in its workers' nacks. */
		if (g->kind == GB_RELEASE)
			rc = codeq_release(s, g->id, g->token, g->error, &err);
		else
			rc = codeq_nack_ex(s, g->id, g->token,
			    g->kind == GB_RETRY_BACKOFF ? -1 : 0, g->error,
			    g->max_attempts, &st, &err);
		if (!dstore_ok(rc, &err)) {
			g->tries++;
			return;
		}
		if (rc == CODEQ_OK) {
			if (g->recovered)
				cqm_task_done(g->pool, g->queue, g->kind ==
				    GB_RELEASE ? "released" : "worker_died");
			log_notice("task given back", "task", g->id,
			    "reason", g->error, "now", codeq_status_name(st),
			    "attempt", g->kind == GB_RELEASE ? "refunded" :
			    "counted");
			if (st == CODEQ_DEAD)
				cqm_dead_lettered(g->pool, g->queue, 0);
		} else if (g->recovered)	/* finished before the death */
			log_debug("claim record: task no longer held",
			    "task", g->id, "error", err.msg);
		else
			log_notice("task not given back: no longer this host's",
			    "task", g->id, "error", err.msg);
		*gp = g->next;
		free(g);
	}
}

/* One entry of a dead worker's claim record: a lease it never reported
 * joins the ones it did.  1 when added. */
static int
lease_recovered(struct child *c, const char *queue, const codeq_lease_ref *r)
{
	struct lease *l;
	size_t i;

	for (i = 0; i < c->nleases; i++)
		if (strcmp(c->leases[i].id, r->id) == 0)
			return 0;
	if (c->nleases == MAX_LEASES || strlen(r->id) >= sizeof(l->id) ||
	    strlen(r->token) >= sizeof(l->token))
		return 0;	/* the reaper requeues it */
	l = &c->leases[c->nleases++];
	memset(l, 0, sizeof(*l));
	snprintf(l->queue, sizeof(l->queue), "%s", queue);
	snprintf(l->id, sizeof(l->id), "%s", r->id);
	snprintf(l->token, sizeof(l->token), "%s", r->token);
	l->recovered = 1;
	return 1;
}

/*
 * A worker that died may have claimed a batch whose reply it never read,
 * so it never said CLAIMED.  The claim script keeps each worker's last
 * batch per queue (codeq_last_claim); what of it the dispatcher did not
 * know joins c's leases and is given back with them at once.  A task of
 * that batch finished since is refused by its token.  Store unreachable:
 * the reaper requeues those tasks when their leases expire.
 */
void
lease_recover_claims(struct child *c)
{
	char name[TASK_WORKER_NAME_MAX], *buf, n_s[24];
	codeq_lease_ref refs[MAX_LEASES];
	const struct pool_config *pc;
	codeq_error err;
	codeq_t *s;
	size_t q, i, n, added = 0;
	int rc;

	if (c->pool == NULL || c->pid <= 0)
		return;
	pc = c->pool->pc;
	task_worker_name(name, sizeof(name), (long)c->pid, pc->name);
	for (q = 0; q < pc->nqueues; q++) {
		if ((s = dstore_get()) == NULL)
			break;
		rc = codeq_last_claim(s, pc->queues[q], name, refs, MAX_LEASES,
		    &n, &buf, &err);
		if (dstore_ok(rc, &err) && rc == CODEQ_OK)
			for (i = 0; i < n; i++)
				added += lease_recovered(c, pc->queues[q], &refs[i]);
		free(buf);
	}
	if (added > 0) {
		snprintf(n_s, sizeof(n_s), "%zu", added);
		log_notice("a dead worker's claims it had not reported: giving "
		    "them back", "pool", pc->name, "tasks", n_s);
	}
}

/* ---- Heartbeats ------------------------------------------------------ */

#define HB_BATCH 256

/*
 * One pipelined round for the leases of children [*ci, ...) of a pool, at
 * most HB_BATCH of them; *ci and *ki say where the next round starts.
 * Returns -1 when the store is unreachable.
 */
static int
heartbeat_round(struct pool *p, codeq_t *s, int *ci, size_t *ki)
{
	codeq_lease_ref refs[HB_BATCH];
	struct child *owner[HB_BATCH];
	codeq_task_status state[HB_BATCH];
	int status[HB_BATCH];
	int64_t until[HB_BATCH];
	codeq_error err;
	struct ipc_msg m;
	size_t n, j;
	int rc, running;

	if ((n = lease_batch(p, ci, ki, refs, owner, HB_BATCH)) == 0)
		return 0;
	rc = codeq_heartbeat_batch_ex(s, refs, n, p->pc->lease_ms, status, until,
	    state, &err);
	if (!dstore_ok(rc, &err))
		return -1;
	cqm_total(CQM_HEARTBEAT_ROUNDS, 1);
	/* Walk backwards: lease_drop moves the last lease into the hole. */
	for (j = n; j-- > 0; ) {
		switch (heartbeat_verdict(status[j], state[j])) {
		case HB_EXTENDED:
			cqm_total(CQM_LEASES_EXTENDED, 1);
			continue;
		case HB_UNKNOWN:
			continue;
		case HB_FINISHED:
			/* The worker's verdict reached the store before its DONE
			 * reached us: the lease ended, it was not lost. */
			log_debug("heartbeat after the task finished",
			    "task", refs[j].id, "status",
			    codeq_status_name(state[j]));
			cqm_total(CQM_HEARTBEAT_AFTER_FINISH, 1);
			lease_drop(owner[j], refs[j].id,
			    state[j] == CODEQ_COMPLETED ? "completed" : "failed");
			continue;
		case HB_LOST:
			break;
		}
		log_warning("lease lost: the store refused its heartbeat",
		    "task", refs[j].id, "error", codeq_strerror(status[j]));
		cqm_total(CQM_LEASES_LOST, 1);
		memset(&m, 0, sizeof(m));
		m.type = IPC_LEASE_LOST;
		snprintf(m.u.lease_lost.id, sizeof(m.u.lease_lost.id), "%s", refs[j].id);
		snprintf(m.u.lease_lost.token, sizeof(m.u.lease_lost.token), "%s",
		    refs[j].token);
		running = lease_running(owner[j], refs[j].id);
		child_send(owner[j], &m);
		lease_drop(owner[j], m.u.lease_lost.id, "stale");
		/* ESTATE (not terminal): the task left the lease with this
		 * token.  Otherwise someone else owns the task: an exec
		 * worker stops its handler on LEASE_LOST; a .so handler cannot
		 * be stopped in-process, so its worker is restarted. */
		if (running && status[j] != CODEQ_ESTATE &&
		    p->pc->kind == HANDLER_SO && owner[j]->killed == KILLED_NONE) {
			log_warning("restarting the worker: its handler's lease was lost",
			    "pool", p->pc->name, "task", m.u.lease_lost.id);
			child_kill(owner[j], KILLED_LEASE_LOST);
		}
	}
	return 0;
}

/* All leases of a pool, HB_BATCH per pipelined round.  A dropped lease
 * moves another into its slot; the worst that does is skip that one
 * lease until the next heartbeat, a third of a lease later. */
static void
heartbeat_pool(struct pool *p, codeq_t *s)
{
	size_t ki = 0;
	int ci = 0;

	while (ci < p->nchildren)
		if (heartbeat_round(p, s, &ci, &ki) < 0)
			return;
}

/* Each pool's leases are extended every third of its lease length. */
void
heartbeat_pools(ev_tstamp now)
{
	struct pool *p;
	codeq_t *s;

	for (p = D.pools; p != NULL; p = p->next) {
		if (now < p->next_heartbeat)
			continue;
		if ((s = dstore_get()) == NULL)
			return;
		p->next_heartbeat = now + p->pc->lease_ms / 3000.;
		heartbeat_pool(p, s);
	}
}
