/*
 * handler_proof.h - the process groups codeqd may signal.
 *
 * A worker reports the process group of the exec handler it started
 * (HANDLER); codeqd kills that group when the worker dies or overruns.
 * The worker may run .so code or be compromised, and codeqd may run as
 * root: a report is believed only when /proc shows a process group leader
 * whose parent is that worker, and the group is signalled only while its
 * leader is still that process (same start time) or gone.
 */
#ifndef CODEQ_HANDLER_PROOF_H
#define CODEQ_HANDLER_PROOF_H

#include <sys/types.h>

#include <stddef.h>

struct proc_stat {
	pid_t pid, ppid, pgrp;
	unsigned long long start;	/* clock ticks after boot */
};

struct handler_group {
	pid_t pgid;			/* 0: none proven */
	unsigned long long start;	/* its leader's start time */
};

/* Parses a /proc/PID/stat line.  0, or -1 when malformed. */
int proc_stat_parse(const char *buf, struct proc_stat *st);

/* Reads /proc/PID/stat.  0, or -1 (no such process, or unreadable). */
int proc_stat_read(pid_t pid, struct proc_stat *st);

/* Records pgid in g when its leader is a child of worker leading its own
 * group.  0, or -1 with why filled (and g cleared). */
int handler_group_prove(struct handler_group *g, pid_t worker, pid_t pgid,
    char *why, size_t whylen);

/* SIGKILLs the proven group unless its leader's pid now names another
 * process.  1 when signalled, 0 when not. */
int handler_group_kill(const struct handler_group *g);

#endif
