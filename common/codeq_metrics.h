/*
 * codeq_metrics.h - codeq's metrics: the families (docs/metrics.md lists
 * each one), and the calls the processes make when something happens.
 *
 * One process owns the registry: codeqd's dispatcher, which serves
 * /metrics.  Its children (workers, notifier, callbacks) cannot update it
 * directly; they keep a small table of absolute counters ("child mode")
 * and send it in IPC_COUNTERS messages about once a second; the
 * dispatcher folds each child's table into the registry with cqm_fold(),
 * adding the difference from that child's previous report.  Counter names
 * on the wire are short (IPC_NAME_MAX) and carry no queue or pool: the
 * dispatcher knows which pool a child belongs to.
 *
 *   wire name			      becomes
 *   m.handler_seconds.bN  .sum_us   codeq_handler_duration_seconds{pool} bucket N, sum
 *   m.claim_seconds.bN    .sum_us   codeq_claim_duration_seconds{pool}
 *   m.webhook_seconds.bN  .sum_us   codeq_webhook_duration_seconds{kind}
 *   m.webhook.OUTCOME		      codeq_webhook_requests_total{kind,outcome}
 *   m.dead_lettered.I		      codeq_tasks_dead_lettered_total{queue=pool's I-th queue,pool}
 *   m.store_errors, m.store_reconnects  codeq_store_{errors,reconnects}_total{proc}
 *   m.handler_timeouts (and the other names of enum cqm_total)
 *				      codeq_handler_timeouts_total, ...
 *
 * (bN is bucket N, not cumulative; N = number of bounds is +Inf; sum_us is
 * the sum in microseconds.)  This table is all a child reports: every
 * counter a process keeps is one of these families, so there is one path
 * from an event to /metrics (docs/process-model.md, "Counters").
 *
 * A process calling fork() leaves registry mode in the child
 * automatically (pthread_atfork), so the calls below do the right thing
 * in every process without the caller knowing which one it is.
 */
#ifndef CODEQ_CODEQ_METRICS_H
#define CODEQ_CODEQ_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "metrics.h"

struct pool_config;

struct codeq_metrics {
	struct metrics *reg;
	struct metric *build_info, *start_time;
	struct metric *claimed, *completed, *failed, *retried, *dead_lettered;
	struct metric *abandoned;
	struct metric *handler_seconds, *claim_seconds;
	struct metric *leases_held, *pool_up, *pool_workers, *worker_restarts;
	struct metric *webhook_requests, *webhook_seconds;
	struct metric *queue_depth, *queue_oldest_ready, *callback_outbox;
	struct metric *callback_dlq, *queues;
	struct metric *store_up, *store_errors, *store_reconnects;
	struct metric *promoted, *reaped, *leases_extended, *leases_lost;
	struct metric *heartbeat_rounds, *handler_timeouts, *handler_kills;
	struct metric *heartbeat_after_finish;
	struct metric *wakeups;
};

/* The process's metrics (cqm.reg is NULL in child mode). */
extern struct codeq_metrics cqm;

/* Registry mode: creates the registry and declares every family.
 * Idempotent.  0, or -1 when out of memory. */
int cqm_init(void);
/* Frees the registry (at exit, for leak checkers). */
void cqm_shutdown(void);
/* Child mode: forget the registry, start an empty counter table.  Runs
 * by itself in the child of a fork(); callable explicitly too. */
void cqm_child_mode(void);
int cqm_is_registry(void);

/* ---- Events (any process) ----------------------------------------- */

/* A claim round trip to the store took seconds (worker). */
void cqm_claim_latency(const char *pool, double seconds);
/* A handler ran for seconds (worker). */
void cqm_handler_duration(const char *pool, double seconds);
/* A nack or fail moved a task to the DLQ; queue_index is the queue's
 * position in the pool's queue list (worker). */
void cqm_dead_lettered(const char *pool, const char *queue,
    size_t queue_index);
/* One webhook request ended.  kind: "work_available" or "result";
 * outcome: "success", "retry" or "permanent". */
void cqm_webhook(const char *kind, const char *outcome, double seconds);
void cqm_store_error(const char *proc);
void cqm_store_reconnect(const char *proc);

/* ---- Events seen by the dispatcher -------------------------------- */

void cqm_task_claimed(const char *pool, const char *queue);
/* outcome: ipc_outcome_name() of IPC_DONE ("completed", "retry",
 * "failed", "stale", "released", "lost") or "worker_died" when the
 * dispatcher gave back the task of a worker that died. */
void cqm_task_done(const char *pool, const char *queue, const char *outcome);
/* reason: "exit" (non-zero status), "signal", "clean" (exit 0 while not
 * asked to stop), "reload" (configuration changed). */
void cqm_worker_restart(const char *pool, const char *reason);
void cqm_pool_status(const char *pool, int up, int workers);
/* The leases a pool's workers hold now (the dispatcher's lease table). */
void cqm_leases_held(const char *pool, size_t n);
/* Drops the per-pool gauges of pools whose status was not reported for
 * max_age seconds (removed by a reload).  Called before rendering. */
void cqm_expire_pools(double max_age);

/* The unlabelled counters: in the dispatcher straight into their
 * family, in a child into its table (m.NAME) and folded from there. */
enum cqm_total {
	CQM_PROMOTED,			/* codeq_tasks_promoted_total */
	CQM_REAPED,			/* codeq_leases_reaped_total */
	CQM_LEASES_EXTENDED,		/* codeq_leases_extended_total */
	CQM_LEASES_LOST,		/* codeq_leases_lost_total */
	CQM_HEARTBEAT_ROUNDS,		/* codeq_heartbeat_rounds_total */
	CQM_HEARTBEAT_AFTER_FINISH,	/* codeq_heartbeats_after_finish_total */
	CQM_HANDLER_TIMEOUTS,		/* codeq_handler_timeouts_total (workers) */
	CQM_HANDLER_KILLS,		/* codeq_handler_kills_total */
	CQM_WAKEUPS,			/* codeq_worker_wakeups_total */
	CQM_TOTAL_MAX
};
void cqm_total(enum cqm_total t, uint64_t by);

/* Folds one counter of a child's IPC_COUNTERS report.  proc: "worker",
 * "notifier" or "callbacks"; pool: the worker's pool (NULL otherwise). */
void cqm_fold(pid_t pid, const char *proc, const struct pool_config *pool,
    const char *name, uint64_t value);
/* Forgets a child's previous report (it exited). */
void cqm_child_gone(pid_t pid);

/* ---- Child mode: the table sent in IPC_COUNTERS ------------------- */

size_t cqm_local_count(void);
/* The i-th counter; 0, or -1 past the end. */
int cqm_local_get(size_t i, const char **name, uint64_t *value);
void cqm_local_add(const char *name, uint64_t by);

/* Bucket bounds (seconds) of the histograms, shared by both modes. */
extern const double cqm_handler_buckets[];
extern const size_t cqm_handler_nbuckets;
extern const double cqm_claim_buckets[];
extern const size_t cqm_claim_nbuckets;
extern const double cqm_webhook_buckets[];
extern const size_t cqm_webhook_nbuckets;

#endif
