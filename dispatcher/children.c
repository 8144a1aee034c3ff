/*
 * children.c - the table of codeqd's children: every child of every role
 * (roles.c) in one array, forked by one spawn path, read, written,
 * stopped, reaped and restarted the same way.
 *
 * Each child gets one SEQPACKET socketpair.  A child that exits is reaped
 * by the loop's ev_child watcher: its last messages are read first (a DONE
 * may be waiting), then its role hears of the exit (a worker's tasks are
 * given back at once), and it is restarted after a delay that doubles
 * with each crash in a row of its crash book (crashloop.c; its pool's for
 * a worker), capped by restart_backoff_max.  A book whose children keep
 * crashing is reported as crash-looping in the log and in STATUS=
 * instead of being restarted in a tight loop.
 *
 * A forked child executes its role's program (codeq-worker,
 * codeq-webhooks) with the configuration snapshot (snapshot.c).  When it
 * cannot, it exits with CHILD_EXIT_NOEXEC and is restarted as after any
 * crash; its exit is logged as such.
 */
#include "config.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"

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

/* READY and COUNTERS are every role's; the rest its own. */
static void
handle_msg(struct child *c, const struct ipc_msg *m)
{
	size_t i;

	switch (m->type) {
	case IPC_READY:
		if (c->state == CS_STARTING)
			c->state = CS_RUNNING;
		log_debug("child ready", "child", c->role->name,
		    "pool", c->pool ? c->pool->pc->name : "");
		return;
	case IPC_COUNTERS:	/* codeq_metrics' table (child.h) */
		for (i = 0; i < m->u.counters.n; i++)
			cqm_fold(c->pid, c->role->name, c->pool ? c->pool->pc : NULL,
			    m->u.counters.c[i].name, m->u.counters.c[i].value);
		return;
	default:
		break;
	}
	if (c->role->on_msg != NULL)
		c->role->on_msg(c, m);
	else
		log_warning("unexpected message from a child", "child",
		    c->role->name, "type", ipc_type_name(m->type));
}

/* Reads every message waiting on a child's socket. */
void
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
			    "child", c->role->name, "pid", pid, "error", err);
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
 * is not this child's own socket or the configuration snapshot. */
static void
child_detach(int keep)
{
	int fd, max;

	ev_signal_stop(D.loop, &D.sigterm);
	ev_signal_stop(D.loop, &D.sigint);
	ev_signal_stop(D.loop, &D.sighup);
	ev_child_stop(D.loop, &D.childw);
	ev_loop_destroy(D.loop);	/* no watcher of ours survives the exec */
#ifdef SYS_close_range
	if (close_all_but(keep, D.snap_fd) == 0)
		return;
#endif
	max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++)
		if (fd != keep && fd != D.snap_fd)
			close(fd);
}

/* prog beside this executable (the build tree); else in pkglibexecdir,
 * under the same root as this executable when it runs from a staged
 * install (DESTDIR: .../ROOT$(sbindir)/codeqd); else in pkglibexecdir. */
int
child_program_path(const char *prog, char *buf, size_t len)
{
	char self[PATH_MAX], *slash;
	size_t n, sl = strlen(SBINDIR);
	ssize_t k;

	if ((k = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[k] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/%s", self, prog) < (int)len &&
			    access(buf, X_OK) == 0)
				return 0;
			n = strlen(self);
			if (n > sl && strcmp(self + n - sl, SBINDIR) == 0 &&
			    snprintf(buf, len, "%.*s%s/%s", (int)(n - sl), self,
			    PKGLIBEXECDIR, prog) < (int)len && access(buf, X_OK) == 0)
				return 0;
		}
	}
	if (snprintf(buf, len, "%s/%s", PKGLIBEXECDIR, prog) < (int)len &&
	    access(buf, X_OK) == 0)
		return 0;
	return -1;
}

/* The forked child: executes its role's program, or exits saying why. */
static void
child_exec(const struct child *c, int fd, const char *path,
    struct child_argv *a)
{
	child_detach(fd);
	/* The two descriptors the program reads cross the exec. */
	if (fcntl(fd, F_SETFD, 0) < 0 ||
	    (D.snap_fd >= 0 && fcntl(D.snap_fd, F_SETFD, 0) < 0))
		_exit(CHILD_EXIT_NOEXEC);
	execv(path, a->v);
	log_error("cannot execute the child's program", "child",
	    c->role->name, "path", path, "error", strerror(errno));
	_exit(CHILD_EXIT_NOEXEC);
}

/* The state of a child that just started as pid on fd. */
static void
child_started(struct child *c, pid_t pid, int fd)
{
	c->pid = pid;
	c->fd = fd;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->state = CS_STARTING;
	c->idle = 0;
	c->nleases = 0;
	memset(&c->handler, 0, sizeof(c->handler));
	c->killed = KILLED_NONE;
	c->kill_at = 0;
	c->started = ev_now(D.loop);
	c->outq = NULL;
	c->outq_tail = &c->outq;
	ev_io_init(&c->rio, on_readable, c->fd, EV_READ);
	ev_io_init(&c->wio, on_writable, c->fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(D.loop, &c->rio);
}

/* The one spawn path: socketpair, argv, fork, exec.  A failure before
 * the fork retries in a second. */
void
child_spawn(struct child *c)
{
	char path[PATH_MAX], pid[16];
	struct child_argv a;
	int fds[2];
	pid_t p;

	if (child_program_path(c->role->program, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s/%s", PKGLIBEXECDIR,
		    c->role->program);	/* the child's exec says why not */
	if (ipc_pair(fds) != IPC_OK) {
		log_error("socketpair failed", "error", strerror(errno));
		c->restart_at = ev_now(D.loop) + 1.;
		return;
	}
	if (c->role->argv(c, fds[1], D.snap_fd, &a) < 0) {
		log_error("cannot build a child's arguments", "child",
		    c->role->name);
		goto fail;
	}
	fflush(stderr);
	if ((p = fork()) < 0) {
		log_error("fork failed", "error", strerror(errno));
		goto fail;
	}
	if (p == 0)
		child_exec(c, fds[1], path, &a);
	close(fds[1]);
	child_started(c, p, fds[0]);
	pidstr(p, pid, sizeof(pid));
	log_debug("child started", "child", c->role->name, "pid", pid,
	    "pool", c->pool ? c->pool->pc->name : "");
	return;
fail:
	close(fds[0]);
	close(fds[1]);
	c->restart_at = ev_now(D.loop) + 1.;
}

/* ---- The table ------------------------------------------------------- */

void
child_init(struct child *c, enum role_id role, struct pool *p, int slot)
{
	memset(c, 0, sizeof(*c));
	c->role = &roles[role];
	c->pool = p;
	c->book = p != NULL ? &p->book : &c->own;
	c->slot = slot;
	c->fd = -1;
	c->wanted = 1;
	c->outq_tail = &c->outq;
}

int
children_add(struct child *c)
{
	struct child **v;
	size_t cap;

	if (D.nchildren == D.capchildren) {
		cap = D.capchildren ? D.capchildren * 2 : 16;
		if ((v = realloc(D.children, cap * sizeof(*v))) == NULL)
			return -1;
		D.children = v;
		D.capchildren = cap;
	}
	D.children[D.nchildren++] = c;
	return 0;
}

void
children_remove(struct child *c)
{
	size_t i;

	for (i = 0; i < D.nchildren; i++)
		if (D.children[i] == c) {
			memmove(&D.children[i], &D.children[i + 1],
			    (D.nchildren - i - 1) * sizeof(D.children[0]));
			D.nchildren--;
			return;
		}
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
	if (why != KILLED_LEASE_LOST && c->pool != NULL)
		cqm_total(CQM_HANDLER_KILLS, 1);
}

/* SHUTDOWN (or with abort, ABORT) to every child still running; none
 * that is down is restarted. */
void
children_stop_all(int abort)
{
	struct child *c;
	size_t i;

	FOREACH_CHILD(c, i)
		if (c->fd >= 0 && (abort || c->state != CS_STOPPING))
			child_stop(c, abort);
		else if (c->fd < 0)
			c->state = CS_STOPPING;
}

int
all_children_down(void)
{
	struct child *c;
	size_t i;

	FOREACH_CHILD(c, i)
		if (c->fd >= 0)
			return 0;
	return 1;
}

/* ---- Exits ----------------------------------------------------------- */

static struct child *
child_by_pid(pid_t pid)
{
	struct child *c;
	size_t i;

	FOREACH_CHILD(c, i)
		if (c->pid == pid && c->fd >= 0)
			return c;
	return NULL;
}

/* Down, to be restarted: at once after a clean exit or a kill that was
 * not its fault, after its crash book's backoff after a crash. */
static void
schedule_restart(struct child *c, int crashed)
{
	ev_tstamp now = ev_now(D.loop), delay;
	char streak[16], d[32];
	int began;

	c->state = CS_DOWN;
	if (!crashed) {
		c->restart_at = now;
		return;
	}
	delay = crash_note(c->book, now, c->role->restart_min_ms,
	    D.cfg->daemon.restart_backoff_max_ms, &began);
	c->restart_at = now + delay;
	if (!began)
		return;
	snprintf(streak, sizeof(streak), "%d", c->book->streak);
	snprintf(d, sizeof(d), "%.1fs", delay);
	if (c->pool != NULL)
		log_error("pool is crash-looping: restarts slowed down",
		    "pool", c->pool->pc->name, "crashes", streak, "restart_in", d);
	else
		log_error("child is crash-looping: restarts slowed down",
		    "child", c->role->name, "crashes", streak, "restart_in", d);
}

/* The exit's log line; "worker exited on signal 9" into why (the reason
 * a worker's tasks are given back with). */
static void
exit_logged(const struct child *c, int status, int expected, char *why,
    size_t len)
{
	int bad = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char pid[16];

	if (WIFSIGNALED(status))
		snprintf(why, len, "worker exited on signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "worker exited with status %d",
		    WEXITSTATUS(status));
	pidstr(c->pid, pid, sizeof(pid));
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_EXIT_NOEXEC)
		log_error("child could not execute its program: restarted "
		    "with backoff", "child", c->role->name, "pid", pid,
		    "program", c->role->program);
	log_kv(bad && !expected ? LOG_L_WARNING : LOG_L_INFO,
	    bad && !expected ? "child died" : "child exited",
	    "child", c->role->name, "pid", pid,
	    "pool", c->pool ? c->pool->pc->name : "", "status", why + 7,
	    (char *)NULL);
}

static void
child_exited(struct child *c, int status)
{
	char why[96];
	int crashed, expected = c->state == CS_STOPPING;

	child_read(c);		/* a DONE may still be waiting */
	ev_io_stop(D.loop, &c->rio);
	ev_io_stop(D.loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	outq_free(c);
	exit_logged(c, status, expected, why, sizeof(why));
	crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0 && expected);
	if (c->role->on_exit != NULL)
		c->role->on_exit(c, status, expected);
	cqm_child_gone(c->pid);
	c->nleases = 0;
	memset(&c->handler, 0, sizeof(c->handler));
	c->idle = 0;
	c->pid = 0;
	if (D.draining || !c->wanted) {
		c->state = CS_STOPPING;
		if (c->role->on_gone != NULL)
			c->role->on_gone(c);	/* may free c */
		return;
	}
	/* A child stopped to be restarted (a reload), or killed for a
	 * handler timeout or a lost lease, did not crash. */
	schedule_restart(c, crashed && !expected && c->killed == KILLED_NONE);
}

void
on_child_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct child *c;

	if ((c = child_by_pid(w->rpid)) == NULL)
		return;		/* e.g. a child of a pool already freed */
	child_exited(c, w->rstatus);
}

/* Restarts children whose delay has passed; ends crash loops that
 * stopped (called from the tick). */
void
children_restart_due(ev_tstamp now)
{
	struct child *c;
	size_t i;

	if (D.draining)
		return;
	FOREACH_CHILD(c, i) {
		if (c->state == CS_DOWN && c->fd < 0 && c->wanted &&
		    now >= c->restart_at)
			child_spawn(c);
		if (!crash_forgotten(c->book, now))
			continue;
		if (c->pool != NULL)
			log_info("pool recovered from crash-looping", "pool",
			    c->pool->pc->name);
		else
			log_info("child recovered from crash-looping", "child",
			    c->role->name);
	}
}

/* SIGKILL for children that did not obey ABORT in time. */
void
children_kill_due(ev_tstamp now)
{
	struct child *c;
	size_t i;

	FOREACH_CHILD(c, i)
		if (c->fd >= 0 && c->kill_at > 0 && now >= c->kill_at) {
			child_kill(c, KILLED_SHUTDOWN);
			c->kill_at = 0;
		}
}
