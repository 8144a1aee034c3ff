/*
 * worker.c - claim -> run the handler -> complete / nack / fail.
 *
 * A worker is a plain synchronous process: it uses libcodeq's blocking API
 * and its only other input is its socket to the dispatcher.  When there is
 * nothing to claim it says IDLE and blocks on that socket until the
 * dispatcher sends WAKE (an enqueue in one of its queues) or a long safety
 * re-check passes.  It tells the dispatcher every lease it holds (CLAIMED)
 * and when it let go of it (DONE), so the dispatcher can heartbeat the
 * lease and give the task back at once if this process dies.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "child.h"
#include "clock.h"
#include "codeq_metrics.h"
#include "fds.h"
#include "handler.h"
#include "ipc.h"
#include "log.h"
#include "task.h"
#include "worker.h"

#define IDLE_RECHECK_MS		5000	/* safety net for a lost WAKE */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define MAX_PREFETCH		64
/* Completions of fast handlers are settled together (one store call for
 * the rest of a prefetched batch) only while the pool's handlers are
 * fast: each of the last CALM_TASKS under FAST_US. */
#define FAST_US			1000
#define CALM_TASKS		32


/* A lease the dispatcher said was lost (LEASE_LOST) while its task
 * waited in a prefetched batch: the task is skipped when its turn comes. */
struct lost {
	char id[IPC_ID_MAX];
	char token[IPC_TOKEN_MAX];
};

struct worker {
	const struct codeq_config *cfg;
	const struct pool_config *pool;
	const char *url;
	codeq_options opt;		/* RELOAD may change it */
	int reconnect;			/* opt changed: new connection after the task */
	struct child_link link;		/* to the dispatcher: SHUTDOWN, ABORT */
	codeq_t *store;
	struct so_handler *so;
	struct exec_ctx ex;
	char wid[TASK_WORKER_NAME_MAX];
	struct lost lost[MAX_PREFETCH];
	size_t nlost;
	int calm;			/* fast handlers in a row */
	struct held {			/* completions not yet settled */
		codeq_task *t;
		struct run_result r;
		int64_t start;
	} held[MAX_PREFETCH];
	size_t nheld;
};

static void
send_msg(struct worker *w, const struct ipc_msg *m)
{
	(void)child_link_send(&w->link, m);
}

/* codeq_metrics' table (child.h): the worker's counters are its
 * families (handler and claim durations, timeouts, DLQ moves, store
 * errors). */
static void
send_counters(struct worker *w, int force)
{
	child_link_counters(&w->link, force);
}

static void
lost_add(struct worker *w, const char *id, const char *token)
{
	if (w->nlost == MAX_PREFETCH)	/* older than any batch in hand */
		memmove(&w->lost[0], &w->lost[1], --w->nlost * sizeof(w->lost[0]));
	snprintf(w->lost[w->nlost].id, sizeof(w->lost[0].id), "%s", id);
	snprintf(w->lost[w->nlost].token, sizeof(w->lost[0].token), "%s", token);
	w->nlost++;
}

static int
lost_has(const struct worker *w, const codeq_task *t)
{
	size_t i;

	for (i = 0; i < w->nlost; i++)
		if (strcmp(w->lost[i].id, t->id) == 0 && t->lease_token != NULL &&
		    strcmp(w->lost[i].token, t->lease_token) == 0)
			return 1;
	return 0;
}

/*
 * RELOAD: the settings that change without a restart.  The log level
 * applies at once; new store options (retention, payload limit,
 * timeouts) take a new connection, made after the task in hand.
 */
static void
apply_settings(struct worker *w, const struct ipc_msg *m)
{
	codeq_options o = w->opt;

	if (m->u.reload.log_level <= LOG_L_ERROR)
		log_init("worker", (enum log_level)m->u.reload.log_level);
	o.retention_ms = (int64_t)m->u.reload.retention_ms;
	o.max_payload = (size_t)m->u.reload.max_payload;
	o.connect_timeout_ms = (int64_t)m->u.reload.connect_timeout_ms;
	o.command_timeout_ms = (int64_t)m->u.reload.command_timeout_ms;
	if (o.retention_ms != w->opt.retention_ms ||
	    o.max_payload != w->opt.max_payload ||
	    o.connect_timeout_ms != w->opt.connect_timeout_ms ||
	    o.command_timeout_ms != w->opt.command_timeout_ms) {
		w->opt = o;
		w->reconnect = 1;
	}
	log_debug("configuration reloaded, this pool unchanged",
	    "pool", w->pool->name);
}

/* One message from the dispatcher.  Returns 1 when it should end a
 * wait (WAKE, SHUTDOWN, ABORT). */
static int
on_msg(struct worker *w, const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_WAKE:
		log_debug("woken", "queue", m->u.wake.queue);
		return 1;
	case IPC_SHUTDOWN:
	case IPC_ABORT:		/* noted in w->link */
		return 1;
	case IPC_RELOAD:
		apply_settings(w, m);
		return 0;
	case IPC_LEASE_LOST:
		/* Of a task not running now: skipped if it waits in the
		 * batch in hand, else (it already finished) ignored. */
		lost_add(w, m->u.lease_lost.id, m->u.lease_lost.token);
		return 0;
	default:
		log_warning("unexpected message from the dispatcher",
		    "message", ipc_type_name(m->type));
		return 0;
	}
}

/* exec_ctx's hook: messages that arrive while an exec handler runs. */
static void
on_msg_exec(void *arg, const struct ipc_msg *m)
{
	(void)on_msg(arg, m);
}

/*
 * Waits up to timeout_ms for a message from the dispatcher.  Returns 1
 * when woken (WAKE, SHUTDOWN, ABORT or the dispatcher gone), 0 on timeout.
 */
static int
wait_ipc(struct worker *w, int timeout_ms)
{
	struct pollfd pfd = { w->link.fd, POLLIN, 0 };
	struct ipc_msg m;
	int rc, woken = 0;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	while ((rc = child_link_recv(&w->link, &m)) == IPC_OK)
		woken |= on_msg(w, &m);
	return woken || rc == IPC_EOF;
}

/* The wait before the store is tried again after fails failures. */
static int
store_backoff_ms(int fails)
{
	return (int)backoff_ms(fails, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
}

static void
store_connect(struct worker *w)
{
	codeq_error err;
	int fails = 0;

	while (w->store == NULL && !w->link.shutdown) {
		if (codeq_connect(w->url, &w->opt, &w->store, &err) == CODEQ_OK)
			break;
		w->store = NULL;
		if ((fails++ == 0 || fails % 20 == 0) && err.code == CODEQ_EAUTH)
			log_error("the store refused the password, retrying",
			    "error", err.msg);
		else if (fails == 1 || fails % 20 == 0)
			log_warning("store unreachable, retrying", "error", err.msg);
		wait_ipc(w, store_backoff_ms(fails));
	}
}

/* One store call reporting a task's verdict.  A task given back (nack)
 * is dead-lettered after the pool's max_attempts if it has one and it
 * is below the task's own; *st says where the task went.  A task this
 * worker stops or never starts because it is being stopped (drain,
 * reload) is released: not the task's fault, so the attempt the claim
 * counted is refunded and a restart never dead-letters it. */
static int
report_once(struct worker *w, const codeq_task *t, const struct run_result *r,
    codeq_task_status *st, codeq_error *err)
{
	const char *e = r->error ? r->error : "";
	int cap = w->pool->max_attempts;

	*st = CODEQ_STATUS_UNKNOWN;
	switch (r->verdict) {
	case RUN_OK:
		return codeq_complete(w->store, t->id, t->lease_token, r->result, err);
	case RUN_RETRY:
		return codeq_nack_ex(w->store, t->id, t->lease_token,
		    r->retry_after_ms > 0 ? r->retry_after_ms : -1, e, cap, st, err);
	case RUN_FAIL:		/* attempts permitting, with the backoff */
		return codeq_nack_ex(w->store, t->id, t->lease_token, -1, e,
		    cap, st, err);
	case RUN_FAIL_PERMANENT:
		return codeq_fail(w->store, t->id, t->lease_token, e, 1, err);
	case RUN_ABORTED:
		*st = CODEQ_READY;
		return codeq_release(w->store, t->id, t->lease_token, e, err);
	case RUN_LEASE_LOST:
		break;
	}
	return CODEQ_EINVAL;
}

static void
dead_lettered(struct worker *w, const codeq_task *t)
{
	size_t i;

	for (i = 0; i < w->pool->nqueues; i++)
		if (strcmp(w->pool->queues[i], t->queue) == 0)
			cqm_dead_lettered(w->pool->name, t->queue, i);
}

/*
 * After a call whose reply was lost (CODEQ_ESTORE: its effect unknown),
 * a refusal of the retry may mean the first call went through: the task
 * has left the lease with our token still on it.
 */
static int
applied_before(struct worker *w, const codeq_task *t)
{
	codeq_task *now = NULL;
	codeq_error err;
	int yes;

	if (codeq_get(w->store, t->id, &now, &err) != CODEQ_OK)
		return 0;
	yes = now->status != CODEQ_LEASED && now->lease_token != NULL &&
	    t->lease_token != NULL && strcmp(now->lease_token, t->lease_token) == 0;
	codeq_task_free(now);
	return yes;
}

/*
 * Stores a verdict, retrying while the store is unreachable (the
 * dispatcher keeps the lease alive meanwhile).  lost > 0: an earlier
 * attempt's reply was lost, so a refusal may mean it was applied.
 * Returns the IPC outcome.
 */
static uint64_t
report(struct worker *w, const codeq_task *t, struct run_result *r, int lost)
{
	codeq_task_status st = CODEQ_STATUS_UNKNOWN;
	codeq_error err;
	int rc, fails = 0;
	int64_t give_up = clock_mono_ms() + (w->pool->lease_ms > 60000 ?
	    w->pool->lease_ms : 60000) * 2;

	if (r->verdict == RUN_LEASE_LOST) {
		return IPC_OUT_STALE;
	}
	for (;;) {
		rc = w->store ? report_once(w, t, r, &st, &err) : CODEQ_ESTORE;
		if (rc == CODEQ_OK)
			break;
		if ((rc == CODEQ_ESTALE || rc == CODEQ_ESTATE) &&
		    (fails > 0 || lost) &&
		    applied_before(w, t)) {
			rc = CODEQ_OK;	/* the reply lost in the outage was a yes */
			break;
		}
		if (rc == CODEQ_ESTALE) {
			log_warning("lease lost: another worker owns the task, "
			    "verdict refused", "task", t->id, "error", err.msg);
			return IPC_OUT_STALE;
		}
		if (rc == CODEQ_ESTORE) {
			cqm_store_error("worker");
			if (fails++ == 0)
				log_warning("store unreachable while reporting, retrying",
				    "task", t->id, "error", w->store ? err.msg : "not connected");
			if (w->link.aborted || clock_mono_ms() > give_up) {
				log_error("giving up reporting; the lease will expire",
				    "task", t->id);
				return IPC_OUT_LOST;
			}
			wait_ipc(w, store_backoff_ms(fails));
			if (w->store == NULL)
				store_connect(w);
			continue;
		}
		if (r->verdict == RUN_OK && (rc == CODEQ_ETOOBIG || rc == CODEQ_EINVAL)) {
			/* The store refused the result itself: fail the task
			 * rather than leave it leased. */
			run_result_set(r, RUN_FAIL_PERMANENT, "result refused: %s",
			    err.msg);
			free(r->result);
			r->result = NULL;
			continue;
		}
		log_error("store refused the verdict", "task", t->id,
		    "error", err.msg);
		return IPC_OUT_LOST;
	}
	if (st == CODEQ_DEAD || (st == CODEQ_STATUS_UNKNOWN &&
	    (r->verdict == RUN_RETRY || r->verdict == RUN_FAIL) &&
	    t->attempts >= t->max_attempts))	/* applied before: reply lost */
		dead_lettered(w, t);	/* the script moved it to the DLQ */
	switch (r->verdict) {
	case RUN_OK: return IPC_OUT_COMPLETED;
	case RUN_RETRY: case RUN_FAIL: return IPC_OUT_RETRY;
	case RUN_FAIL_PERMANENT: return IPC_OUT_FAILED;
	case RUN_ABORTED: return IPC_OUT_RELEASED;
	case RUN_LEASE_LOST: break;
	}
	return IPC_OUT_LOST;
}

static void
send_claimed(struct worker *w, const codeq_task *t, int64_t deadline)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_CLAIMED;
	snprintf(m.u.claimed.queue, sizeof(m.u.claimed.queue), "%s", t->queue);
	snprintf(m.u.claimed.id, sizeof(m.u.claimed.id), "%s", t->id);
	snprintf(m.u.claimed.token, sizeof(m.u.claimed.token), "%s",
	    t->lease_token ? t->lease_token : "");
	m.u.claimed.lease_until_ms = (uint64_t)(t->lease_until > 0 ? t->lease_until : 0);
	m.u.claimed.deadline_ms = (uint64_t)deadline;
	send_msg(w, &m);
}

static void
send_done(struct worker *w, const codeq_task *t, uint64_t outcome)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_DONE;
	snprintf(m.u.done.id, sizeof(m.u.done.id), "%s", t->id);
	m.u.done.outcome = outcome;
	send_msg(w, &m);
}

/* The end of a task: its log line, DONE, the counters. */
static void
finish_task(struct worker *w, const codeq_task *t, struct run_result *r,
    int64_t start, uint64_t outcome)
{
	char ms[24], attempt[16];

	snprintf(ms, sizeof(ms), "%" PRId64, clock_mono_ms() - start);
	snprintf(attempt, sizeof(attempt), "%d", t->attempts);
	log_kv(outcome == IPC_OUT_COMPLETED ? LOG_L_INFO : LOG_L_NOTICE,
	    "task finished", "task", t->id, "outcome", ipc_outcome_name(outcome),
	    "attempt", attempt, "ms", ms,
	    "error", r->error ? r->error : "", (char *)NULL);
	send_done(w, t, outcome);
	run_result_free(r);
	send_counters(w, 0);
}

/*
 * Settles the held completions in one store call (codeq_complete_batch:
 * one script call per queue); a task the call did not settle goes the
 * one-by-one way of report(), which retries, fails a refused result and
 * recognises a completion whose reply was lost.  Frees the tasks.
 */
static void
settle(struct worker *w)
{
	codeq_completion items[MAX_PREFETCH];
	int st[MAX_PREFETCH];
	codeq_error err;
	size_t i, n = w->nheld;
	uint64_t outcome;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		items[i].id = w->held[i].t->id;
		items[i].token = w->held[i].t->lease_token;
		items[i].result = w->held[i].r.result;
		st[i] = CODEQ_ESTORE;
	}
	if (w->store != NULL)
		codeq_complete_batch(w->store, items, n, st, &err);
	for (i = 0; i < n; i++) {
		struct held *h = &w->held[i];

		if (st[i] == CODEQ_OK)
			outcome = IPC_OUT_COMPLETED;
		else
			outcome = report(w, h->t, &h->r, st[i] == CODEQ_ESTORE);
		finish_task(w, h->t, &h->r, h->start, outcome);
		codeq_task_free(h->t);
	}
	w->nheld = 0;
}

/* Runs t's handler; returns its verdict in r. */
static void
run_handler(struct worker *w, const codeq_task *t, struct run_result *r)
{
	int64_t deadline = clock_wall_ms() + w->pool->timeout_ms;

	if (lost_has(w, t)) {
		log_warning("lease lost before the task ran: skipped",
		    "task", t->id);
		run_result_set(r, RUN_LEASE_LOST, "lease lost before the task ran");
	} else if (w->link.shutdown) {
		run_result_set(r, RUN_ABORTED,
		    "given back at shutdown: the task never started");
	} else {
		send_claimed(w, t, deadline);	/* now with its deadline */
		log_debug("task started", "task", t->id);
		if (w->pool->kind == HANDLER_SO)
			so_run(w->so, t, deadline, r);
		else {
			w->ex.lease_lost = 0;
			exec_run(&w->ex, t, deadline, r);
		}
	}
}

/*
 * Runs task t and reports it.  A completion is held instead (to be
 * settled with the next ones) when more tasks of the batch follow and the
 * pool's handlers have all been fast lately: then the worker keeps t and
 * returns 1; otherwise what is held is settled first, and 0.
 */
static int
run_task(struct worker *w, codeq_task *t, int more)
{
	struct run_result r;
	int64_t start = clock_mono_ms(), t0 = clock_mono_us(), us;

	memset(&r, 0, sizeof(r));
	run_handler(w, t, &r);
	us = clock_mono_us() - t0;
	w->calm = us < FAST_US ? w->calm + 1 : 0;
	cqm_handler_duration(w->pool->name, us / 1e6);
	if (r.timed_out)
		cqm_total(CQM_HANDLER_TIMEOUTS, 1);
	if (r.verdict == RUN_OK && more && !w->link.shutdown &&
	    w->calm >= CALM_TASKS && w->nheld < MAX_PREFETCH) {
		w->held[w->nheld++] = (struct held){ t, r, start };
		return 1;
	}
	settle(w);
	finish_task(w, t, &r, start, report(w, t, &r, 0));
	return 0;
}

static void
claim_loop(struct worker *w)
{
	const char *const *queues = (const char *const *)w->pool->queues;
	codeq_task *tasks[MAX_PREFETCH];
	codeq_claim_opts co;
	codeq_error err;
	size_t n, i;
	int rc, fails = 0;
	int64_t t0;

	memset(&co, 0, sizeof(co));
	co.lease_ms = w->pool->lease_ms;
	co.worker = w->wid;
	co.max_tasks = w->pool->prefetch > 0 ? (size_t)w->pool->prefetch : 1;
	if (co.max_tasks > MAX_PREFETCH)
		co.max_tasks = MAX_PREFETCH;
	while (!w->link.shutdown) {
		if (w->reconnect) {	/* RELOAD changed the store options */
			codeq_close(w->store);
			w->store = NULL;
			w->reconnect = 0;
		}
		if (w->store == NULL)
			store_connect(w);
		if (w->link.shutdown)
			break;
		n = 0;
		t0 = clock_mono_ms();
		rc = codeq_claim(w->store, queues, w->pool->nqueues, &co, tasks,
		    &n, &err);
		if (rc == CODEQ_OK || rc == CODEQ_EEMPTY) {
			cqm_claim_latency(w->pool->name, (clock_mono_ms() - t0) / 1000.);
			if (fails > 0)	/* the store answers again */
				cqm_store_reconnect("worker");
		}
		if (rc == CODEQ_OK) {
			fails = 0;
			w->nlost = 0;	/* LEASE_LOST of this batch come later */
			/* The pool's max_attempts caps the task's own: the
			 * handler sees the limit that applies. */
			for (i = 0; i < n; i++)
				if (w->pool->max_attempts > 0 &&
				    w->pool->max_attempts < tasks[i]->max_attempts)
					tasks[i]->max_attempts = w->pool->max_attempts;
			for (i = 0; i < n; i++)
				send_claimed(w, tasks[i], 0);
			for (i = 0; i < n; i++) {
				if (i > 0)	/* LEASE_LOST, SHUTDOWN meanwhile? */
					wait_ipc(w, 0);
				if (!run_task(w, tasks[i], i + 1 < n))
					codeq_task_free(tasks[i]);
			}
			settle(w);
			/* Between tasks, pick up SHUTDOWN / ABORT. */
			wait_ipc(w, 0);
			continue;
		}
		if (rc == CODEQ_EEMPTY) {
			struct ipc_msg m = { .type = IPC_IDLE };

			fails = 0;
			send_counters(w, 1);	/* going quiet: report now */
			send_msg(w, &m);
			wait_ipc(w, IDLE_RECHECK_MS);
			continue;
		}
		if (rc == CODEQ_ESTORE)
			cqm_store_error("worker");
		if (fails++ == 0 || fails % 20 == 0)
			log_warning("claim failed, retrying", "error", err.msg,
			    "code", codeq_strerror(rc));
		wait_ipc(w, store_backoff_ms(fails));
	}
}

int
worker_main(const struct codeq_config *cfg, const struct pool_config *pool,
    const char *url, const codeq_options *opt, int ipc_fd)
{
	char err[512];

	log_set_proc("worker");
	/* Whatever a .so handler starts inherits nothing of the worker's;
	 * exec handlers close the rest in the child (exec.c). */
	fds_cloexec_from(3);
	struct worker w = { .cfg = cfg, .pool = pool, .url = url, .opt = *opt };
	child_link_init(&w.link, ipc_fd);
	w.ex.pool = pool;
	w.ex.link = &w.link;
	w.ex.on_msg = on_msg_exec;
	w.ex.arg = &w;
	task_worker_name(w.wid, sizeof(w.wid), (long)getpid(), pool->name);

	if (worker_drop_privileges(pool->user, err, sizeof(err)) < 0) {
		log_error("cannot start worker", "pool", pool->name, "error", err);
		return WORKER_EXIT_CONFIG;
	}
	if (pool->kind == HANDLER_SO &&
	    so_open(pool, &w.so, err, sizeof(err)) < 0) {
		log_error("cannot load handler", "pool", pool->name, "error", err);
		return WORKER_EXIT_CONFIG;
	}
	/* Set up: the store is connected before the first claim, and
	 * retried there (child.h). */
	child_link_ready(&w.link);
	log_debug("worker started", "pool", pool->name);

	claim_loop(&w);

	send_counters(&w, 1);
	so_close(w.so);
	codeq_close(w.store);
	log_debug("worker stopped", "pool", pool->name);
	return 0;
}
