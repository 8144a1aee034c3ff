/*
 * handler_proof.c - believe a worker's HANDLER report only with proof.
 *
 * The proof is the kernel's: /proc/PGID/stat names the process's parent,
 * its process group and its start time.  A group whose leader is a child
 * of the reporting worker and leads its own group is that worker's
 * handler.  The start time recorded then tells, at kill time, whether
 * the pid still names the same process: a pid that names a process
 * started later was reused and is not signalled.  A leader that has
 * exited leaves the group to its members; Linux allocates a pid only
 * when no process group uses it, so the group's members are the
 * handler's own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handler_proof.h"

/* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
 * majflt cmajflt utime stime cutime cstime priority nice threads
 * itrealvalue starttime ...: comm may hold spaces and ')', so the fields
 * start after the last ')'. */
int
proc_stat_parse(const char *buf, struct proc_stat *st)
{
	const char *p = strrchr(buf, ')');
	long long pid, ppid, pgrp;
	unsigned long long start;
	char state;

	if (p == NULL || sscanf(buf, "%lld", &pid) != 1)
		return -1;
	if (sscanf(p + 1, " %c %lld %lld %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &state, &ppid, &pgrp,
	    &start) != 4)
		return -1;
	if (pid <= 0 || ppid < 0 || pgrp < 0)
		return -1;
	st->pid = (pid_t)pid;
	st->ppid = (pid_t)ppid;
	st->pgrp = (pid_t)pgrp;
	st->start = start;
	return 0;
}

int
proc_stat_read(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (proc_stat_parse(buf, st) < 0 || st->pid != pid)
		return -1;
	return 0;
}

int
handler_group_prove(struct handler_group *g, pid_t worker, pid_t pgid,
    char *why, size_t whylen)
{
	struct proc_stat st;

	memset(g, 0, sizeof(*g));
	if (pgid <= 1 || worker <= 1) {
		snprintf(why, whylen, "process group %ld is not a handler's",
		    (long)pgid);
		return -1;
	}
	if (proc_stat_read(pgid, &st) < 0) {
		snprintf(why, whylen, "no process %ld", (long)pgid);
		return -1;
	}
	if (st.ppid != worker || st.pgrp != pgid) {
		snprintf(why, whylen, "process %ld has parent %ld and group %ld, "
		    "not the worker %ld and its own", (long)pgid, (long)st.ppid,
		    (long)st.pgrp, (long)worker);
		return -1;
	}
	g->pgid = pgid;
	g->start = st.start;
	return 0;
}

int
handler_group_kill(const struct handler_group *g)
{
	struct proc_stat st;

	if (g->pgid <= 1)
		return 0;
	if (proc_stat_read(g->pgid, &st) == 0 && st.start != g->start)
		return 0;	/* the pid names a newer process */
	return kill(-g->pgid, SIGKILL) == 0;
}
