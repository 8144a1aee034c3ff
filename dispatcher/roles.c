/*
 * roles.c - the table of roles: what each kind of child of codeqd is.
 *
 *   role       program          argv                          messages
 *   worker     codeq-worker     --config SNAP --pool P --fd N  IDLE CLAIMED HANDLER DONE
 *   notifier   codeq-webhooks   notifier --config SNAP --fd N  -
 *   callbacks  codeq-webhooks   callbacks --config SNAP --fd N -
 *   api        codeq-api        --config SNAP --fd N           -
 *
 * READY and COUNTERS are every role's (children.c).  A worker's exit
 * gives its tasks back (lease.c); every child is restarted with the
 * backoff of its crash book (crashloop.c) starting at restart_min_ms.
 * Workers run while their pool does (pools.c); the notifier and the
 * callbacks process and the HTTP API while their section is enabled.
 */
#include "config.h"

#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"

/* ---- Arguments ------------------------------------------------------- */

static const char *
level_name(void)
{
	const char *level[] = { "debug", "info", "notice", "warning", "error" };
	enum log_level lvl = log_get_level();

	return (unsigned)lvl < 5 ? level[lvl] : "info";
}

/* argv = program, [first], --config SNAP, [--pool P], --fd N, --log-level L. */
static int
argv_build(struct child_argv *a, const char *program, const char *first,
    const char *pool, int fd, int snap_fd)
{
	int n = 0;

	if (snap_fd < 0)
		return -1;
	snprintf(a->config, sizeof(a->config), "/proc/self/fd/%d", snap_fd);
	snprintf(a->fd, sizeof(a->fd), "%d", fd);
	a->v[n++] = (char *)program;
	if (first != NULL)
		a->v[n++] = (char *)first;
	a->v[n++] = "--config";
	a->v[n++] = a->config;
	if (pool != NULL) {
		a->v[n++] = "--pool";
		a->v[n++] = (char *)pool;
	}
	a->v[n++] = "--fd";
	a->v[n++] = a->fd;
	a->v[n++] = "--log-level";
	a->v[n++] = (char *)level_name();
	a->v[n] = NULL;
	return 0;
}

static int
worker_argv(const struct child *c, int fd, int snap_fd, struct child_argv *a)
{
	return argv_build(a, "codeq-worker", NULL, c->pool->pc->name, fd,
	    snap_fd);
}

static int
webhooks_argv(const struct child *c, int fd, int snap_fd,
    struct child_argv *a)
{
	return argv_build(a, "codeq-webhooks", c->role->name, NULL, fd, snap_fd);
}

static int
api_argv(const struct child *c, int fd, int snap_fd, struct child_argv *a)
{
	(void)c;
	return argv_build(a, "codeq-api", NULL, NULL, fd, snap_fd);
}

/* ---- A worker's messages --------------------------------------------- */

/*
 * What a worker says is checked against what codeqd knows: a worker runs
 * .so code and may be compromised, while codeqd may run as root.  It
 * reports only leases of its own pool's queues, and a process group is
 * signalled only once proven to be its handler's (handler_proof.c).
 */
static int
claim_believable(const struct child *c, const struct ipc_msg *m)
{
	const char *q = m->u.claimed.queue, *id = m->u.claimed.id;
	size_t i, n = strlen(q);

	if (strncmp(id, q, n) == 0 && id[n] == ':')
		for (i = 0; i < c->pool->pc->nqueues; i++)
			if (strcmp(c->pool->pc->queues[i], q) == 0)
				return 1;
	log_warning("refused a lease report", "child", c->role->name,
	    "queue", q, "task", id, "error", "not a queue of the worker's pool");
	return 0;
}

static void
handler_seen(struct child *c, const struct ipc_msg *m)
{
	char why[160];

	if (handler_group_prove(&c->handler, c->pid,
	    (pid_t)m->u.handler.pgid, why, sizeof(why)) == 0)
		return;
	/* A handler that already exited leaves nothing to prove. */
	if (strncmp(why, "no process", 10) == 0)
		log_debug("handler report not proven", "child", c->role->name,
		    "error", why);
	else
		log_warning("refused a handler report", "child", c->role->name,
		    "task", m->u.handler.id, "error", why);
}

static void
worker_msg(struct child *c, const struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_IDLE:
		c->idle = 1;
		/* A child that had a task in hand does not go idle. */
		c->nleases = 0;
		memset(&c->handler, 0, sizeof(c->handler));
		if (c->state == CS_RUNNING)
			wake_idle_worker(c);	/* a wake it missed? */
		break;
	case IPC_CLAIMED:
		if (!claim_believable(c, m))
			break;
		c->idle = 0;
		if (lease_add(c, m))
			cqm_task_claimed(c->pool->pc->name, m->u.claimed.queue);
		break;
	case IPC_HANDLER:
		handler_seen(c, m);
		break;
	case IPC_DONE:
		lease_drop(c, m->u.done.id, ipc_outcome_name(m->u.done.outcome));
		memset(&c->handler, 0, sizeof(c->handler));
		break;
	default:
		log_warning("unexpected message from a child", "child",
		    c->role->name, "type", ipc_type_name(m->type));
		break;
	}
}

/* ---- A worker's exit ------------------------------------------------- */

/* What the tasks a worker still held get, by why it ended. */
static void
worker_give_back(struct child *c, int status)
{
	char why[96];

	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "worker exited on signal %d",
		    WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "worker exited with status %d",
		    WEXITSTATUS(status));
	if (c->killed == KILLED_TIMEOUT) {
		snprintf(why, sizeof(why), "handler timed out after %lld ms "
		    "(worker killed)", (long long)c->pool->pc->timeout_ms);
		lease_give_back(c, why, GB_RETRY_BACKOFF);
	} else if (c->killed == KILLED_SHUTDOWN)
		lease_give_back(c, "given back at shutdown: worker "
		    "killed after shutdown_timeout", GB_RELEASE);
	else if (c->killed == KILLED_LEASE_LOST)
		lease_give_back(c, "given back: worker restarted, its "
		    "running task's lease was lost", GB_RELEASE);
	else
		lease_give_back(c, why, GB_RETRY_NOW);
}

/*
 * A worker that died cost its task an attempt; one the dispatcher
 * stopped (shutdown, or a restart for a lease lost: what it still holds
 * never started) gives its tasks back with the attempt refunded, so a
 * restart dead-letters nothing.  One that did not exit cleanly may also
 * hold a batch it never reported.
 */
static void
worker_exit(struct child *c, int status, int expected)
{
	int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	handler_group_kill(&c->handler);	/* orphans of a dead worker */
	if (!clean)
		lease_recover_claims(c);
	if (c->nleases > 0)
		worker_give_back(c, status);
	if (!expected && !D.draining && c->wanted)
		cqm_worker_restart(c->pool->pc->name, WIFSIGNALED(status) ?
		    "signal" : !clean ? "exit" : "clean");
}

static void
worker_gone(struct child *c)
{
	pools_gc();	/* may free c's pool, and c */
	drain_check();
}

/* ---- The notifier and the callbacks process -------------------------- */

static void
webhooks_gone(struct child *c)
{
	drain_check();
}

static int
notifier_enabled(const struct codeq_config *cfg)
{
	return cfg->notifier.enabled;
}

static int
callbacks_enabled(const struct codeq_config *cfg)
{
	return cfg->callbacks.enabled;
}

static int
api_enabled(const struct codeq_config *cfg)
{
	return cfg->api.enabled;
}

/* Every role with a child of its own (not a pool's) gets it now; it
 * runs when its configuration enables it. */
int
webhooks_create(const struct codeq_config *cfg)
{
	struct child *c;
	int r;

	for (r = 0; r < ROLE_MAX; r++) {
		if (roles[r].enabled == NULL)
			continue;
		if ((c = malloc(sizeof(*c))) == NULL)
			return -1;
		child_init(c, (enum role_id)r, NULL, 0);
		if (children_add(c) < 0) {
			free(c);
			return -1;
		}
		c->wanted = roles[r].enabled(cfg);
		c->state = c->wanted ? CS_DOWN : CS_STOPPING;
	}
	return 0;
}

/* A reload: each is stopped, to start again with the new configuration
 * if it still enables it. */
void
webhooks_reload(const struct codeq_config *cfg)
{
	struct child *c;
	size_t i;

	FOREACH_CHILD(c, i) {
		if (c->role->enabled == NULL)
			continue;
		if (c->fd >= 0)
			child_stop(c, 0);	/* restarted when it exits */
		c->wanted = c->role->enabled(cfg);
		if (c->wanted && c->fd < 0)
			c->state = CS_DOWN;
	}
}

/* Frees what webhooks_create made (at exit). */
void
webhooks_free(void)
{
	struct child *c;
	size_t i;

	for (i = 0; i < D.nchildren; ) {
		c = D.children[i];
		if (c->pool != NULL) {
			i++;
			continue;
		}
		children_remove(c);
		free(c);
	}
}

/* ---- The table ------------------------------------------------------- */

const struct role roles[ROLE_MAX] = {
	[ROLE_WORKER] = { "worker", "codeq-worker", worker_argv, worker_msg,
	    worker_exit, worker_gone, NULL, 100 },
	[ROLE_NOTIFIER] = { "notifier", "codeq-webhooks", webhooks_argv, NULL,
	    NULL, webhooks_gone, notifier_enabled, 100 },
	[ROLE_CALLBACKS] = { "callbacks", "codeq-webhooks", webhooks_argv, NULL,
	    NULL, webhooks_gone, callbacks_enabled, 100 },
	[ROLE_API] = { "api", "codeq-api", api_argv, NULL, NULL, webhooks_gone,
	    api_enabled, 100 },
};
