/*
 * codeq_metrics.c - codeq's metric families and the two ways of updating
 * them: directly in the registry (the dispatcher) or through a table of
 * absolute counters reported over IPC (its children).  See
 * codeq_metrics.h for the wire names and docs/metrics.md for the meaning
 * of every family.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "codeq.h"
#include "codeq_metrics.h"
#include "conf.h"
#include "keys.h"

struct codeq_metrics cqm;

const double cqm_handler_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
const size_t cqm_handler_nbuckets =
    sizeof(cqm_handler_buckets) / sizeof(cqm_handler_buckets[0]);
const double cqm_claim_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
const size_t cqm_claim_nbuckets =
    sizeof(cqm_claim_buckets) / sizeof(cqm_claim_buckets[0]);
const double cqm_webhook_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10 };
const size_t cqm_webhook_nbuckets =
    sizeof(cqm_webhook_buckets) / sizeof(cqm_webhook_buckets[0]);

/* Child mode: the table of absolute counters; its size matches the
 * largest IPC_COUNTERS message, so one report always fits. */
#define LOCAL_MAX	64
#define LOCAL_NAME	64
/* Every wire name starts with this, so that the metrics' counters never
 * collide with other counters a child puts in the same IPC_COUNTERS. */
#define WIRE		"m."

struct local_counter {
	char name[LOCAL_NAME];
	uint64_t value;
};

static struct local_counter local[LOCAL_MAX];
static size_t nlocal;
static int atfork_done;

/* Dispatcher side: each child's previous report. */
struct child_report {
	pid_t pid;
	size_t n;
	struct local_counter c[LOCAL_MAX];
};

static struct child_report *reports;
static size_t nreports;

/* Pools with per-pool gauges, and when their status was last reported. */
struct pool_seen {
	char *name;
	double at;
};

static struct pool_seen *pools_seen;
static size_t npools_seen;

/* What a child inherited from the dispatcher: kept reachable so that
 * leak checkers in the child do not report the parent's registry. */
static struct metrics *inherited_reg;
static struct child_report *inherited_reports;

static int
declare_all(struct metrics *r)
{
	struct codeq_metrics *m = &cqm;
	const char *version[1] = { PACKAGE_VERSION };

	m->build_info = metrics_gauge(r, "codeq_build_info",
	    "Always 1; the version label names the running codeq.", "version");
	m->start_time = metrics_gauge(r, "codeq_start_time_seconds",
	    "When codeqd started, in seconds since the epoch.", NULL);
	m->claimed = metrics_counter(r, "codeq_tasks_claimed_total",
	    "Tasks claimed by this host's workers.", "queue,pool");
	m->completed = metrics_counter(r, "codeq_tasks_completed_total",
	    "Tasks completed (result stored) by this host's workers.", "queue,pool");
	m->failed = metrics_counter(r, "codeq_tasks_failed_total",
	    "Tasks failed permanently by this host's workers.", "queue,pool");
	m->retried = metrics_counter(r, "codeq_tasks_retried_total",
	    "Tasks nacked for another attempt by this host's workers (a nack at max attempts is also counted in codeq_tasks_dead_lettered_total).",
	    "queue,pool");
	m->dead_lettered = metrics_counter(r, "codeq_tasks_dead_lettered_total",
	    "Tasks this host moved to the dead-letter queue: workers' verdicts and give-backs (pool), its reaper (empty pool label).", "queue,pool");
	m->abandoned = metrics_counter(r, "codeq_tasks_abandoned_total",
	    "Claimed tasks that left a worker without a verdict (stale lease, released at shutdown, store lost, worker died).",
	    "queue,pool,reason");
	m->handler_seconds = metrics_histogram(r, "codeq_handler_duration_seconds",
	    "Time handlers ran, per pool.", "pool",
	    cqm_handler_buckets, cqm_handler_nbuckets);
	m->claim_seconds = metrics_histogram(r, "codeq_claim_duration_seconds",
	    "Claim latency: time of a worker's claim round trip to the store.", "pool",
	    cqm_claim_buckets, cqm_claim_nbuckets);
	m->leases_held = metrics_gauge(r, "codeq_leases_held",
	    "Leases held by this host's workers.", "pool");
	m->pool_up = metrics_gauge(r, "codeq_pool_up",
	    "1 when every worker of the pool is running, 0 when one is down or restarting.",
	    "pool");
	m->pool_workers = metrics_gauge(r, "codeq_pool_workers",
	    "Worker processes running in the pool.", "pool");
	m->worker_restarts = metrics_counter(r, "codeq_worker_restarts_total",
	    "Child processes restarted by the dispatcher, by why the previous one ended.",
	    "pool,reason");
	m->webhook_requests = metrics_counter(r, "codeq_webhook_requests_total",
	    "Webhook requests sent, by kind (work_available, result) and outcome (success, retry, permanent).",
	    "kind,outcome");
	m->webhook_seconds = metrics_histogram(r, "codeq_webhook_duration_seconds",
	    "Webhook request latency, whole request.", "kind",
	    cqm_webhook_buckets, cqm_webhook_nbuckets);
	m->queue_depth = metrics_gauge(r, "codeq_queue_depth",
	    "Tasks in a queue by state (ready, delayed, leased, dead), read from the store at scrape time.",
	    "queue,state");
	m->queue_oldest_ready = metrics_gauge(r, "codeq_queue_oldest_ready_age_seconds",
	    "Age of the oldest ready task of a queue (0 when none), store clock.",
	    "queue");
	m->callback_outbox = metrics_gauge(r, "codeq_callback_outbox_items",
	    "Result callbacks waiting in a queue's outbox.", "queue");
	m->callback_dlq = metrics_gauge(r, "codeq_callback_dlq_items",
	    "Result callbacks in a queue's callback dead-letter queue.", "queue");
	m->queues = metrics_gauge(r, "codeq_queues",
	    "Queues known to the store (" CODEQ_KEY_QUEUES ").", NULL);
	m->store_up = metrics_gauge(r, "codeq_store_up",
	    "1 when the store answered the last metrics collection, else 0.", NULL);
	m->store_errors = metrics_counter(r, "codeq_store_errors_total",
	    "Store commands that failed (connection lost, timeout, error reply), by process.",
	    "proc");
	m->store_reconnects = metrics_counter(r, "codeq_store_reconnects_total",
	    "Connections to the store re-established after a loss, by process.",
	    "proc");
	m->promoted = metrics_counter(r, "codeq_tasks_promoted_total",
	    "Delayed tasks made ready by this host's promote timer.", NULL);
	m->reaped = metrics_counter(r, "codeq_leases_reaped_total",
	    "Expired leases requeued (or dead-lettered) by this host's reaper.", NULL);
	m->leases_extended = metrics_counter(r, "codeq_leases_extended_total",
	    "Leases extended by this host's heartbeats.", NULL);
	m->leases_lost = metrics_counter(r, "codeq_leases_lost_total",
	    "Heartbeats refused because another worker owns the task now (fencing).",
	    NULL);
	m->heartbeat_rounds = metrics_counter(r, "codeq_heartbeat_rounds_total",
	    "Pipelined heartbeat rounds sent to the store.", NULL);
	m->heartbeat_after_finish = metrics_counter(r,
	    "codeq_heartbeats_after_finish_total",
	    "Heartbeats refused because the task had just finished with this lease (its DONE was on the way): not a lost lease.",
	    NULL);
	m->handler_timeouts = metrics_counter(r, "codeq_handler_timeouts_total",
	    "Handlers stopped because they ran past their timeout.", NULL);
	m->handler_kills = metrics_counter(r, "codeq_handler_kills_total",
	    "Workers killed by the dispatcher because their handler overran its deadline.",
	    NULL);
	m->wakeups = metrics_counter(r, "codeq_worker_wakeups_total",
	    "Wake-ups sent to idle workers when work became ready.", NULL);
	if (!m->promoted || !m->reaped || !m->leases_extended ||
	    !m->leases_lost || !m->heartbeat_rounds || !m->handler_timeouts ||
	    !m->handler_kills || !m->wakeups || !m->heartbeat_after_finish)
		return -1;
	if (!m->build_info || !m->start_time || !m->claimed || !m->completed ||
	    !m->failed || !m->retried || !m->dead_lettered || !m->abandoned ||
	    !m->handler_seconds || !m->claim_seconds || !m->leases_held ||
	    !m->pool_up || !m->pool_workers || !m->worker_restarts ||
	    !m->webhook_requests || !m->webhook_seconds || !m->queue_depth ||
	    !m->queue_oldest_ready || !m->callback_outbox || !m->callback_dlq ||
	    !m->queues || !m->store_up || !m->store_errors || !m->store_reconnects)
		return -1;
	/* Four states for each of the (at most 200) queues a collection
	 * reads: above the default bound. */
	metric_set_max_series(m->queue_depth, 1024);
	metric_set(m->build_info, version, 1);
	metric_set(m->start_time, NULL, (double)time(NULL));
	return 0;
}

static void
atfork_child(void)
{
	cqm_child_mode();
}

int
cqm_init(void)
{
	struct metrics *r;

	if (cqm.reg != NULL)
		return 0;
	if (!atfork_done) {
		if (pthread_atfork(NULL, NULL, atfork_child) != 0)
			return -1;
		atfork_done = 1;
	}
	if ((r = metrics_new()) == NULL)
		return -1;
	memset(&cqm, 0, sizeof(cqm));
	if (declare_all(r) != 0) {
		metrics_free(r);
		memset(&cqm, 0, sizeof(cqm));
		return -1;
	}
	cqm.reg = r;
	return 0;
}

void
cqm_shutdown(void)
{
	size_t i;

	for (i = 0; i < npools_seen; i++)
		free(pools_seen[i].name);
	free(pools_seen);
	pools_seen = NULL;
	npools_seen = 0;
	metrics_free(cqm.reg);
	memset(&cqm, 0, sizeof(cqm));
	free(reports);
	reports = NULL;
	nreports = 0;
}

void
cqm_child_mode(void)
{
	/* The registry pages are shared copy-on-write with the parent;
	 * leaving them untouched is cheaper than freeing them, and a
	 * child never renders. */
	if (cqm.reg != NULL)
		inherited_reg = cqm.reg;
	if (reports != NULL)
		inherited_reports = reports;
	memset(&cqm, 0, sizeof(cqm));
	reports = NULL;
	nreports = 0;
	nlocal = 0;
}

int
cqm_is_registry(void)
{
	return cqm.reg != NULL;
}

/* ---- Child mode --------------------------------------------------- */

size_t
cqm_local_count(void)
{
	return nlocal;
}

int
cqm_local_get(size_t i, const char **name, uint64_t *value)
{
	if (i >= nlocal)
		return -1;
	*name = local[i].name;
	*value = local[i].value;
	return 0;
}

void
cqm_local_add(const char *name, uint64_t by)
{
	size_t i;

	for (i = 0; i < nlocal; i++)
		if (strcmp(local[i].name, name) == 0) {
			local[i].value += by;
			return;
		}
	/* A full table or an over-long name is a programming error that
	 * the unit tests catch; at run time it costs that counter only. */
	if (nlocal == LOCAL_MAX || strlen(name) >= LOCAL_NAME)
		return;
	snprintf(local[nlocal].name, LOCAL_NAME, "%s", name);
	local[nlocal].value = by;
	nlocal++;
}

static size_t
bucket_of(const double *bounds, size_t n, double v)
{
	size_t i;

	for (i = 0; i < n && v > bounds[i]; i++)
		;
	return i;
}

static void
local_observe(const char *prefix, const double *bounds, size_t n, double v)
{
	char name[LOCAL_NAME];

	if (isnan(v) || v < 0)
		v = 0;
	snprintf(name, sizeof(name), WIRE "%s.b%zu", prefix, bucket_of(bounds, n, v));
	cqm_local_add(name, 1);
	snprintf(name, sizeof(name), WIRE "%s.sum_us", prefix);
	cqm_local_add(name, (uint64_t)llround(v * 1e6));
}

/* ---- Events ------------------------------------------------------- */

void
cqm_claim_latency(const char *pool, double seconds)
{
	const char *lv[1] = { pool };

	if (cqm.reg != NULL)
		metric_observe(cqm.claim_seconds, lv, seconds);
	else
		local_observe("claim_seconds", cqm_claim_buckets,
		    cqm_claim_nbuckets, seconds);
}

void
cqm_handler_duration(const char *pool, double seconds)
{
	const char *lv[1] = { pool };

	if (cqm.reg != NULL)
		metric_observe(cqm.handler_seconds, lv, seconds);
	else
		local_observe("handler_seconds", cqm_handler_buckets,
		    cqm_handler_nbuckets, seconds);
}

void
cqm_dead_lettered(const char *pool, const char *queue, size_t queue_index)
{
	const char *lv[2] = { queue, pool };
	char name[LOCAL_NAME];

	if (cqm.reg != NULL) {
		metric_add(cqm.dead_lettered, lv, 1);
		return;
	}
	snprintf(name, sizeof(name), WIRE "dead_lettered.%zu", queue_index);
	cqm_local_add(name, 1);
}

static const char *
webhook_outcome(const char *outcome)
{
	if (outcome != NULL && (strcmp(outcome, "success") == 0 ||
	    strcmp(outcome, "retry") == 0 || strcmp(outcome, "permanent") == 0))
		return outcome;
	return "other";
}

static const char *
webhook_kind(const char *kind)
{
	if (kind != NULL && (strcmp(kind, "work_available") == 0 ||
	    strcmp(kind, "result") == 0))
		return kind;
	return "other";
}

void
cqm_webhook(const char *kind, const char *outcome, double seconds)
{
	const char *lv[2] = { webhook_kind(kind), webhook_outcome(outcome) };
	char name[LOCAL_NAME];

	if (cqm.reg != NULL) {
		metric_add(cqm.webhook_requests, lv, 1);
		metric_observe(cqm.webhook_seconds, lv, seconds);
		return;
	}
	/* The kind is implied by the process that reports. */
	snprintf(name, sizeof(name), WIRE "webhook.%s", lv[1]);
	cqm_local_add(name, 1);
	local_observe("webhook_seconds", cqm_webhook_buckets,
	    cqm_webhook_nbuckets, seconds);
}

void
cqm_store_error(const char *proc)
{
	const char *lv[1] = { proc };

	if (cqm.reg != NULL)
		metric_add(cqm.store_errors, lv, 1);
	else
		cqm_local_add(WIRE "store_errors", 1);
}

void
cqm_store_reconnect(const char *proc)
{
	const char *lv[1] = { proc };

	if (cqm.reg != NULL)
		metric_add(cqm.store_reconnects, lv, 1);
	else
		cqm_local_add(WIRE "store_reconnects", 1);
}

void
cqm_task_claimed(const char *pool, const char *queue)
{
	const char *lv[2] = { queue, pool };

	if (cqm.reg == NULL)
		return;
	metric_add(cqm.claimed, lv, 1);
}

void
cqm_task_done(const char *pool, const char *queue, const char *outcome)
{
	const char *lv[3] = { queue, pool, outcome };

	if (cqm.reg == NULL || outcome == NULL)
		return;
	if (strcmp(outcome, "completed") == 0)
		metric_add(cqm.completed, lv, 1);
	else if (strcmp(outcome, "failed") == 0)
		metric_add(cqm.failed, lv, 1);
	else if (strcmp(outcome, "retry") == 0)
		metric_add(cqm.retried, lv, 1);
	else {
		if (strcmp(outcome, "stale") != 0 &&
		    strcmp(outcome, "released") != 0 &&
		    strcmp(outcome, "lost") != 0 &&
		    strcmp(outcome, "worker_died") != 0)
			lv[2] = "other";
		metric_add(cqm.abandoned, lv, 1);
	}
}

void
cqm_worker_restart(const char *pool, const char *reason)
{
	const char *lv[2] = { pool, reason };

	if (cqm.reg == NULL)
		return;
	if (reason == NULL || (strcmp(reason, "exit") != 0 &&
	    strcmp(reason, "signal") != 0 && strcmp(reason, "clean") != 0 &&
	    strcmp(reason, "reload") != 0))
		lv[1] = "other";
	metric_add(cqm.worker_restarts, lv, 1);
}

static void
note_pool(const char *pool)
{
	struct pool_seen *n;
	size_t i;

	for (i = 0; i < npools_seen; i++)
		if (strcmp(pools_seen[i].name, pool) == 0) {
			pools_seen[i].at = (double)clock_mono_us() / 1e6;
			return;
		}
	if ((n = realloc(pools_seen, (npools_seen + 1) * sizeof(*n))) == NULL)
		return;
	pools_seen = n;
	if ((n[npools_seen].name = strdup(pool)) == NULL)
		return;
	n[npools_seen++].at = (double)clock_mono_us() / 1e6;
}

void
cqm_pool_status(const char *pool, int up, int workers)
{
	const char *lv[1] = { pool };

	if (cqm.reg == NULL || pool == NULL)
		return;
	metric_set(cqm.pool_up, lv, up ? 1 : 0);
	metric_set(cqm.pool_workers, lv, workers);
	note_pool(pool);
}

void
cqm_leases_held(const char *pool, size_t n)
{
	const char *lv[1] = { pool };

	if (cqm.reg == NULL || pool == NULL)
		return;
	metric_set(cqm.leases_held, lv, (double)n);
}

void
cqm_expire_pools(double max_age)
{
	double now = (double)clock_mono_us() / 1e6;
	size_t i = 0;

	if (cqm.reg == NULL)
		return;
	while (i < npools_seen) {
		const char *lv[1] = { pools_seen[i].name };

		if (now - pools_seen[i].at <= max_age) {
			i++;
			continue;
		}
		metric_remove(cqm.pool_up, lv);
		metric_remove(cqm.pool_workers, lv);
		metric_remove(cqm.leases_held, lv);
		free(pools_seen[i].name);
		pools_seen[i] = pools_seen[--npools_seen];
	}
}

/* ---- Folding children's reports ----------------------------------- */

static struct child_report *
report_of(pid_t pid)
{
	struct child_report *nr;
	size_t i;

	for (i = 0; i < nreports; i++)
		if (reports[i].pid == pid)
			return &reports[i];
	if ((nr = realloc(reports, (nreports + 1) * sizeof(*nr))) == NULL)
		return NULL;
	reports = nr;
	memset(&reports[nreports], 0, sizeof(reports[nreports]));
	reports[nreports].pid = pid;
	return &reports[nreports++];
}

void
cqm_child_gone(pid_t pid)
{
	size_t i;

	for (i = 0; i < nreports; i++)
		if (reports[i].pid == pid) {
			reports[i] = reports[--nreports];
			return;
		}
}

/* Returns how much name grew since the child's previous report, and
 * remembers value.  A value below the previous one means a new child
 * reused the pid: all of it is new. */
static uint64_t
delta_of(struct child_report *cr, const char *name, uint64_t value)
{
	uint64_t prev;
	size_t i;

	for (i = 0; i < cr->n; i++)
		if (strcmp(cr->c[i].name, name) == 0)
			break;
	if (i == cr->n) {
		if (cr->n == LOCAL_MAX || strlen(name) >= LOCAL_NAME)
			return 0;
		snprintf(cr->c[i].name, LOCAL_NAME, "%s", name);
		cr->c[i].value = 0;
		cr->n++;
	}
	prev = cr->c[i].value;
	cr->c[i].value = value;
	return value >= prev ? value - prev : value;
}

/* ---- Plain totals --------------------------------------------------- */

/* The unlabelled counters, by enum cqm_total: wire name and family. */
static const struct {
	const char *wire;
	size_t off;
} totals[CQM_TOTAL_MAX] = {
#define T(t, n, f) [t] = { WIRE n, offsetof(struct codeq_metrics, f) }
	T(CQM_PROMOTED, "promoted", promoted),
	T(CQM_REAPED, "reaped", reaped),
	T(CQM_LEASES_EXTENDED, "leases_extended", leases_extended),
	T(CQM_LEASES_LOST, "leases_lost", leases_lost),
	T(CQM_HEARTBEAT_ROUNDS, "heartbeat_rounds", heartbeat_rounds),
	T(CQM_HEARTBEAT_AFTER_FINISH, "heartbeat_after_finish",
	    heartbeat_after_finish),
	T(CQM_HANDLER_TIMEOUTS, "handler_timeouts", handler_timeouts),
	T(CQM_HANDLER_KILLS, "handler_kills", handler_kills),
	T(CQM_WAKEUPS, "wakeups", wakeups),
#undef T
};

static struct metric *
total_metric(size_t t)
{
	return *(struct metric **)(void *)((char *)&cqm + totals[t].off);
}

void
cqm_total(enum cqm_total t, uint64_t by)
{
	if ((unsigned)t >= CQM_TOTAL_MAX || by == 0)
		return;
	if (cqm.reg != NULL)
		metric_add(total_metric(t), NULL, (double)by);
	else
		cqm_local_add(totals[t].wire, by);
}

/* A child's report of a plain total (name without "m."): 1 if it is one. */
static int
fold_total(const char *name, uint64_t d)
{
	size_t t;

	for (t = 0; t < CQM_TOTAL_MAX; t++)
		if (strcmp(totals[t].wire + strlen(WIRE), name) == 0) {
			metric_add(total_metric(t), NULL, (double)d);
			return 1;
		}
	return 0;
}

/* "prefix.bN" / "prefix.sum_us" into a histogram series. */
static int
fold_hist(struct metric *m, const char *lv0, const char *rest, uint64_t d)
{
	const char *lv[1] = { lv0 };
	char *end;
	unsigned long b;

	if (strcmp(rest, "sum_us") == 0) {
		metric_hist_add(m, lv, 0, 0, (double)d / 1e6);
		return 0;
	}
	if (rest[0] != 'b')
		return -1;
	b = strtoul(rest + 1, &end, 10);
	if (*end != '\0' || end == rest + 1 || b > metric_nbuckets(m))
		return -1;
	metric_hist_add(m, lv, b, d, 0);
	return 0;
}

static const char *
kind_of_proc(const char *proc)
{
	if (strcmp(proc, "notifier") == 0)
		return "work_available";
	if (strcmp(proc, "callbacks") == 0)
		return "result";
	return "other";
}

void
cqm_fold(pid_t pid, const char *proc, const struct pool_config *pool,
    const char *name, uint64_t value)
{
	const char *pname = pool != NULL ? pool->name : "";
	struct child_report *cr;
	const char *dot;
	uint64_t d;

	if (cqm.reg == NULL || strncmp(name, WIRE, strlen(WIRE)) != 0 ||
	    (cr = report_of(pid)) == NULL)
		return;
	if ((d = delta_of(cr, name, value)) == 0)
		return;
	name += strlen(WIRE);
	if (proc == NULL)
		proc = "other";
	dot = strchr(name, '.');
	if (strncmp(name, "handler_seconds.", 16) == 0)
		(void)fold_hist(cqm.handler_seconds, pname, dot + 1, d);
	else if (strncmp(name, "claim_seconds.", 14) == 0)
		(void)fold_hist(cqm.claim_seconds, pname, dot + 1, d);
	else if (strncmp(name, "webhook_seconds.", 16) == 0)
		(void)fold_hist(cqm.webhook_seconds, kind_of_proc(proc), dot + 1, d);
	else if (strncmp(name, "webhook.", 8) == 0) {
		const char *lv[2] = { kind_of_proc(proc), webhook_outcome(dot + 1) };
		metric_add(cqm.webhook_requests, lv, (double)d);
	} else if (strncmp(name, "dead_lettered.", 14) == 0 && pool != NULL) {
		unsigned long qi = strtoul(dot + 1, NULL, 10);
		const char *lv[2] = { qi < pool->nqueues ? pool->queues[qi] : "",
		    pname };
		if (qi < pool->nqueues)
			metric_add(cqm.dead_lettered, lv, (double)d);
	} else if (strcmp(name, "store_errors") == 0) {
		const char *lv[1] = { proc };
		metric_add(cqm.store_errors, lv, (double)d);
	} else if (strcmp(name, "store_reconnects") == 0) {
		const char *lv[1] = { proc };
		metric_add(cqm.store_reconnects, lv, (double)d);
	} else
		(void)fold_total(name, d);
	/* Anything else is a name from a newer child: ignored. */
}

