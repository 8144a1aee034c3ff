/*
 * fds.c - a handler holds nothing of codeq's.
 *
 * A worker holds an authenticated store connection, its socket to the
 * dispatcher and the configuration snapshot; a handler, which may run as
 * another user and is not trusted with any of them, must not inherit one.
 * close_range(2) does either job in one system call (Linux 5.9+, with
 * CLOSE_RANGE_CLOEXEC 5.11+); older kernels get a loop up to the
 * descriptor limit.
 */
#include "config.h"

#include <sys/resource.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <fcntl.h>
#include <unistd.h>

#include "fds.h"

#define FDS_LOOP_MAX	(1 << 20)	/* bound the fallback loop */
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif

static int
fds_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)FDS_LOOP_MAX)
		return (int)rl.rlim_cur;
	return FDS_LOOP_MAX;
}

static int
fds_close_range(int lowfd, unsigned flags)
{
#ifdef SYS_close_range
	return (int)syscall(SYS_close_range, (unsigned)lowfd, ~0U, flags);
#else
	(void)lowfd; (void)flags;
	return -1;
#endif
}

void
fds_close_from(int lowfd)
{
	int fd, max;

	if (fds_close_range(lowfd, 0) == 0)
		return;
	for (fd = lowfd, max = fds_limit(); fd < max; fd++)
		close(fd);
}

void
fds_cloexec_from(int lowfd)
{
	int fd, max, fl;

	if (fds_close_range(lowfd, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	for (fd = lowfd, max = fds_limit(); fd < max; fd++)
		if ((fl = fcntl(fd, F_GETFD)) >= 0 && !(fl & FD_CLOEXEC))
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}
