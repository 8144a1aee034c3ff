/*
 * probe.c - checks every .so handler of a configuration before it is
 * used (start, --check, reload), by running `codeq-worker --probe PATH`:
 * the object's constructors run in that throw-away process (a crash
 * costs nothing) and codeqd links no worker code.  codeq-worker says on
 * its stdout why an object does not do (no symbol, another ABI version).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codeqd.h"
#include "log.h"

/* Runs the probe of so_path: its exit status, its message in msg. */
static int
probe_run(const char *prog, const char *so_path, char *msg, size_t len)
{
	char *argv[] = { "codeq-worker", "--probe", (char *)so_path, NULL };
	int p[2], status = 0;
	ssize_t n;
	pid_t pid;

	msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(CHILD_EXIT_NOEXEC);
		execv(prog, argv);
		_exit(CHILD_EXIT_NOEXEC);
	}
	close(p[1]);
	n = read(p[0], msg, len - 1);
	close(p[0]);
	msg[n > 0 ? n : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* Returns -1 with "FILE:LINE: so: PATH: why" in msg for the first .so
 * handler that does not load; 0 when all do, or when they cannot be
 * checked here (the workers will say). */
int
probe_handlers(const struct codeq_config *cfg, char *msg, size_t len)
{
	char prog[PATH_MAX], why[400];
	size_t i;
	int st;

	for (i = 0; i < cfg->npools; i++) {
		const struct pool_config *pc = &cfg->pools[i];

		if (pc->kind != HANDLER_SO)
			continue;
		if (child_program_path("codeq-worker", prog, sizeof(prog)) < 0 ||
		    (st = probe_run(prog, pc->so_path, why, sizeof(why))) < 0 ||
		    (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_EXIT_NOEXEC)) {
			log_warning("cannot run codeq-worker to check the .so "
			    "handlers: the workers will", "pool", pc->name);
			return 0;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			continue;
		snprintf(msg, len, "%s:%d: so: %s: %s", cfg->path, pc->line,
		    pc->so_path, why[0] ? why :
		    "the handler crashed while loading");
		return -1;
	}
	return 0;
}
