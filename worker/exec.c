/*
 * exec.c - the exec handler: one process group per task.
 *
 * The command runs in its own process group so that a timeout, an abort,
 * a lost lease or the end of the task can kill everything it started.  The payload is
 * written to its stdin, the task's metadata is in CODEQ_* environment
 * variables, stdout (at most max_output bytes) is the result and the last
 * STDERR_TAIL bytes of stderr become the error text.  The exit status maps
 * to a verdict as codeq-handler(7) documents.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "fds.h"
#include "handler.h"
#include "ipc.h"
#include "log.h"

#define STDERR_TAIL	4096
#define KILL_GRACE_MS	2000	/* SIGTERM, then SIGKILL after this */
#define POLL_TICK_MS	250	/* re-check the leader while pipes stay open */
#define REAP_TICK_MS	5	/* ... and once they closed, without a pidfd */

struct capture {
	char *out;
	size_t outlen, outcap;
	int oversize;
	char tail[STDERR_TAIL];
	size_t tailpos, taillen;
};

/*
 * Handlers are started with vfork(): the child borrows the worker's
 * memory until it calls execve(), so starting a handler copies none of
 * the worker's page tables (with fork(), dup_mmap/copy_page_range and the
 * unmapping at exec were most of an exec task's CPU time).  In exchange
 * the child may only make system calls: the parent prepares everything
 * (program path, argv, environment) in a spawn_plan beforehand, and the
 * child reports a failed exec through exec_errno (memory it shares).
 */
struct spawn_plan {
	const char *path;		/* resolved program */
	char *const *argv;
	char **envp;
	char *envbuf;			/* the CODEQ_* strings */
	int in, out, err;
	volatile int exec_errno;
};

extern char **environ;

static const char *const env_names[] = {
	"CODEQ_TASK_ID=", "CODEQ_QUEUE=", "CODEQ_POOL=", "CODEQ_ATTEMPT=",
	"CODEQ_MAX_ATTEMPTS=", "CODEQ_PRIORITY=", "CODEQ_DEADLINE=",
};
#define NENV (sizeof(env_names) / sizeof(env_names[0]))

/* The worker's environment without CODEQ_* task variables of its own,
 * plus the task's.  0, or -1 (out of memory). */
static int
plan_env(struct spawn_plan *sp, const struct pool_config *pool,
    const codeq_task *t, int64_t deadline_ms)
{
	size_t n = 0, k = 0, i, j, len;
	char *p;

	while (environ != NULL && environ[n] != NULL)
		n++;
	len = strlen(t->id) + strlen(t->queue) + strlen(pool->name) + 256;
	if ((sp->envp = calloc(n + NENV + 1, sizeof(*sp->envp))) == NULL ||
	    (sp->envbuf = malloc(len)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < NENV; j++)
			if (strncmp(environ[i], env_names[j],
			    strlen(env_names[j])) == 0)
				break;
		if (j == NENV)
			sp->envp[k++] = environ[i];
	}
	p = sp->envbuf;
#define ADD(fmt, ...) do { \
	sp->envp[k++] = p; \
	p += snprintf(p, len - (size_t)(p - sp->envbuf), fmt, __VA_ARGS__) + 1; \
} while (0)
	ADD("CODEQ_TASK_ID=%s", t->id);
	ADD("CODEQ_QUEUE=%s", t->queue);
	ADD("CODEQ_POOL=%s", pool->name);
	ADD("CODEQ_ATTEMPT=%d", t->attempts);
	ADD("CODEQ_MAX_ATTEMPTS=%d", t->max_attempts);
	ADD("CODEQ_PRIORITY=%d", t->priority);
	ADD("CODEQ_DEADLINE=%" PRId64, deadline_ms);
#undef ADD
	sp->envp[k] = NULL;
	return 0;
}

/* execvp's PATH search, done before vfork() (it needs a buffer). */
static const char *
plan_path(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;
	size_t n;

	if (strchr(name, '/') != NULL)
		return name;
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (snprintf(buf, len, "%.*s%s%s", (int)n, p, n ? "/" : "",
		    name) < (int)len && access(buf, X_OK) == 0)
			return buf;
	}
	return name;	/* execve fails with ENOENT, reported by the child */
}

/* In the vfork()ed child: system calls only; never returns. */
static void
child_exec(struct spawn_plan *sp)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	setpgid(0, 0);
#ifdef __linux__
	/* If the worker dies, the leader dies too; the dispatcher kills
	 * the rest of the group (it was told the pgid). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	if (dup2(sp->in, 0) < 0 || dup2(sp->out, 1) < 0 ||
	    dup2(sp->err, 2) < 0) {
		sp->exec_errno = errno;
		_exit(127);
	}
	/* The handler holds nothing of the worker's (fds.c). */
	fds_close_from(3);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(sp->path, sp->argv, sp->envp);
	sp->exec_errno = errno;
	_exit(127);
}

/* vfork() with every signal blocked, so that no handler of the worker
 * runs in the child while it shares our memory; returns in the parent. */
static pid_t
spawn(struct spawn_plan *sp)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		child_exec(sp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

static void
capture_out(struct capture *c, const char *p, size_t n, size_t max)
{
	size_t room;

	if (c->oversize)
		return;
	if (n > max - c->outlen) {
		c->oversize = 1;
		return;
	}
	if (c->outlen + n + 1 > c->outcap) {
		room = c->outcap ? c->outcap : 4096;
		while (room < c->outlen + n + 1)
			room *= 2;
		if ((c->out = realloc(c->out, room)) == NULL) {
			c->oversize = 1;	/* treated like a too-big result */
			c->outlen = c->outcap = 0;
			return;
		}
		c->outcap = room;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
	c->out[c->outlen] = '\0';
}

static void
capture_err(struct capture *c, const char *p, size_t n)
{
	while (n-- > 0) {
		c->tail[c->tailpos] = *p++;
		c->tailpos = (c->tailpos + 1) % STDERR_TAIL;
		if (c->taillen < STDERR_TAIL)
			c->taillen++;
	}
}

/* The stderr tail in order, trimmed, NUL-terminated (static buffer). */
static const char *
err_tail(const struct capture *c)
{
	static char s[STDERR_TAIL + 1];
	size_t start = (c->tailpos + STDERR_TAIL - c->taillen) % STDERR_TAIL;
	size_t i, n = c->taillen;

	for (i = 0; i < n; i++)
		s[i] = c->tail[(start + i) % STDERR_TAIL];
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	s[n] = '\0';
	for (i = 0; i < n; i++)		/* one line in logs and stores */
		if (s[i] == '\0')
			s[i] = ' ';
	return s;
}

/* Reads what is there; returns 0 at EOF, 1 otherwise. */
static int
drain(int fd, struct capture *c, int is_out, size_t max)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			if (is_out)
				capture_out(c, buf, (size_t)n, max);
			else
				capture_err(c, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 1 : 0;
	}
}

/* Handles the messages from the dispatcher while the handler runs. */
static void
exec_ipc(struct exec_ctx *ctx, const codeq_task *t)
{
	struct ipc_msg m;

	while (child_link_recv(ctx->link, &m) == IPC_OK) {
		switch (m.type) {
		case IPC_ABORT:
		case IPC_SHUTDOWN:
			break;		/* noted in ctx->link */
		case IPC_LEASE_LOST:
			/* The token tells this claim from an earlier one of
			 * the same task (a nack, then a claim again). */
			if (strcmp(m.u.lease_lost.id, t->id) == 0 &&
			    t->lease_token != NULL &&
			    strcmp(m.u.lease_lost.token, t->lease_token) == 0) {
				log_warning("lease lost: stopping the handler, "
				    "its result is abandoned", "task", t->id);
				ctx->lease_lost = 1;
				break;
			}
			/* FALLTHROUGH */
		default:
			if (ctx->on_msg != NULL)
				ctx->on_msg(ctx->arg, &m);
			break;
		}
	}
}

static void
verdict(const struct pool_config *pool, int status, int timed_out,
    int aborted, int lease_lost, struct capture *c, struct run_result *r)
{
	const char *tail = err_tail(c);
	const char *sep = *tail ? ": " : "";
	int code;

	r->timed_out = timed_out;
	r->retry_after_ms = -1;
	if (lease_lost) {
		run_result_set(r, RUN_LEASE_LOST,
		    "handler stopped: lease lost to another worker");
		return;
	}
	if (aborted) {
		run_result_set(r, RUN_ABORTED,
		    "given back at shutdown: handler stopped");
		return;
	}
	if (timed_out) {
		run_result_set(r, RUN_FAIL, "handler timed out after %" PRId64 " ms%s%s",
		    pool->timeout_ms, sep, tail);
		return;
	}
	if (c->oversize) {
		run_result_set(r, RUN_FAIL_PERMANENT,
		    "handler output exceeded max_output (%zu bytes)", pool->max_output);
		return;
	}
	if (WIFSIGNALED(status)) {
		run_result_set(r, RUN_FAIL, "handler killed by signal %d%s%s",
		    WTERMSIG(status), sep, tail);
		return;
	}
	code = WEXITSTATUS(status);
	switch (code) {
	case HANDLER_EXIT_OK:
		r->verdict = RUN_OK;
		r->result = result_normalize(c->out ? c->out : "", c->outlen);
		if (r->result == NULL)
			run_result_set(r, RUN_FAIL, "out of memory storing the result");
		return;
	case HANDLER_EXIT_RETRY:
		run_result_set(r, RUN_RETRY, "handler asked to retry later (exit 75)%s%s",
		    sep, tail);
		return;
	case HANDLER_EXIT_PERMANENT:
		run_result_set(r, RUN_FAIL_PERMANENT,
		    "handler failed permanently (exit 65)%s%s", sep, tail);
		return;
	default:
		run_result_set(r, RUN_FAIL, "handler exit status %d%s%s", code, sep, tail);
		return;
	}
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* One running handler. */
struct run {
	pid_t pid;			/* leader = process group id */
	int in, out, err;		/* our ends of its stdin/stdout/stderr */
	int pidfd;			/* readable when the leader exits, or -1 */
	const char *payload;
	size_t plen, poff;
	int64_t deadline, kill_at, exited_at;
	int status, exited, timed_out, aborting;
	struct capture cap;
};

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Starts the handler with its three pipes; tells the dispatcher its
 * process group.  0, or -1 with r's verdict set. */
static int
run_spawn(struct exec_ctx *ctx, const codeq_task *t, int64_t deadline_ms,
    struct run *x, struct run_result *r)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	char *shargv[4] = { "sh", "-c", NULL, NULL }, **argv = NULL;
	char path[PATH_MAX];
	struct spawn_plan sp;
	struct ipc_msg m;
	size_t i;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		run_result_set(r, RUN_FAIL, "pipe: %s", strerror(errno));
		goto fail;
	}
	memset(&sp, 0, sizeof(sp));
	sp.in = in[0];
	sp.out = out[1];
	sp.err = err[1];
	if (plan_env(&sp, ctx->pool, t, deadline_ms) < 0 ||
	    (ctx->pool->command == NULL && (argv = calloc(ctx->pool->argc + 1,
	    sizeof(*argv))) == NULL)) {
		run_result_set(r, RUN_FAIL, "out of memory starting the handler");
		free(sp.envp);
		free(sp.envbuf);
		goto fail;
	}
	if (ctx->pool->command != NULL) {
		shargv[2] = ctx->pool->command;
		sp.path = "/bin/sh";
		sp.argv = shargv;
	} else {
		for (i = 0; i < ctx->pool->argc; i++)
			argv[i] = ctx->pool->argv[i];
		sp.path = plan_path(argv[0], path, sizeof(path));
		sp.argv = argv;
	}
	x->pid = spawn(&sp);
	free(argv);
	free(sp.envp);
	free(sp.envbuf);
	if (x->pid < 0) {
		run_result_set(r, RUN_FAIL, "vfork: %s", strerror(errno));
		goto fail;
	}
	if (sp.exec_errno != 0) {
		/* What the child would have written on its stderr. */
		char msg[PATH_MAX + 64];
		int k = snprintf(msg, sizeof(msg), "codeq: exec %s: %s\n",
		    sp.path, strerror(sp.exec_errno));

		capture_err(&x->cap, msg, k > 0 ? (size_t)k : 0);
	}
	setpgid(x->pid, x->pid);	/* both sides: whichever runs first wins */
	close(in[0]); close(out[1]); close(err[1]);
	x->in = in[1]; x->out = out[0]; x->err = err[0];
#ifdef SYS_pidfd_open
	/* Wakes the poll when the leader exits, even while something else
	 * still holds its pipes (Linux 5.3+; else a short re-check). */
	x->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
#endif
	set_nonblock(x->in); set_nonblock(x->out); set_nonblock(x->err);
	if (x->plen == 0)
		close_fd(&x->in);

	memset(&m, 0, sizeof(m));
	m.type = IPC_HANDLER;
	snprintf(m.u.handler.id, sizeof(m.u.handler.id), "%s", t->id);
	m.u.handler.pgid = (uint64_t)x->pid;
	(void)child_link_send(ctx->link, &m);
	return 0;
fail:
	close_fd(&in[0]); close_fd(&in[1]); close_fd(&out[0]);
	close_fd(&out[1]); close_fd(&err[0]); close_fd(&err[1]);
	return -1;
}

/* Timeout, abort and oversize output: SIGTERM to the group, SIGKILL
 * after KILL_GRACE_MS (at once for oversize output). */
static void
run_escalate(struct exec_ctx *ctx, struct run *x, int64_t now)
{
	if (!x->exited && !x->timed_out && !x->aborting && now >= x->deadline) {
		x->timed_out = 1;
		kill(-x->pid, SIGTERM);
		x->kill_at = now + KILL_GRACE_MS;
	}
	/* ABORT, or a lost lease: the task is not this worker's any more. */
	if (!x->aborting && (ctx->link->aborted || ctx->lease_lost)) {
		x->aborting = 1;
		kill(-x->pid, SIGTERM);
		x->kill_at = now + KILL_GRACE_MS;
	}
	if (x->cap.oversize && x->kill_at == 0)
		x->kill_at = now;
	if (x->kill_at != 0 && now >= x->kill_at)
		kill(-x->pid, SIGKILL);
}

/* Waits for something to do (at most POLL_TICK_MS) and does it. */
static void
run_poll(struct exec_ctx *ctx, const codeq_task *t, struct run *x, int64_t now)
{
	struct pollfd pfd[5];
	int n = 0, i, wait = POLL_TICK_MS;
	ssize_t k;

	if (x->pidfd >= 0 && !x->exited)
		pfd[n++] = (struct pollfd){ x->pidfd, POLLIN, 0 };
	else if (x->pidfd < 0 && !x->exited && x->out < 0 && x->err < 0)
		wait = REAP_TICK_MS;	/* output closed: exit is near */

	if (x->in >= 0)
		pfd[n++] = (struct pollfd){ x->in, POLLOUT, 0 };
	if (x->out >= 0)
		pfd[n++] = (struct pollfd){ x->out, POLLIN, 0 };
	if (x->err >= 0)
		pfd[n++] = (struct pollfd){ x->err, POLLIN, 0 };
	pfd[n++] = (struct pollfd){ ctx->link->fd, POLLIN, 0 };
	if (!x->timed_out && !x->aborting && x->deadline - now < wait)
		wait = x->deadline - now > 0 ? (int)(x->deadline - now) : 0;
	if (poll(pfd, (nfds_t)n, wait) < 0)
		return;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0 || pfd[i].fd == x->pidfd)
			continue;	/* the pidfd: waitpid() follows */
		if (pfd[i].fd == x->in) {
			k = write(x->in, x->payload + x->poff, x->plen - x->poff);
			if (k > 0)
				x->poff += (size_t)k;
			if ((k < 0 && errno != EAGAIN && errno != EINTR) ||
			    x->poff == x->plen)
				close_fd(&x->in);	/* EPIPE: it does not read */
		} else if (pfd[i].fd == x->out) {
			if (!drain(x->out, &x->cap, 1, ctx->pool->max_output))
				close_fd(&x->out);
		} else if (pfd[i].fd == x->err) {
			if (!drain(x->err, &x->cap, 0, 0))
				close_fd(&x->err);
		} else if (pfd[i].fd == ctx->link->fd)
			exec_ipc(ctx, t);
	}
}

int
exec_run(struct exec_ctx *ctx, const codeq_task *t, int64_t deadline_ms,
    struct run_result *r)
{
	struct run x;
	int64_t now;

	memset(&x, 0, sizeof(x));
	memset(r, 0, sizeof(*r));
	x.in = x.out = x.err = x.pidfd = -1;
	x.payload = t->payload ? t->payload : "{}";
	x.plen = strlen(x.payload);
	if (run_spawn(ctx, t, deadline_ms, &x, r) < 0)
		return 0;
	x.deadline = clock_mono_ms() + ctx->pool->timeout_ms;
	while (!x.exited || x.out >= 0 || x.err >= 0) {
		now = clock_mono_ms();
		run_escalate(ctx, &x, now);
		if (x.exited && now - x.exited_at > KILL_GRACE_MS)
			break;	/* something left the group but holds a pipe */
		run_poll(ctx, t, &x, now);
		if (!x.exited && waitpid(x.pid, &x.status, WNOHANG) == x.pid) {
			x.exited = 1;
			x.exited_at = clock_mono_ms();
			/* The task is over: whatever it left running goes. */
			kill(-x.pid, SIGKILL);
			close_fd(&x.in);
		}
	}
	if (!x.exited) {
		kill(-x.pid, SIGKILL);
		while (waitpid(x.pid, &x.status, 0) < 0 && errno == EINTR)
			;
	}
	verdict(ctx->pool, x.status, x.timed_out, x.aborting && ctx->link->aborted,
	    ctx->lease_lost, &x.cap, r);
	close_fd(&x.in); close_fd(&x.out); close_fd(&x.err); close_fd(&x.pidfd);
	free(x.cap.out);
	return 0;
}
