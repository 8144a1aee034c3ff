/*
 * exec.c - the exec handler: one process group per task.
 *
 * The command runs in its own process group so that a timeout, an abort
 * or the end of the task can kill everything it started.  The payload is
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
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "ipc.h"
#include "log.h"

#define STDERR_TAIL	4096
#define KILL_GRACE_MS	2000	/* SIGTERM, then SIGKILL after this */
#define POLL_TICK_MS	250	/* re-check the leader while pipes stay open */

struct capture {
	char *out;
	size_t outlen, outcap;
	int oversize;
	char tail[STDERR_TAIL];
	size_t tailpos, taillen;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
child_exec(const struct pool_config *pool, const codeq_task *t,
    int64_t deadline_ms, int in, int out, int err)
{
	char buf[32];
	char **argv;
	size_t i;
	int sig;

	setpgid(0, 0);
#ifdef __linux__
	/* If the worker dies, the leader dies too; the dispatcher kills
	 * the rest of the group (it was told the pgid). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	{
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	setenv("CODEQ_TASK_ID", t->id, 1);
	setenv("CODEQ_QUEUE", t->queue, 1);
	setenv("CODEQ_POOL", pool->name, 1);
	snprintf(buf, sizeof(buf), "%d", t->attempts);
	setenv("CODEQ_ATTEMPT", buf, 1);
	snprintf(buf, sizeof(buf), "%d", t->max_attempts);
	setenv("CODEQ_MAX_ATTEMPTS", buf, 1);
	snprintf(buf, sizeof(buf), "%d", t->priority);
	setenv("CODEQ_PRIORITY", buf, 1);
	snprintf(buf, sizeof(buf), "%" PRId64, deadline_ms);
	setenv("CODEQ_DEADLINE", buf, 1);
	if (pool->command != NULL) {
		execl("/bin/sh", "sh", "-c", pool->command, (char *)NULL);
		dprintf(2, "codeq: exec /bin/sh: %s\n", strerror(errno));
		_exit(127);
	}
	if ((argv = calloc(pool->argc + 1, sizeof(*argv))) == NULL)
		_exit(127);
	for (i = 0; i < pool->argc; i++)
		argv[i] = pool->argv[i];
	execvp(argv[0], argv);
	dprintf(2, "codeq: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
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

/* Handles a message from the dispatcher while the handler runs. */
static void
exec_ipc(struct exec_ctx *ctx, const codeq_task *t)
{
	struct ipc_msg m;
	char err[128];
	int rc;

	while ((rc = ipc_recv(ctx->ipc_fd, &m, err, sizeof(err))) != IPC_EAGAIN) {
		if (rc == IPC_EOF || rc == IPC_ESYS) {
			ctx->aborted = 1;	/* the dispatcher is gone */
			return;
		}
		if (rc == IPC_EMALFORMED) {
			log_warning("malformed message from the dispatcher",
			    "error", err);
			continue;
		}
		switch (m.type) {
		case IPC_ABORT:
			ctx->aborted = 1;
			break;
		case IPC_SHUTDOWN:
			ctx->shutdown = 1;
			break;
		case IPC_LEASE_LOST:
			log_warning("lease taken over, result will be refused",
			    "task", t->id);
			break;
		default:
			break;
		}
	}
}

static void
verdict(const struct pool_config *pool, int status, int timed_out,
    int aborted, struct capture *c, struct run_result *r)
{
	const char *tail = err_tail(c);
	const char *sep = *tail ? ": " : "";
	int code;

	r->timed_out = timed_out;
	r->retry_after_ms = -1;
	if (aborted) {
		run_result_set(r, RUN_ABORTED, "handler stopped for shutdown");
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

int
exec_run(struct exec_ctx *ctx, const codeq_task *t, int64_t deadline_ms,
    struct run_result *r)
{
	const struct pool_config *pool = ctx->pool;
	struct capture cap;
	struct pollfd pfd[4];
	struct ipc_msg m;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	const char *payload = t->payload ? t->payload : "{}";
	size_t plen = strlen(payload), poff = 0;
	int64_t now, deadline, kill_at = 0, exited_at = 0;
	int status = 0, exited = 0, timed_out = 0, aborting = 0, n, i, wait;
	pid_t pid, w;
	ssize_t k;

	memset(&cap, 0, sizeof(cap));
	memset(r, 0, sizeof(*r));
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0) {
		run_result_set(r, RUN_FAIL, "pipe: %s", strerror(errno));
		goto done;
	}
	if ((pid = fork()) < 0) {
		run_result_set(r, RUN_FAIL, "fork: %s", strerror(errno));
		goto done;
	}
	if (pid == 0)
		child_exec(pool, t, deadline_ms, in[0], out[1], err[1]);
	setpgid(pid, pid);	/* both sides: whichever runs first wins */
	close(in[0]); close(out[1]); close(err[1]);
	in[0] = out[1] = err[1] = -1;
	set_nonblock(in[1]); set_nonblock(out[0]); set_nonblock(err[0]);

	memset(&m, 0, sizeof(m));
	m.type = IPC_HANDLER;
	snprintf(m.u.handler.id, sizeof(m.u.handler.id), "%s", t->id);
	m.u.handler.pgid = (uint64_t)pid;
	ipc_send(ctx->ipc_fd, &m, 0);

	deadline = mono_ms() + pool->timeout_ms;
	if (plen == 0) {
		close(in[1]);
		in[1] = -1;
	}
	while (!exited || out[0] >= 0 || err[0] >= 0) {
		now = mono_ms();
		if (!exited && !timed_out && !aborting && now >= deadline) {
			timed_out = 1;
			kill(-pid, SIGTERM);
			kill_at = now + KILL_GRACE_MS;
		}
		if (!aborting && ctx->aborted) {
			aborting = 1;
			kill(-pid, SIGTERM);
			kill_at = now + KILL_GRACE_MS;
		}
		if (cap.oversize && kill_at == 0) {
			kill(-pid, SIGKILL);
			kill_at = now;
		}
		if (kill_at != 0 && now >= kill_at)
			kill(-pid, SIGKILL);
		if (exited && now - exited_at > KILL_GRACE_MS)
			break;	/* something left the group but holds a pipe */
		n = 0;
		if (in[1] >= 0)
			pfd[n++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (out[0] >= 0)
			pfd[n++] = (struct pollfd){ out[0], POLLIN, 0 };
		if (err[0] >= 0)
			pfd[n++] = (struct pollfd){ err[0], POLLIN, 0 };
		pfd[n++] = (struct pollfd){ ctx->ipc_fd, POLLIN, 0 };
		wait = POLL_TICK_MS;
		if (!timed_out && !aborting && deadline - now < wait)
			wait = (int)(deadline - now);
		if (wait < 0)
			wait = 0;
		if (poll(pfd, (nfds_t)n, wait) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (pfd[i].fd == in[1]) {
				k = write(in[1], payload + poff, plen - poff);
				if (k > 0)
					poff += (size_t)k;
				if ((k < 0 && errno != EAGAIN && errno != EINTR) ||
				    poff == plen) {
					close(in[1]);	/* EPIPE: it does not read */
					in[1] = -1;
				}
			} else if (pfd[i].fd == out[0]) {
				if (!drain(out[0], &cap, 1, pool->max_output)) {
					close(out[0]);
					out[0] = -1;
				}
			} else if (pfd[i].fd == err[0]) {
				if (!drain(err[0], &cap, 0, 0)) {
					close(err[0]);
					err[0] = -1;
				}
			} else if (pfd[i].fd == ctx->ipc_fd)
				exec_ipc(ctx, t);
		}
		if (!exited && (w = waitpid(pid, &status, WNOHANG)) == pid) {
			exited = 1;
			exited_at = mono_ms();
			/* The task is over: whatever it left running goes. */
			kill(-pid, SIGKILL);
			if (in[1] >= 0) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	verdict(pool, status, timed_out, aborting, &cap, r);
done:
	for (i = 0; i < 2; i++) {
		if (in[i] >= 0) close(in[i]);
		if (out[i] >= 0) close(out[i]);
		if (err[i] >= 0) close(err[i]);
	}
	free(cap.out);
	return 0;
}
