/*
 * cron.c - one timer, several duties, each with its own period (the way
 * Redis' serverCron works): every tick (tick = 100ms by default) it
 *
 *   - restarts children whose backoff delay has passed;
 *   - kills workers past their handler deadline (.so handlers);
 *   - extends leases (each pool every third of its lease);
 *   - retries give-backs that found the store down, and writes the
 *     backoff of pools that started while it was;
 *   - promotes due delayed tasks of every served queue: the safety net of
 *     promote.c's timer, which promotes each task at its due time;
 *   - every reap_interval, reaps expired leases of every registered
 *     queue (tasks of dead hosts, and of remote workers: codeq-api's
 *     claims, another host's pools) and promotes the queues no pool
 *     here serves (their delayed tasks become ready, and published, with
 *     no claim asking first);
 *   - sends WATCHDOG=1 every half of WATCHDOG_USEC and STATUS= when the
 *     summary changes.
 *
 * Promote and reap are single atomic scripts, so several hosts running
 * them against one store do no harm.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"

#define REAP_LIMIT 1000

/* Calls fn for each queue served by some pool, once. */
static void
each_queue(void (*fn)(codeq_t *, const char *, ev_tstamp), codeq_t *s,
    ev_tstamp now)
{
	struct pool *p, *q;
	size_t i, j;
	int seen;

	for (p = D.pools; p != NULL; p = p->next) {
		if (p->retiring)
			continue;
		for (i = 0; i < p->pc->nqueues; i++) {
			seen = 0;
			for (q = D.pools; q != p && !seen; q = q->next)
				for (j = 0; j < q->pc->nqueues && !q->retiring; j++)
					if (strcmp(q->pc->queues[j], p->pc->queues[i]) == 0)
						seen = 1;
			for (j = 0; j < i; j++)
				if (strcmp(p->pc->queues[j], p->pc->queues[i]) == 0)
					seen = 1;
			if (!seen && D.store_retry_at <= now)
				fn(s, p->pc->queues[i], now);
		}
	}
}

static void
promote_one(codeq_t *s, const char *queue, ev_tstamp now)
{
	promote_queue(s, queue, "tick");
}

/* -1 when the store went away. */
static int
reap_one(codeq_t *s, const char *queue)
{
	codeq_error err;
	size_t reaped = 0, dead = 0, i;
	char n[24], d[24];
	int rc;

	rc = codeq_reap_ex(s, queue, REAP_LIMIT, &reaped, &dead, &err);
	if (rc == CODEQ_ESTORE) {
		dstore_lost(&err);
		return -1;
	}
	if (rc != CODEQ_OK) {
		log_warning("reap failed", "queue", queue, "error", err.msg);
		return 0;
	}
	if (reaped > 0) {
		snprintf(n, sizeof(n), "%zu", reaped);
		snprintf(d, sizeof(d), "%zu", dead);
		log_notice("expired leases requeued", "queue", queue, "tasks", n,
		    "dead_lettered", d);
	}
	/* At their last attempt: dead-lettered by this host's reaper.  No
	 * pool of this host ran them to the end: pool="". */
	for (i = 0; i < dead; i++)
		cqm_dead_lettered("", queue, 0);
	cqm_total(CQM_REAPED, reaped);
	return 0;
}

/* The registry, not the pools, names the queues to reap: a queue whose
 * only workers are remote would otherwise keep a vanished claimant's
 * tasks leased for ever. */
static void
reap_registered(codeq_t *s)
{
	char **names = NULL;
	codeq_error err;
	size_t n = 0, i;
	int rc;

	if ((rc = codeq_queues(s, &names, &n, &err)) != CODEQ_OK) {
		if (rc == CODEQ_ESTORE)
			dstore_lost(&err);
		else
			log_warning("queue registry unreadable", "error", err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		if (reap_one(s, names[i]) < 0)
			break;
		if (!promote_served(names[i]))
			promote_queue(s, names[i], "reap");
	}
	codeq_strv_free(names, n);
}

/* Leases held by the workers of the pools called name: a pool changed by
 * a reload drains beside its successor of the same name. */
static size_t
pool_leases(const char *name)
{
	struct pool *p;
	size_t n = 0;
	int i;

	for (p = D.pools; p != NULL; p = p->next)
		if (strcmp(p->pc->name, name) == 0)
			for (i = 0; i < p->nchildren; i++)
				n += p->children[i].nleases;
	return n;
}

static void
status_update(void)
{
	char buf[sizeof(D.status)];
	size_t off = 0, leases = 0;
	struct pool *p;
	struct child *c;
	int i, up, busy;

	for (p = D.pools; p != NULL; p = p->next) {
		if (p->retiring)
			continue;
		up = busy = 0;
		for (i = 0; i < p->nchildren; i++) {
			c = &p->children[i];
			up += c->state == CS_RUNNING;
			busy += c->nleases > 0;
			leases += c->nleases;
		}
		cqm_pool_status(p->pc->name, up == p->nchildren, p->nchildren);
		cqm_leases_held(p->pc->name, pool_leases(p->pc->name));
		off += (size_t)snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0,
		    "%s%s %d/%d up %d busy%s", off ? ", " : "", p->pc->name, up,
		    p->nchildren, busy, p->book.looping ? " CRASH-LOOPING" : "");
		if (off >= sizeof(buf))
			off = sizeof(buf) - 1;
	}
	snprintf(buf + off, sizeof(buf) - off, "; %zu leases; store %s%s", leases,
	    D.store_refused ? "refused the password" : D.store_fails ?
	    "unreachable" : "ok", D.draining ? "; draining" : "");
	if (strcmp(buf, D.status) != 0) {
		memcpy(D.status, buf, sizeof(buf));
		notify_send("STATUS=%s", D.status);
	}
}

/* Not READY: the store refused the password.  systemd sees the status
 * (and its start timeout); a daemonizing parent says so on its terminal
 * once, and keeps waiting, as codeqd keeps retrying. */
static void
ready_refused(void)
{
	static int told;
	char buf[1] = { 'A' };

	status_update();
	if (told || D.ready_pipe < 0)
		return;
	told = 1;
	(void)!write(D.ready_pipe, buf, 1);
}

void
on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_tstamp now = ev_now(loop);
	int64_t wd = notify_watchdog_usec();
	codeq_t *s;
	char buf[2];

	children_restart_due(now);
	children_kill_due(now);
	pools_deadlines();
	heartbeat_pools(now);
	if (D.givebacks != NULL)
		givebacks_run();
	pools_store_backoff();	/* those the store missed at their start */
	if (D.draining)
		drain_check();
	if (!D.draining && (s = dstore_get()) != NULL) {
		each_queue(promote_one, s, now);
		if (now >= D.next_reap) {
			D.next_reap = now + D.cfg->daemon.reap_interval_ms / 1000.;
			if (D.store_retry_at <= now)
				reap_registered(s);
		}
	}
	if (wd > 0 && now >= D.next_watchdog) {
		notify_send("WATCHDOG=1");
		D.next_watchdog = now + wd / 2e6;
	}
	if (!D.ready_sent && D.store_refused)
		ready_refused();
	if (!D.ready_sent && pools_ready() && dstore_lets_ready()) {
		D.ready_sent = 1;
		log_info("codeqd ready", "config", D.cfg_path);
		status_update();
		notify_send("READY=1\nSTATUS=%s", D.status);
		if (D.ready_pipe >= 0) {
			buf[0] = 'R';
			(void)!write(D.ready_pipe, buf, 1);
			close(D.ready_pipe);
			D.ready_pipe = -1;
		}
	}
	if (now >= D.next_status) {
		D.next_status = now + 1.;
		status_update();
	}
}

void
cron_start(void)
{
	ev_tstamp t = D.cfg->daemon.tick_ms / 1000.;

	ev_timer_init(&D.tick, on_tick, 0., t > 0 ? t : 0.1);
	ev_timer_start(D.loop, &D.tick);
	promote_start();
}
