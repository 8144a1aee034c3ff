/*
 * codeq.h - public interface of libcodeq, the client library of the codeq
 * task queue (KVRocks / Redis protocol).
 *
 * Conventions:
 *  - Every function that can fail returns an int status: CODEQ_OK (0) or a
 *    negative CODEQ_E* code, and fills the caller's codeq_error (may be
 *    NULL) with a one-line message naming what was wrong.  Nothing in this
 *    library aborts or exits the caller's process.
 *  - Durations and times are int64 milliseconds; times are Unix epoch
 *    milliseconds taken from the store's clock (TIME), never the host's.
 *    A duration over 100 years (a time after 9999) is CODEQ_EINVAL, so
 *    that now + duration never overflows; a longer result wait is
 *    clamped to it.
 *  - Strings returned inside structs are owned by the struct and released by
 *    its *_free function.
 *  - A codeq_t is one connection; it is not thread-safe (use one per thread).
 *
 * The interface is versioned: CODEQ_API_VERSION changes when a signature or
 * struct layout changes.  The shared-object handler ABI has its own version
 * (CODEQ_HANDLER_ABI_VERSION, below).
 */
#ifndef CODEQ_H
#define CODEQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CODEQ_API_VERSION 1

/* Status codes.  The CLI maps them to sysexits (see codeq(1)). */
enum codeq_status {
	CODEQ_OK = 0,
	CODEQ_EINVAL = -1,	/* bad argument: priority, duration, URL, JSON... */
	CODEQ_ENOTFOUND = -2,	/* unknown task id / subscription / item */
	CODEQ_ESTALE = -3,	/* lease token is not the current one (fencing) */
	CODEQ_ESTATE = -4,	/* task is not in a state that allows this */
	CODEQ_EEMPTY = -5,	/* nothing to claim */
	CODEQ_ETOOBIG = -6,	/* payload or result over the configured limit */
	CODEQ_ESTORE = -7,	/* store unreachable, timed out or lost */
	CODEQ_EPROTO = -8,	/* store answered something unexpected */
	CODEQ_ENOMEM = -9,
	CODEQ_ETIMEDOUT = -10,	/* a wait (e.g. result --wait) ran out */
	CODEQ_EAUTH = -11,	/* codeq_connect: the store refused the password */
};

typedef struct codeq_error {
	int code;
	char msg[256];
} codeq_error;

const char *codeq_strerror(int code);
const char *codeq_version(void);

/* ---- Connection ---------------------------------------------------- */

typedef struct codeq codeq_t;

typedef struct codeq_options {
	int64_t connect_timeout_ms;	/* 0: default 2000 */
	int64_t command_timeout_ms;	/* 0: default 5000 */
	int reconnect_attempts;		/* retries with backoff (100 ms doubling, up to 2 s)
					 * when a call finds the link lost; 0: default 5;
					 * < 0: none, one connect per call (event loops) */
	size_t max_payload;		/* 0: default 1 MiB */
	int64_t retention_ms;		/* terminal tasks kept; 0: default 7 days */
	const char *password;		/* overrides the URL's password; never logged */
	/* Shards: stores beside the home store (url).  A queue lives on the
	 * first shard whose queues name it (exact names before globs), else,
	 * with shard_hash, on the store that rendezvous hashing of its name
	 * over the home and every shard picks, else on the home.  Global
	 * records (the queue registry, subscriptions) live on the home.
	 * password is the home's only; codeq_connect connects every store
	 * (one unreachable: CODEQ_ESTORE naming it, "shard b (URL): ..."). */
	const struct codeq_shard *shards;
	size_t nshards;
	int shard_hash;
	/* 1: url is the seed node of a Redis Cluster (or KVRocks in cluster
	 * mode).  The slot map is read from it; every command goes to the
	 * node of its key's slot (a queue is one slot, {Q}), following MOVED
	 * and ASK; keyless commands go to any node.  Pipelines become one
	 * round trip per command.  Not with shards (CODEQ_EINVAL). */
	int cluster;
} codeq_options;

typedef struct codeq_shard {
	const char *name;		/* unique, not "home"; hashing uses it, not
					 * the URL, so a store may change address */
	const char *url;		/* as codeq_connect's */
	const char *password;		/* NULL: the URL's */
	const char *const *queues;	/* queue names or fnmatch(3) globs */
	size_t nqueues;
} codeq_shard;

/* url: redis://[[user][:password]@]host[:port][/db] (port 6379, db 0 by
 * default; [v6addr] for IPv6), or unix://[[user][:password]@]/path
 * [?db=N&password=P] (redis+unix:// too); user (a Redis 6 ACL user) and
 * password may be %-encoded.  opt may be NULL.  The first connection is
 * tried once: an unreachable store is CODEQ_ESTORE within the connect
 * timeout; a store that refuses the password (or wants one and none was
 * given) is CODEQ_EAUTH.  Later, a call whose reply was lost (link down,
 * command timeout) returns CODEQ_ESTORE -- its effect is unknown -- and
 * the next call reconnects (reconnect_attempts). */
int codeq_connect(const char *url, const codeq_options *opt, codeq_t **out,
    codeq_error *err);
void codeq_close(codeq_t *c);

/* The store that holds queue: 0 for the home, i for opt->shards[i - 1];
 * *name (may be NULL) is "home" or the shard's name. */
size_t codeq_shard_of(codeq_t *c, const char *queue, const char **name);

/* Queue names: 1-100 characters of [A-Za-z0-9_.-]. */
int codeq_queue_name_valid(const char *queue);

/* ---- Tasks ----------------------------------------------------------- */

/* Task ids are "<queue>:<sequence>", so a task is found by its id alone
 * while every key of a queue stays in one hash slot. */
#define CODEQ_ID_MAX 128

typedef enum codeq_task_status {
	CODEQ_READY = 0,
	CODEQ_DELAYED,
	CODEQ_LEASED,
	CODEQ_COMPLETED,
	CODEQ_FAILED,
	CODEQ_DEAD,		/* in the dead-letter queue */
	CODEQ_STATUS_UNKNOWN,
} codeq_task_status;

const char *codeq_status_name(codeq_task_status s);

#define CODEQ_MAX_ATTEMPTS_DEFAULT 5	/* a spec's max_attempts 0 */

typedef struct codeq_task_spec {
	const char *queue;
	const char *payload;		/* JSON text; NULL means "{}" */
	int priority;			/* 0-9, higher first; default 0 */
	int64_t delay_ms;		/* run no earlier than now + delay */
	int64_t at_ms;			/* or at this time (epoch ms); 0: unset */
	int max_attempts;		/* 0: CODEQ_MAX_ATTEMPTS_DEFAULT */
	const char *idempotency_key;	/* NULL: none */
	int64_t idempotency_ttl_ms;	/* 0: default 24 h */
	const char *webhook;		/* result callback URL; NULL: none */
	const char *traceparent;	/* W3C trace context passed to webhooks */
} codeq_task_spec;

typedef struct codeq_task {
	char *id;
	char *queue;
	char *payload;
	codeq_task_status status;
	int priority;
	int attempts;
	int max_attempts;
	int64_t created_at;
	int64_t due_at;			/* delayed tasks */
	int64_t completed_at;		/* terminal tasks */
	char *lease_token;		/* leased tasks */
	int64_t lease_until;
	char *worker;
	char *result;			/* JSON, completed tasks */
	char *error;			/* last error text */
	char *webhook;
	char *traceparent;
	char *idempotency_key;
} codeq_task;

void codeq_task_free(codeq_task *t);

/* Enqueue one task.  id_out receives the id (also the existing task's id
 * when the idempotency key was already used; *duplicate is then 1). */
int codeq_enqueue(codeq_t *c, const codeq_task_spec *spec,
    char id_out[CODEQ_ID_MAX], int *duplicate, codeq_error *err);

/* Enqueue n tasks in pipelined rounds.  Each task gets its own outcome in
 * results[i] (status, id); one bad task never stops the others.  Returns
 * CODEQ_OK when the store answered for every task, whatever their status. */
typedef struct codeq_enqueue_result {
	int status;
	char id[CODEQ_ID_MAX];
	int duplicate;
	char msg[128];
} codeq_enqueue_result;

int codeq_enqueue_batch(codeq_t *c, const codeq_task_spec *specs, size_t n,
    codeq_enqueue_result *results, codeq_error *err);

int codeq_get(codeq_t *c, const char *id, codeq_task **out, codeq_error *err);

/* Returns the task once terminal (COMPLETED, FAILED, DEAD); with
 * wait_ms > 0 waits up to that long, else CODEQ_ETIMEDOUT. */
int codeq_result(codeq_t *c, const char *id, int64_t wait_ms,
    codeq_task **out, codeq_error *err);

/* ---- Worker side ----------------------------------------------------- */

typedef struct codeq_claim_opts {
	int64_t lease_ms;		/* 0: default 30 s */
	const char *worker;		/* recorded on the task; NULL: host:pid */
	size_t max_tasks;		/* claim up to this many; 0: 1 */
} codeq_claim_opts;

/* Claims from the queues in the order given (a queue is emptied before
 * the next one is tried), highest priority first, FIFO within a priority.
 * Due delayed tasks are promoted first.  Each claimed task has a fresh
 * lease_token and its attempt counted.  tasks: the caller's array of at
 * least max_tasks pointers; each claimed task is allocated (free each with
 * codeq_task_free).  *n is the number claimed; CODEQ_EEMPTY when 0. */
int codeq_claim(codeq_t *c, const char *const *queues, size_t nqueues,
    const codeq_claim_opts *opt, codeq_task **tasks, size_t *n,
    codeq_error *err);

int codeq_heartbeat(codeq_t *c, const char *id, const char *token,
    int64_t lease_ms, int64_t *lease_until, codeq_error *err);
int codeq_complete(codeq_t *c, const char *id, const char *token,
    const char *result_json, codeq_error *err);
/* Pipelined batches, one round trip for n items.  status[i] receives the
 * outcome of item i (CODEQ_OK, CODEQ_ESTALE, CODEQ_ENOTFOUND,
 * CODEQ_ESTATE, CODEQ_EINVAL...); the call returns CODEQ_OK when the store
 * answered for every item (else CODEQ_ESTORE, with the unanswered items'
 * status CODEQ_ESTORE).  lease_until may be NULL. */
typedef struct codeq_lease_ref {
	const char *id;
	const char *token;
} codeq_lease_ref;

int codeq_heartbeat_batch(codeq_t *c, const codeq_lease_ref *leases,
    size_t n, int64_t lease_ms, int *status, int64_t *lease_until,
    codeq_error *err);
/* As codeq_heartbeat_batch; state (or NULL) receives, for an item refused
 * with CODEQ_ESTATE, the status the store gave for the task (with this
 * token still on it: CODEQ_COMPLETED or CODEQ_FAILED, the lease ended by
 * its own verdict), else CODEQ_STATUS_UNKNOWN. */
int codeq_heartbeat_batch_ex(codeq_t *c, const codeq_lease_ref *leases,
    size_t n, int64_t lease_ms, int *status, int64_t *lease_until,
    codeq_task_status *state, codeq_error *err);

typedef struct codeq_completion {
	const char *id;
	const char *token;
	const char *result;		/* JSON; NULL: none */
} codeq_completion;

int codeq_complete_batch(codeq_t *c, const codeq_completion *items,
    size_t n, int *status, codeq_error *err);

/* permanent: straight to FAILED; otherwise like nack with backoff. */
int codeq_fail(codeq_t *c, const char *id, const char *token,
    const char *error, int permanent, codeq_error *err);
/* delay_ms < 0: the queue's backoff.  After max attempts -> DLQ. */
int codeq_nack(codeq_t *c, const char *id, const char *token,
    int64_t delay_ms, const char *error, codeq_error *err);
/* The same for a worker pool with its own limit: max_attempts > 0 caps
 * the task's max_attempts (the smaller one decides when the task goes
 * to the DLQ).  *status (may be NULL) receives where the task went:
 * CODEQ_READY, CODEQ_DELAYED or CODEQ_DEAD. */
int codeq_nack_ex(codeq_t *c, const char *id, const char *token,
    int64_t delay_ms, const char *error, int max_attempts,
    codeq_task_status *status, codeq_error *err);
/* Gives a leased task back without spending an attempt: the claim's
 * count is refunded (attempts - 1), reason (may be NULL) is recorded as
 * the task's error, and the task goes to the head of its ready list.
 * For a graceful give-back (a worker stopping before or instead of
 * finishing the task); a task whose handler ran and failed is nacked. */
int codeq_release(codeq_t *c, const char *id, const char *token,
    const char *reason, codeq_error *err);

/* The latest batch that the worker named `worker` (codeq_claim_opts)
 * claimed from queue, kept in the store for the lease duration of that
 * claim: a supervisor gives back at once what a worker that died claimed
 * before it could say so (nack or release each with its token; a task
 * finished since is refused as stale or state).  Fills up to max refs,
 * whose strings point into *buf (free(*buf) when done, also when *n is
 * 0).  No batch recorded: CODEQ_OK with *n = 0. */
int codeq_last_claim(codeq_t *c, const char *queue, const char *worker,
    codeq_lease_ref *refs, size_t max, size_t *n, char **buf,
    codeq_error *err);

/* ---- Backoff ------------------------------------------------------- */

typedef struct codeq_backoff {
	int64_t base_ms;	/* default 1000: delay = base * 2^(attempt-1) */
	int64_t max_ms;		/* default 3600000 (1 hour) */
	int jitter_pct;		/* default 20: +/- up to this % of the delay */
} codeq_backoff;

/* Sets the backoff used by nack/fail/reap for a queue (stored per queue). */
int codeq_queue_set_backoff(codeq_t *c, const char *queue,
    const codeq_backoff *b, codeq_error *err);

/* ---- Housekeeping ---------------------------------------------------- */

/* Moves due delayed tasks to their ready lists (at most limit). */
int codeq_promote(codeq_t *c, const char *queue, size_t limit,
    size_t *moved, codeq_error *err);
/* Requeues (or dead-letters) tasks whose lease expired (at most limit). */
int codeq_reap(codeq_t *c, const char *queue, size_t limit,
    size_t *reaped, codeq_error *err);
/* The same; *dead (may be NULL) receives how many of the reaped tasks
 * were at their last attempt and went to the dead-letter queue. */
int codeq_reap_ex(codeq_t *c, const char *queue, size_t limit,
    size_t *reaped, size_t *dead, codeq_error *err);

/* Known queues (every queue ever enqueued to; members of the registry
 * that are not valid queue names are left out). */
int codeq_queues(codeq_t *c, char ***names, size_t *n, codeq_error *err);
void codeq_strv_free(char **v, size_t n);

typedef struct codeq_stats {
	int64_t ready[10];	/* per priority */
	int64_t ready_total;
	int64_t delayed;
	int64_t leased;
	int64_t dlq;
	int64_t enqueued, claimed, completed, failed, retried, dead_lettered;
	int64_t outbox;		/* result callbacks waiting */
	int64_t callbacks_dlq;
	int64_t oldest_ready_ms; /* age of the oldest ready task, 0 if none */
} codeq_stats;

int codeq_stats_get(codeq_t *c, const char *queue, codeq_stats *out,
    codeq_error *err);

/* Dead-letter queue. */
int codeq_dlq_list(codeq_t *c, const char *queue, size_t offset, size_t limit,
    codeq_task ***tasks, size_t *n, codeq_error *err);
void codeq_tasks_free(codeq_task **tasks, size_t n);
/* id NULL: up to limit tasks from the head; attempts reset to 0. */
int codeq_dlq_requeue(codeq_t *c, const char *queue, const char *id,
    size_t limit, size_t *moved, codeq_error *err);
int codeq_dlq_purge(codeq_t *c, const char *queue, size_t *purged,
    codeq_error *err);

/* Consistency check of invariant 2 (each live task in exactly one place).
 * queue NULL: every queue (codeq:queues plus queues found by their keys;
 * a queue missing from codeq:queues is reported with id NULL).  Calls
 * report() (may be NULL) for each problem, with repaired = 1 when repair
 * fixed it; *problems counts them.  Chunked reads, safe on a live queue. */
typedef void (*codeq_fsck_report)(void *arg, const char *queue,
    const char *id, const char *problem, int repaired);
int codeq_fsck(codeq_t *c, const char *queue, int repair,
    codeq_fsck_report report, void *arg, size_t *problems, codeq_error *err);

/* ---- Shared-object handler ABI --------------------------------------- */

/*
 * A handler .so exports `codeq_handler_v1` (a struct codeq_handler) and is
 * dlopen()ed once per worker process.  Functions run in the worker; a crash
 * costs that worker (the dispatcher requeues the task and restarts it).
 */
#define CODEQ_HANDLER_ABI_VERSION 1

typedef struct codeq_handler_task {
	const char *id;
	const char *queue;
	const char *payload;		/* JSON text, NUL-terminated */
	size_t payload_len;
	int attempt;			/* 1 on the first run */
	int max_attempts;
	int64_t deadline_ms;		/* epoch ms when the handler times out */
} codeq_handler_task;

typedef enum codeq_handler_outcome {
	CODEQ_HANDLER_OK = 0,		/* result (may be NULL) is stored */
	CODEQ_HANDLER_RETRY = 1,	/* retry after retry_after_ms (or backoff if 0) */
	CODEQ_HANDLER_FAIL = 2,		/* permanent failure: no more attempts */
} codeq_handler_outcome;

typedef struct codeq_handler_reply {
	char *result;		/* JSON, malloc()ed by the handler, freed by codeq */
	char *error;		/* text, malloc()ed by the handler, freed by codeq */
	int64_t retry_after_ms;
} codeq_handler_reply;

typedef struct codeq_handler {
	int abi_version;	/* CODEQ_HANDLER_ABI_VERSION */
	const char *name;
	/* Optional.  config: the pool's `handler_config` string (may be NULL).
	 * Return 0, or non-zero to refuse to start (the worker exits). */
	int (*init)(const char *config, void **state);
	codeq_handler_outcome (*handle)(void *state,
	    const codeq_handler_task *task, codeq_handler_reply *reply);
	void (*fini)(void *state);	/* optional */
} codeq_handler;

/* ---- Subscriptions and result callbacks (webhooks) ------------------ */

/*
 * A subscription asks the notifier to POST WORK_AVAILABLE to url when its
 * queues get ready tasks (docs/webhooks.md).  It expires ttl_ms after it
 * was made or last renewed.  Ids are "sub_" + 26 characters.
 */
typedef enum codeq_sub_mode {
	CODEQ_SUB_FANOUT = 0,	/* every subscriber */
	CODEQ_SUB_GROUP,	/* one subscriber per group, round-robin */
	CODEQ_SUB_HASH,		/* one subscriber per group, by queue hash */
} codeq_sub_mode;

#define CODEQ_SUB_DEFAULT_TTL_MS 300000

typedef struct codeq_subscription_spec {
	const char *const *queues;	/* queue names, or "*" for every queue */
	size_t nqueues;
	const char *url;		/* http(s)://host... */
	int64_t ttl_ms;			/* 0: default 300 s */
	codeq_sub_mode mode;
	const char *group;		/* group and hash modes; NULL: "" */
	int64_t min_interval_ms;	/* at most one POST per interval; 0: none */
	const char *secret;		/* signing secret (whsec_...); NULL: the
					 * daemon's [webhooks] secret.  Never logged. */
} codeq_subscription_spec;

typedef struct codeq_subscription {
	char *id;
	char **queues;
	size_t nqueues;
	char *url;
	codeq_sub_mode mode;
	char *group;
	int64_t min_interval_ms;
	int64_t ttl_ms;
	int64_t created_at;
	int64_t expires_at;
	int has_secret;			/* the secret itself is not returned */
} codeq_subscription;

const char *codeq_sub_mode_name(codeq_sub_mode m);
/* "fanout", "group", "hash" -> mode; CODEQ_EINVAL otherwise. */
int codeq_sub_mode_parse(const char *s, codeq_sub_mode *out);

/* Checks a webhook target: http:// or https://, a host (a name, a.b.c.d
 * or [IPv6]), an optional port 1-65535, no blanks, at most 2048
 * characters (docs/webhooks.md, "Target policy", has the whole rule).
 * The address policy applies when sending. */
int codeq_webhook_url_valid(const char *url, codeq_error *err);

int codeq_subscribe(codeq_t *c, const codeq_subscription_spec *spec,
    char id_out[CODEQ_ID_MAX], codeq_error *err);
/* ttl_ms 0: the subscription's own TTL.  CODEQ_ENOTFOUND once expired. */
int codeq_subscription_renew(codeq_t *c, const char *id, int64_t ttl_ms,
    int64_t *expires_at, codeq_error *err);
/* Live subscriptions, sorted by id. */
int codeq_subscription_list(codeq_t *c, codeq_subscription ***subs,
    size_t *n, codeq_error *err);
int codeq_subscription_get(codeq_t *c, const char *id,
    codeq_subscription **out, codeq_error *err);
int codeq_subscription_remove(codeq_t *c, const char *id, codeq_error *err);
void codeq_subscription_free(codeq_subscription *s);
void codeq_subscriptions_free(codeq_subscription **subs, size_t n);

/* A result callback that exhausted its delivery attempts (or failed
 * permanently): an item of the queue's callbacks dead-letter queue. */
typedef struct codeq_callback {
	int64_t item;			/* number within the queue's outbox */
	char *task_id;
	char *url;
	char *status;			/* completed, failed, dead */
	int deliveries;
	int64_t last_status;		/* HTTP status; 0: none (connect error...) */
	char *last_error;
	int64_t created_at;
	int64_t dead_at;
} codeq_callback;

int codeq_callbacks_dlq_list(codeq_t *c, const char *queue, size_t offset,
    size_t limit, codeq_callback **items, size_t *n, codeq_error *err);
void codeq_callbacks_free(codeq_callback *items, size_t n);
/* item > 0: that one; else up to limit of the oldest.  Replayed items
 * get a fresh round of delivery attempts, due now. */
int codeq_callbacks_dlq_replay(codeq_t *c, const char *queue, int64_t item,
    size_t limit, size_t *replayed, codeq_error *err);
/* item > 0: that one; else every item. */
int codeq_callbacks_dlq_purge(codeq_t *c, const char *queue, int64_t item,
    size_t *purged, codeq_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CODEQ_H */
