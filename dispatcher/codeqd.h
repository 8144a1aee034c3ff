/*
 * codeqd.h - the dispatcher's state, shared by the files of dispatcher/.
 *
 * One process, one libev loop (the default one, for ev_child).  It owns:
 *   children  one table of every child (children.c), each of a role
 *             (roles.c: worker, notifier, callbacks, api), forked by one spawn
 *             path, restarted with the backoff of its crash book
 *             (crashloop.c), executing codeq-worker or codeq-webhooks with
 *             the configuration snapshot (snapshot.c);
 *   pools     rows of worker children (pools.c);
 *   leases    every lease its workers hold (leasebook.c, lease.c): heartbeated in one
 *             pipelined round per pool and tick, given back when a worker dies;
 *   cron      one timer with per-duty periods (cron.c): promote, reap,
 *             heartbeat, handler deadlines, restarts, watchdog, STATUS;
 *   promote   one timer for the earliest due delayed task (promote.c);
 *   wake      a pub/sub subscription to codeq:ready (wake.c);
 *   notify    the systemd notification socket (notify.c);
 *   reload    SIGHUP (reload.c); probe: .so handlers checked by
 *             running codeq-worker --probe (probe.c).
 *
 * Layers.  Calls go down this order, never up and never in a circle;
 * news goes up through the function pointers of the role table (a
 * child's messages, exit and end: children.c calls roles.c's rows) and
 * of the metrics hooks (metrics_http.c asks main.c's pools_up):
 *
 *   1  handler_proof, crashloop, wakebook, leasebook, snapshot, notify
 *			leaves: no calls into the others, no loop
 *   2  children	the table of children: spawn, send, read, exit, restart
 *   3  dstore, probe	the dispatcher's store link; the .so probe
 *   4  lease		heartbeat rounds, give-backs (the store side of the book)
 *   5  pools, promote	pools of workers; the promote timer
 *   6  wake		the pub/sub link: WAKE to idle workers, promote signals
 *   7  drain		the graceful stop
 *   8  roles		the rows: a worker's messages and exit (lease, wake,
 *			pools, drain), the webhook children
 *   9  cron, reload, metrics_http, metrics_store, main
 */
#ifndef CODEQ_CODEQD_H
#define CODEQ_CODEQD_H

#include <sys/types.h>

#include <ev.h>
#include <stdint.h>

#include "codeq.h"
#include "conf.h"
#include "store_options.h"
#include "crashloop.h"
#include "handler_proof.h"
#include "ipc.h"

#define MAX_LEASES	64	/* per worker: its prefetch, bounded */
#define HOLD_KILL_GRACE_S 2.	/* ABORT, then SIGKILL after this */
#define CHILD_EXIT_NOEXEC 127	/* a forked child could not execute its program */

enum child_state {
	CS_DOWN = 0,		/* not running; restart_at says when */
	CS_STARTING,		/* forked, no READY yet */
	CS_RUNNING,
	CS_STOPPING,		/* SHUTDOWN sent; will not be restarted */
};

/* Why the dispatcher itself killed a child: decides what its tasks get. */
enum kill_reason { KILLED_NONE = 0, KILLED_TIMEOUT, KILLED_SHUTDOWN,
	KILLED_LEASE_LOST };

struct lease {
	char queue[IPC_QUEUE_MAX];
	char id[IPC_ID_MAX];
	char token[IPC_TOKEN_MAX];
	int64_t deadline_ms;	/* epoch ms; 0 while queued in a prefetch batch */
	int recovered;		/* from the store's claim record, never reported */
};

struct outframe {
	struct outframe *next;
	size_t len;
	char data[];
};

struct pool;
struct child;

/*
 * A role: one row of the table of children (roles.c), like relayd's
 * procs[] or nginx's process table.  children.c knows children only
 * through it: what to execute, who hears its messages and its exit, how
 * it is restarted.
 */
enum role_id { ROLE_WORKER, ROLE_NOTIFIER, ROLE_CALLBACKS, ROLE_API, ROLE_MAX };

struct child_argv {
	char *v[16];
	char config[32];		/* /proc/self/fd/N of the snapshot */
	char fd[16];			/* the child's end of its socketpair */
};

struct role {
	const char *name;		/* log's child=, counters' prefix */
	const char *program;		/* executed in the forked child */
	/* The argv of program for c, whose end of the socketpair is fd and
	 * whose configuration is the snapshot snap_fd.  0, or -1. */
	int (*argv)(const struct child *c, int fd, int snap_fd,
	    struct child_argv *a);
	/* The messages of the role (READY and COUNTERS are the table's). */
	void (*on_msg)(struct child *c, const struct ipc_msg *m);
	/* c exited with status; expected: it was told to stop.  Called
	 * before c is reset: its leases, pid and handler are still there. */
	void (*on_exit)(struct child *c, int status, int expected);
	/* c is down for good (stopped, not to be restarted); c may be freed
	 * by it. */
	void (*on_gone)(struct child *c);
	/* Whether cfg runs this role's child; NULL: a worker, run while
	 * its pool is. */
	int (*enabled)(const struct codeq_config *cfg);
	int64_t restart_min_ms;		/* the first restart after a crash */
};

extern const struct role roles[ROLE_MAX];

struct child {
	const struct role *role;
	struct pool *pool;		/* workers only */
	struct crashbook *book;		/* its pool's, or own */
	struct crashbook own;
	int wanted;			/* restarted when it exits */
	int slot;
	pid_t pid;
	int fd;				/* -1 when down */
	ev_io rio, wio;
	enum child_state state;
	int idle;			/* said IDLE, no WAKE sent since */
	struct lease leases[MAX_LEASES];
	size_t nleases;
	struct handler_group handler;	/* exec handler running, proven */
	ev_tstamp started, restart_at;
	enum kill_reason killed;
	ev_tstamp kill_at;		/* SIGKILL after ABORT, or 0 */
	struct outframe *outq, **outq_tail;
};

struct pool {
	struct pool_config *pc;
	struct codeq_config *owner;	/* the configuration pc belongs to */
	struct child *children;		/* also in D.children */
	int nchildren;
	struct crashbook book;		/* its workers' crashes */
	int retiring;			/* replaced or removed by a reload */
	int backoff_stored;		/* its backoff is in the store */
	ev_tstamp next_heartbeat;
	struct pool *next;
};

/* How a give-back ends a lease: a worker that died had its attempt
 * (nack, now or after the backoff); a worker the dispatcher stopped did
 * not (release: the attempt is refunded). */
enum giveback_kind { GB_RETRY_NOW, GB_RETRY_BACKOFF, GB_RELEASE };

struct giveback {
	struct giveback *next;
	char id[IPC_ID_MAX];
	char token[IPC_TOKEN_MAX];
	char queue[IPC_QUEUE_MAX];	/* for the metrics */
	char pool[IPC_NAME_MAX];	/* the pool may be gone by the retry */
	int max_attempts;		/* the pool's cap, or 0 */
	char error[160];
	enum giveback_kind kind;
	int recovered;			/* maybe finished since: refusal expected */
	int tries;
};


struct codeqd {
	struct ev_loop *loop;
	const char *cfg_path;
	struct codeq_config *cfg;	/* current */
	struct codeq_config **oldcfgs;	/* still owned by retiring pools */
	size_t noldcfgs;
	int snap_fd;			/* the configuration the children read */
	struct child **children;	/* the table: every child, every role */
	size_t nchildren, capchildren;
	struct pool *pools;

	struct store_options so;	/* so.o for every store connection */
	codeq_t *store;			/* the dispatcher's own connection */
	int store_fails;
	int store_refused;		/* the last connect: password refused */
	ev_tstamp store_retry_at;

	struct giveback *givebacks;
	int draining;
	int second_signal;
	ev_timer drain_timer;
	ev_timer tick;
	ev_signal sigterm, sigint, sighup;
	ev_child childw;
	ev_tstamp next_reap, next_status, next_watchdog, next_counters_gc;
	int ready_sent;
	int foreground;
	int level_forced;		/* --log-level given: reloads keep it */
	int ready_pipe;			/* daemonize: tell the parent we are up */
	char status[512];
};

extern struct codeqd D;

/* children.c: the table of children, whatever their role. */
#define FOREACH_CHILD(c, i) \
	for ((i) = 0; (i) < D.nchildren && ((c) = D.children[(i)]); (i)++)
void child_init(struct child *c, enum role_id role, struct pool *p, int slot);
int children_add(struct child *c);
void children_remove(struct child *c);
int child_program_path(const char *prog, char *buf, size_t len);
void child_spawn(struct child *c);
void child_send(struct child *c, const struct ipc_msg *m);
void child_read(struct child *c);
void child_stop(struct child *c, int abort);
void child_kill(struct child *c, enum kill_reason why);
void children_stop_all(int abort);
void children_restart_due(ev_tstamp now);
void children_kill_due(ev_tstamp now);
void on_child_exit(struct ev_loop *loop, ev_child *w, int revents);
int all_children_down(void);

/* roles.c: the rows (roles[] above); the children of the roles that are
 * not a pool's. */
int webhooks_create(const struct codeq_config *cfg);
void webhooks_reload(const struct codeq_config *cfg);
void webhooks_free(void);

/* pools.c */
int pools_create(struct codeq_config *cfg);
struct pool *pool_new(struct pool_config *pc, struct codeq_config *owner);
void pool_free(struct pool *p);
void pool_start(struct pool *p);
void pool_retire(struct pool *p);
void pools_store_backoff(void);
void pools_deadlines(void);
int pools_ready(void);
void pools_gc(void);
#define FOREACH_WORKER(p, c, i) \
	for ((p) = D.pools; (p) != NULL; (p) = (p)->next) \
		for ((i) = 0; (i) < (p)->nchildren && ((c) = &(p)->children[(i)]); (i)++)

/* dstore.c: the dispatcher's store link.  NULL while in backoff. */
codeq_t *dstore_get(void);
int dstore_lets_ready(void);
void dstore_lost(const codeq_error *err);
/* 0 after a lost link (backs off); 1 otherwise, noting a recovery. */
int dstore_ok(int rc, const codeq_error *err);

/* leasebook.c */
int lease_add(struct child *c, const struct ipc_msg *m);
int lease_running(const struct child *c, const char *id);
/* Forgets a lease; outcome (or NULL) goes to the metrics. */
void lease_drop(struct child *c, const char *id, const char *outcome);
/* The next at most max leases of pool p from children [*ci, ...) at
 * lease *ki, into refs and owner; *ci, *ki say where the next starts. */
size_t lease_batch(struct pool *p, int *ci, size_t *ki, codeq_lease_ref *refs,
    struct child **owner, size_t max);
enum hb_verdict { HB_EXTENDED, HB_UNKNOWN, HB_FINISHED, HB_LOST };
/* What one heartbeat answer (status, and the task's state on ESTATE)
 * means for its lease. */
enum hb_verdict heartbeat_verdict(int status, codeq_task_status state);

/* lease.c */
void lease_give_back(struct child *c, const char *why,
    enum giveback_kind kind);
void givebacks_run(void);
void lease_recover_claims(struct child *c);
void heartbeat_pools(ev_tstamp now);

/* cron.c */
void cron_start(void);
void on_tick(struct ev_loop *loop, ev_timer *w, int revents);

/* promote.c: promote_queue() promotes one queue now (by: "tick", "reap",
 * "timer", for the log) and learns when its next delayed task is due;
 * promote_signal() is a "Q WAIT_MS" of codeq:delayed; promote_kick()
 * promotes every served queue at the next loop iteration (after
 * notifications were missed); promote_served(): whether a pool that is
 * not retiring serves queue. */
void promote_start(void);
int promote_served(const char *queue);
void promote_queue(codeq_t *s, const char *queue, const char *by);
void promote_signal(const char *queue, int64_t wait_ms);
void promote_kick(void);

/* wake.c */
int wake_start(void);
void wake_stop(void);
void wake_queue(const char *queue, long n);
void wake_idle_worker(struct child *c);

/* notify.c */
void notify_init(void);
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t notify_watchdog_usec(void);

/* reload.c */
void reload(void);

/* snapshot.c: loads path through a memfd copy, *fd (close-on-exec),
 * which the children read.  -1 with "FILE:LINE: what" in err. */
int snapshot_load(const char *path, struct codeq_config *cfg, int *fd,
    char *err, size_t errlen);

/* probe.c */
int probe_handlers(const struct codeq_config *cfg, char *msg, size_t len);

/* drain.c */
void drain_start(const char *why);
/* A child went: leaves the loop when draining and it was the last. */
void drain_check(void);

#endif
