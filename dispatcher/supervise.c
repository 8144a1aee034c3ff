/*
 * supervise.c - forks and watches every child of codeqd.
 *
 * Each child gets one SEQPACKET socketpair.  A child that exits is reaped
 * by the loop's ev_child watcher: its last messages are read first (a DONE
 * may be waiting), then the tasks it still held are given back at once,
 * and it is restarted after a delay that doubles with each crash in a row
 * of its pool (capped by restart_backoff_max).  A pool whose workers keep
 * crashing is reported as crash-looping in the log and in STATUS= instead
 * of being restarted in a tight loop.
 */
#include "backoff.h"
#include "config.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"
#include "worker.h"

static const char *
child_name(const struct child *c)
{
	switch (c->kind) {
	case CHILD_NOTIFIER: return "notifier";
	case CHILD_CALLBACKS: return "callbacks";
	default: return "worker";
	}
}

static void
pidstr(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%ld", (long)pid);
}

/* ---- Sending --------------------------------------------------------- */

static void
on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct child *c = w->data;
	struct outframe *f;
	int rc;

	while ((f = c->outq) != NULL) {
		rc = ipc_send_frame(c->fd, f->data, f->len, 1);
		if (rc == IPC_EAGAIN)
			return;
		c->outq = f->next;
		free(f);
	}
	c->outq_tail = &c->outq;
	ev_io_stop(loop, w);
}

static void
outq_free(struct child *c)
{
	struct outframe *f;

	while ((f = c->outq) != NULL) {
		c->outq = f->next;
		free(f);
	}
	c->outq_tail = &c->outq;
}

/* Never blocks: what the socket cannot take now waits in the child's
 * queue for an ev_io write watcher. */
void
child_send(struct child *c, const struct ipc_msg *m)
{
	char buf[IPC_MAX_FRAME];
	struct outframe *f;
	size_t len;
	int rc;

	if (c->fd < 0)
		return;
	if ((rc = ipc_encode(m, buf, sizeof(buf), &len)) != IPC_OK) {
		log_error("cannot encode a message", "type", ipc_type_name(m->type));
		return;
	}
	if (c->outq == NULL) {
		rc = ipc_send_frame(c->fd, buf, len, 1);
		if (rc == IPC_OK)
			return;
		if (rc != IPC_EAGAIN)
			return;		/* the child is going; SIGCHLD follows */
	}
	if ((f = malloc(sizeof(*f) + len)) == NULL)
		return;
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*c->outq_tail = f;
	c->outq_tail = &f->next;
	if (!ev_is_active(&c->wio))
		ev_io_start(D.loop, &c->wio);
}

/* ---- Receiving ------------------------------------------------------- */

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

	if (c->kind == CHILD_WORKER && c->pool != NULL &&
	    strncmp(id, q, n) == 0 && id[n] == ':')
		for (i = 0; i < c->pool->pc->nqueues; i++)
			if (strcmp(c->pool->pc->queues[i], q) == 0)
				return 1;
	log_warning("refused a lease report", "child", child_name(c),
	    "queue", q, "task", id, "error", "not a queue of the worker's pool");
	return 0;
}

static void
handler_seen(struct child *c, const struct ipc_msg *m)
{
	char why[160];

	if (c->kind == CHILD_WORKER &&
	    handler_group_prove(&c->handler, c->pid,
	    (pid_t)m->u.handler.pgid, why, sizeof(why)) == 0)
		return;
	/* A handler that already exited leaves nothing to prove. */
	if (strncmp(why, "no process", 10) == 0)
		log_debug("handler report not proven", "child", child_name(c),
		    "error", why);
	else
		log_warning("refused a handler report", "child", child_name(c),
		    "task", m->u.handler.id, "error", why);
}

static void
handle_msg(struct child *c, const struct ipc_msg *m)
{
	size_t i;

	switch (m->type) {
	case IPC_READY:
		if (c->state == CS_STARTING)
			c->state = CS_RUNNING;
		log_debug("child ready", "child", child_name(c),
		    "pool", c->pool ? c->pool->pc->name : "");
		break;
	case IPC_IDLE:
		if (c->kind != CHILD_WORKER)
			break;
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
		if (lease_add(c, m) && c->pool != NULL)
			cqm_task_claimed(c->pool->pc->name, m->u.claimed.queue);
		break;
	case IPC_HANDLER:
		handler_seen(c, m);
		break;
	case IPC_DONE:
		lease_drop(c, m->u.done.id, ipc_outcome_name(m->u.done.outcome));
		memset(&c->handler, 0, sizeof(c->handler));
		break;
	case IPC_COUNTERS:
		counters_child_update(c, m);
		for (i = 0; i < m->u.counters.n; i++)
			cqm_fold(c->pid, child_name(c), c->pool ? c->pool->pc : NULL,
			    m->u.counters.c[i].name, m->u.counters.c[i].value);
		break;
	default:
		log_warning("unexpected message from a child", "child",
		    child_name(c), "type", ipc_type_name(m->type));
		break;
	}
}

/* Reads every message waiting on a child's socket. */
static void
child_read(struct child *c)
{
	struct ipc_msg m;
	char err[128], pid[16];
	int rc;

	while (c->fd >= 0) {
		rc = ipc_recv(c->fd, &m, err, sizeof(err));
		if (rc == IPC_EAGAIN || rc == IPC_EOF || rc == IPC_ESYS) {
			if (rc != IPC_EAGAIN)
				ev_io_stop(D.loop, &c->rio);	/* SIGCHLD follows */
			return;
		}
		if (rc == IPC_EMALFORMED) {
			pidstr(c->pid, pid, sizeof(pid));
			log_warning("malformed frame from a child, ignored",
			    "child", child_name(c), "pid", pid, "error", err);
			continue;
		}
		handle_msg(c, &m);
	}
}

static void
on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	child_read(w->data);
}

/* ---- Forking --------------------------------------------------------- */

#ifdef SYS_close_range
/* Closes every descriptor from 3 up except a and b (b may be -1). */
static int
close_all_but(int a, int b)
{
	unsigned int lo = 3;
	int v[2], n = 0, i;

	v[n++] = b >= 0 && b < a ? b : a;
	if (b >= 0)
		v[n++] = b < a ? a : b;
	for (i = 0; i < n; i++) {
		if ((unsigned int)v[i] > lo &&
		    syscall(SYS_close_range, lo, (unsigned int)v[i] - 1, 0) != 0)
			return -1;
		lo = (unsigned int)v[i] + 1;
	}
	return (int)syscall(SYS_close_range, lo, ~0U, 0);
}
#endif

/* In a new child: forget the dispatcher's loop and every descriptor that
 * is not this child's own socket (or the configuration snapshot a worker
 * reads, see worker_exec.c). */
static void
child_detach(int keep)
{
	int fd, max, snap = worker_exec_fd();

	ev_signal_stop(D.loop, &D.sigterm);
	ev_signal_stop(D.loop, &D.sigint);
	ev_signal_stop(D.loop, &D.sighup);
	ev_child_stop(D.loop, &D.childw);
	ev_loop_destroy(D.loop);	/* children may use EV_DEFAULT afresh */
#ifdef SYS_close_range
	if (close_all_but(keep, snap) == 0)
		return;
#endif
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != keep && fd != snap)
			close(fd);
}

void
child_spawn(struct child *c)
{
	int fds[2], rc = 0;
	char pid[16];
	pid_t p;

	if (ipc_pair(fds) != IPC_OK) {
		log_error("socketpair failed", "error", strerror(errno));
		c->restart_at = ev_now(D.loop) + 1.;
		return;
	}
	fflush(stderr);
	if ((p = fork()) < 0) {
		log_error("fork failed", "error", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		c->restart_at = ev_now(D.loop) + 1.;
		return;
	}
	if (p == 0) {
		child_detach(fds[1]);
		switch (c->kind) {
		case CHILD_WORKER:
			worker_exec(c->pool->pc, fds[1]);	/* on success, no return */
			rc = worker_main(D.cfg, c->pool->pc, D.cfg->store.url,
			    &D.opt, fds[1]);
			break;
		case CHILD_NOTIFIER:
			log_set_proc("notifier");
			webhooks_exec("notifier", D.cfg_path, fds[1]);
			rc = 1;
			break;
		case CHILD_CALLBACKS:
			log_set_proc("callbacks");
			webhooks_exec("callbacks", D.cfg_path, fds[1]);
			rc = 1;
			break;
		default:
			rc = 1;
			break;
		}
		_exit(rc);
	}
	close(fds[1]);
	c->pid = p;
	c->fd = fds[0];
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->state = CS_STARTING;
	c->idle = 0;
	c->nleases = 0;
	memset(&c->handler, 0, sizeof(c->handler));
	c->killed = KILLED_NONE;
	c->kill_at = 0;
	c->ncounters = 0;
	c->started = ev_now(D.loop);
	c->outq = NULL;
	c->outq_tail = &c->outq;
	ev_io_init(&c->rio, on_readable, c->fd, EV_READ);
	ev_io_init(&c->wio, on_writable, c->fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(D.loop, &c->rio);
	if (c->kind == CHILD_WORKER)
		D.n.worker_starts++;
	pidstr(p, pid, sizeof(pid));
	log_debug("child started", "child", child_name(c), "pid", pid,
	    "pool", c->pool ? c->pool->pc->name : "");
}

/* ---- Pools ----------------------------------------------------------- */

struct pool *
pool_new(struct pool_config *pc, struct codeq_config *owner)
{
	struct pool *p;
	int i;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->children = calloc((size_t)pc->processes, sizeof(struct child))) == NULL) {
		free(p);
		return NULL;
	}
	p->pc = pc;
	p->owner = owner;
	p->nchildren = pc->processes;
	for (i = 0; i < p->nchildren; i++) {
		p->children[i].kind = CHILD_WORKER;
		p->children[i].pool = p;
		p->children[i].slot = i;
		p->children[i].fd = -1;
		p->children[i].outq_tail = &p->children[i].outq;
	}
	return p;
}

/*
 * The pool's backoff applies to its queues: nack, fail and the reaper
 * read it from the store (codeq:{Q}:conf).  Written when the pool
 * starts; while the store is unreachable, retried every tick
 * (pools_store_backoff) until it is written.
 */
static void
pool_store_backoff(struct pool *p)
{
	codeq_backoff b;
	codeq_error err;
	codeq_t *s;
	size_t i;
	int rc;

	if ((s = dstore_get()) == NULL)
		return;
	b.base_ms = p->pc->backoff_base_ms;
	b.max_ms = p->pc->backoff_max_ms;
	b.jitter_pct = p->pc->backoff_jitter_pct;
	for (i = 0; i < p->pc->nqueues; i++) {
		rc = codeq_queue_set_backoff(s, p->pc->queues[i], &b, &err);
		if (!dstore_ok(rc, &err))
			return;
		if (rc != CODEQ_OK)
			log_warning("cannot store the pool's backoff", "pool",
			    p->pc->name, "queue", p->pc->queues[i], "error", err.msg);
	}
	p->backoff_stored = 1;
}

void
pools_store_backoff(void)
{
	struct pool *p;

	for (p = D.pools; p != NULL; p = p->next)
		if (!p->backoff_stored && !p->retiring)
			pool_store_backoff(p);
}

void
pool_start(struct pool *p)
{
	int k;

	pool_store_backoff(p);
	for (k = 0; k < p->nchildren; k++)
		child_spawn(&p->children[k]);
	log_info("pool started", "pool", p->pc->name,
	    "handler", p->pc->kind == HANDLER_SO ? p->pc->so_path :
	    p->pc->command ? p->pc->command : p->pc->argv[0]);
}

int
pools_create(struct codeq_config *cfg)
{
	struct pool *p, **tail = &D.pools;
	size_t i;

	for (i = 0; i < cfg->npools; i++) {
		if ((p = pool_new(&cfg->pools[i], cfg)) == NULL)
			return -1;
		*tail = p;
		tail = &p->next;
	}
	return 0;
}

void
pool_retire(struct pool *p)
{
	int i;

	p->retiring = 1;
	for (i = 0; i < p->nchildren; i++)
		child_stop(&p->children[i], 0);
}

/* Frees retiring pools whose children are all gone, and configurations
 * no pool uses any more. */
void
pools_gc(void)
{
	struct pool **pp = &D.pools, *p;
	size_t i, j;
	int k, busy, used;

	while ((p = *pp) != NULL) {
		busy = 0;
		for (k = 0; k < p->nchildren; k++)
			if (p->children[k].fd >= 0)
				busy = 1;
		if (p->retiring && !busy) {
			log_info("pool stopped", "pool", p->pc->name);
			*pp = p->next;
			free(p->children);
			free(p);
			continue;
		}
		pp = &p->next;
	}
	for (i = 0; i < D.noldcfgs; ) {
		used = 0;
		for (p = D.pools; p != NULL; p = p->next)
			if (p->owner == D.oldcfgs[i])
				used = 1;
		if (used) {
			i++;
			continue;
		}
		config_free(D.oldcfgs[i]);
		free(D.oldcfgs[i]);
		for (j = i + 1; j < D.noldcfgs; j++)
			D.oldcfgs[j - 1] = D.oldcfgs[j];
		D.noldcfgs--;
	}
}

/* Every pool up, or reported as crash-looping (READY=1 is then sent with
 * a STATUS= that says so, rather than never). */
int
pools_ready(void)
{
	struct pool *p;
	struct child *c;
	int i;

	FOREACH_WORKER(p, c, i)
		if (!p->retiring && !p->crashloop && c->state != CS_RUNNING)
			return 0;
	return 1;
}

void
aux_setup(void)
{
	int k;

	for (k = 0; k < 2; k++) {
		memset(&D.aux[k], 0, sizeof(D.aux[k]));
		D.aux[k].kind = k == 0 ? CHILD_NOTIFIER : CHILD_CALLBACKS;
		D.aux[k].fd = -1;
		D.aux[k].outq_tail = &D.aux[k].outq;
	}
	aux_setup_enabled();
}

/* The notifier and callbacks run when enabled. */
void
aux_setup_enabled(void)
{
	D.aux_enabled[0] = D.cfg->notifier.enabled;
	D.aux_enabled[1] = D.cfg->callbacks.enabled;
	if (D.aux_enabled[0] && D.aux[0].fd < 0)
		D.aux[0].state = CS_DOWN;
	if (D.aux_enabled[1] && D.aux[1].fd < 0)
		D.aux[1].state = CS_DOWN;
}

/* ---- Stopping -------------------------------------------------------- */

void
child_stop(struct child *c, int abort)
{
	struct ipc_msg m;

	if (c->fd < 0) {
		c->state = CS_STOPPING;	/* a pending restart is cancelled */
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = abort ? IPC_ABORT : IPC_SHUTDOWN;
	child_send(c, &m);
	c->state = CS_STOPPING;
	if (abort && c->kill_at == 0)
		c->kill_at = ev_now(D.loop) + HOLD_KILL_GRACE_S;
}

void
child_kill(struct child *c, enum kill_reason why)
{
	if (c->pid <= 0 || c->fd < 0)
		return;
	c->killed = why;
	handler_group_kill(&c->handler);
	kill(c->pid, SIGKILL);
	if (why != KILLED_LEASE_LOST)
		D.n.handler_kills++;
}

int
all_children_down(void)
{
	struct pool *p;
	struct child *c;
	int i;

	FOREACH_WORKER(p, c, i)
		if (c->fd >= 0)
			return 0;
	return D.aux[0].fd < 0 && D.aux[1].fd < 0;
}

/* ---- Exits ----------------------------------------------------------- */

static struct child *
child_by_pid(pid_t pid)
{
	struct pool *p;
	struct child *c;
	int i;

	FOREACH_WORKER(p, c, i)
		if (c->pid == pid && c->fd >= 0)
			return c;
	for (i = 0; i < 2; i++)
		if (D.aux[i].pid == pid && D.aux[i].fd >= 0)
			return &D.aux[i];
	return NULL;
}

static void
schedule_restart(struct child *c, int crashed)
{
	struct pool *p = c->pool;
	ev_tstamp now = ev_now(D.loop), delay;
	int64_t max_ms = D.cfg->daemon.restart_backoff_max_ms;
	char streak[16], d[32];

	if (!crashed) {
		c->restart_at = now;
		return;
	}
	if (p == NULL) {
		/* notifier / callbacks: their own simple backoff */
		c->restart_at = now + (now - c->started < 5. ? 2. : 0.1);
		return;
	}
	if (now - p->last_crash > CRASH_FORGET_S)
		p->crash_streak = 0;
	p->last_crash = now;
	p->crash_streak++;
	delay = backoff_ms(p->crash_streak, 100, max_ms) / 1000.;
	c->restart_at = now + delay;
	if (p->crash_streak >= CRASHLOOP_STREAK) {
		snprintf(streak, sizeof(streak), "%d", p->crash_streak);
		snprintf(d, sizeof(d), "%.1fs", delay);
		if (!p->crashloop)
			log_error("pool is crash-looping: restarts slowed down",
			    "pool", p->pc->name, "crashes", streak, "restart_in", d);
		p->crashloop = 1;
	}
}

static void
child_exited(struct child *c, int status)
{
	char why[96], pid[16];
	int crashed, expected = c->state == CS_STOPPING;

	child_read(c);		/* a DONE may still be waiting */
	ev_io_stop(D.loop, &c->rio);
	ev_io_stop(D.loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	outq_free(c);
	handler_group_kill(&c->handler);	/* orphans of a dead worker */
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "worker exited on signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof(why), "worker exited with status %d",
		    WEXITSTATUS(status));
	crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0 && expected);
	pidstr(c->pid, pid, sizeof(pid));
	log_kv(crashed && !expected ? LOG_L_WARNING : LOG_L_INFO,
	    crashed && !expected ? "child died" : "child exited",
	    "child", child_name(c), "pid", pid,
	    "pool", c->pool ? c->pool->pc->name : "", "status", why + 7,
	    (char *)NULL);
	/* A worker that died cost its task an attempt; one the dispatcher
	 * stopped (shutdown, or a restart for a lease lost: what it still
	 * holds never started) gives its tasks back with the attempt
	 * refunded, so a restart dead-letters nothing.  One that did not
	 * exit cleanly may also hold a batch it never reported. */
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		lease_recover_claims(c);
	if (c->nleases > 0) {
		if (c->killed == KILLED_TIMEOUT) {
			snprintf(why, sizeof(why), "handler timed out after %lld ms "
			    "(worker killed)", (long long)c->pool->pc->timeout_ms);
			lease_give_back(c, why, GB_RETRY_BACKOFF);
		}
		else if (c->killed == KILLED_SHUTDOWN)
			lease_give_back(c, "given back at shutdown: worker "
			    "killed after shutdown_timeout", GB_RELEASE);
		else if (c->killed == KILLED_LEASE_LOST)
			lease_give_back(c, "given back: worker restarted, its "
			    "running task's lease was lost", GB_RELEASE);
		else
			lease_give_back(c, why, GB_RETRY_NOW);
	}
	counters_retire(c);
	cqm_child_gone(c->pid);
	c->nleases = 0;
	memset(&c->handler, 0, sizeof(c->handler));
	c->idle = 0;
	c->pid = 0;
	if (c->kind == CHILD_WORKER && crashed && !expected)
		D.n.worker_crashes++;
	if (c->kind != CHILD_WORKER) {
		/* Stopped for a reload, or died: back unless stopping. */
		c->state = CS_DOWN;
		if (D.draining || !D.aux_enabled[c->kind == CHILD_CALLBACKS])
			c->state = CS_STOPPING;
		else
			schedule_restart(c, crashed && !expected);
		drain_check();
		return;
	}
	if (expected || D.draining || (c->pool != NULL && c->pool->retiring)) {
		c->state = CS_STOPPING;
		pools_gc();
		drain_check();
		return;
	}
	c->state = CS_DOWN;
	cqm_worker_restart(c->pool->pc->name, WIFSIGNALED(status) ? "signal" :
	    WEXITSTATUS(status) != 0 ? "exit" : "clean");
	/* A worker killed for a handler timeout did not crash: restarted
	 * at once, not counted towards crash-looping. */
	schedule_restart(c, crashed && c->killed == KILLED_NONE);
}

void
on_child_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct child *c;

	if ((c = child_by_pid(w->rpid)) == NULL)
		return;		/* e.g. a child of a pool already freed */
	child_exited(c, w->rstatus);
}

/* Restarts children whose delay has passed (called from the tick). */
void
supervise_restarts(ev_tstamp now)
{
	struct pool *p;
	struct child *c;
	int i;

	if (D.draining)
		return;
	FOREACH_WORKER(p, c, i) {
		if (c->state == CS_DOWN && c->fd < 0 && !p->retiring &&
		    now >= c->restart_at)
			child_spawn(c);
		if (p->crashloop && now - p->last_crash > CRASH_FORGET_S) {
			p->crashloop = 0;
			p->crash_streak = 0;
			log_info("pool recovered from crash-looping", "pool", p->pc->name);
		}
	}
	for (i = 0; i < 2; i++) {
		c = &D.aux[i];
		if (D.aux_enabled[i] && c->state == CS_DOWN && c->fd < 0 &&
		    now >= c->restart_at)
			child_spawn(c);
	}
}

/*
 * Handler deadlines.  An exec worker stops its own handler at the
 * deadline; a .so handler cannot be stopped in-process, so the
 * dispatcher kills its worker a moment after the deadline and fails the
 * task (retry with backoff).  Exec workers get a longer grace: their own
 * timeout normally wins.  Also: SIGKILL for children that did not obey
 * ABORT in time.
 */
void
supervise_deadlines(ev_tstamp now)
{
	struct pool *p;
	struct child *c;
	int64_t wall = (int64_t)(ev_time() * 1000), grace;
	size_t k;
	int i;

	FOREACH_WORKER(p, c, i) {
		if (c->fd < 0)
			continue;
		if (c->kill_at > 0 && now >= c->kill_at) {
			child_kill(c, KILLED_SHUTDOWN);
			c->kill_at = 0;
			continue;
		}
		grace = p->pc->kind == HANDLER_SO ? 1000 : 10000;
		for (k = 0; k < c->nleases; k++) {
			if (c->leases[k].deadline_ms > 0 &&
			    wall > c->leases[k].deadline_ms + grace &&
			    c->killed == KILLED_NONE) {
				log_warning("handler over its timeout: killing the worker",
				    "pool", p->pc->name, "task", c->leases[k].id);
				child_kill(c, KILLED_TIMEOUT);
				break;
			}
		}
	}
	for (i = 0; i < 2; i++)
		if (D.aux[i].fd >= 0 && D.aux[i].kill_at > 0 && now >= D.aux[i].kill_at) {
			kill(D.aux[i].pid, SIGKILL);
			D.aux[i].kill_at = 0;
		}
}
