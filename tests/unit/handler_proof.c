/* tests/unit/handler_proof.c - dispatcher/handler_proof.c: which process groups
 * codeqd believes are a worker's handler, and which it signals.  The test
 * process plays the worker; its children are real processes. */
#include "config.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handler_proof.h"
#include "unit.h"

START_TEST(parse)
{
	struct proc_stat st;

	ck_assert_int_eq(proc_stat_parse("42 (sh) S 7 42 42 0 -1 4194560 1 0 0 0 "
	    "0 0 0 0 20 0 1 0 123456 1000 100", &st), 0);
	ck_assert_int_eq(st.pid, 42);
	ck_assert_int_eq(st.ppid, 7);
	ck_assert_int_eq(st.pgrp, 42);
	ck_assert(st.start == 123456ULL);
	/* A command name may hold blanks and parentheses. */
	ck_assert_int_eq(proc_stat_parse("9 (a) b) 1 2 (x) R 3 4 5 0 -1 0 0 0 0 0 "
	    "0 0 0 0 20 0 1 0 77 0 0", &st), 0);
	ck_assert_int_eq(st.ppid, 3);
	ck_assert_int_eq(st.pgrp, 4);
	ck_assert(st.start == 77ULL);
	ck_assert_int_eq(proc_stat_parse("", &st), -1);
	ck_assert_int_eq(proc_stat_parse("12 (sh S 1 2", &st), -1);
	ck_assert_int_eq(proc_stat_parse("12 (sh) S 1 2 3", &st), -1);
	ck_assert_int_eq(proc_stat_parse("-1 (sh) S 1 2 3 0 -1 0 0 0 0 0 0 0 0 0 "
	    "20 0 1 0 5", &st), -1);
}
END_TEST

/* A child of ours, leading its own process group when lead is set. */
static pid_t
child(int lead)
{
	struct proc_stat st;
	pid_t p = fork();

	ck_assert_int_ge(p, 0);
	if (p == 0) {
		if (lead)
			setpgid(0, 0);
		for (;;)
			pause();
	}
	if (lead)
		setpgid(p, p);
	while (proc_stat_read(p, &st) < 0 || st.pgrp != (lead ? p : getpgrp()))
		usleep(1000);
	return p;
}

static int
killed_by_sigkill(pid_t p)
{
	int status;

	ck_assert_int_eq(waitpid(p, &status, 0), p);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

START_TEST(prove)
{
	struct handler_group g;
	char why[160];
	pid_t leader = child(1), member = child(0);

	ck_assert_int_eq(handler_group_prove(&g, getpid(), leader, why,
	    sizeof(why)), 0);
	ck_assert_int_eq(g.pgid, leader);
	ck_assert(g.start > 0);
	/* Another worker's claim on it, a process not leading a group, the
	 * init process, and one that does not exist are refused. */
	ck_assert_int_eq(handler_group_prove(&g, getppid(), leader, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(g.pgid, 0);
	ck_assert_ptr_nonnull(strstr(why, "not the worker"));
	ck_assert_int_eq(handler_group_prove(&g, getpid(), member, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(handler_group_prove(&g, getpid(), 1, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(handler_group_prove(&g, getpid(), 0, why,
	    sizeof(why)), -1);
	kill(leader, SIGKILL);
	kill(member, SIGKILL);
	waitpid(leader, NULL, 0);
	waitpid(member, NULL, 0);
	ck_assert_int_eq(handler_group_prove(&g, getpid(), leader, why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "no process"));
}
END_TEST

START_TEST(kill_proven)
{
	struct handler_group g;
	char why[160];
	pid_t leader = child(1);

	ck_assert_int_eq(handler_group_prove(&g, getpid(), leader, why,
	    sizeof(why)), 0);
	ck_assert_int_eq(handler_group_kill(&g), 1);
	ck_assert(killed_by_sigkill(leader));
}
END_TEST

START_TEST(kill_reused_pid)
{
	struct handler_group g;
	char why[160];
	pid_t leader = child(1);

	/* The same pid with another start time is another process. */
	ck_assert_int_eq(handler_group_prove(&g, getpid(), leader, why,
	    sizeof(why)), 0);
	g.start++;
	ck_assert_int_eq(handler_group_kill(&g), 0);
	ck_assert_int_eq(kill(leader, 0), 0);
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(handler_group_kill(&g), 0);
	kill(leader, SIGKILL);
	ck_assert(killed_by_sigkill(leader));
}
END_TEST

START_TEST(kill_orphans)
{
	struct handler_group g;
	struct proc_stat st;
	char why[160];
	int pfd[2];
	pid_t leader, orphan;

	/* A leader that started a member and died: the member, now an
	 * orphan (reparented to us, the subreaper), dies through the group. */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	ck_assert_int_eq(pipe(pfd), 0);
	if ((leader = fork()) == 0) {
		setpgid(0, 0);
		if ((orphan = fork()) == 0)
			for (;;)
				pause();
		if (write(pfd[1], &orphan, sizeof(orphan)) != sizeof(orphan))
			_exit(1);
		for (;;)
			pause();
	}
	setpgid(leader, leader);
	ck_assert_int_eq(read(pfd[0], &orphan, sizeof(orphan)), sizeof(orphan));
	while (proc_stat_read(orphan, &st) < 0 || st.pgrp != leader)
		usleep(1000);
	ck_assert_int_eq(handler_group_prove(&g, getpid(), leader, why,
	    sizeof(why)), 0);
	kill(leader, SIGKILL);
	ck_assert(killed_by_sigkill(leader));
	ck_assert_int_eq(handler_group_kill(&g), 1);
	ck_assert(killed_by_sigkill(orphan));
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		parse,
		prove,
		kill_proven,
		kill_reused_pid,
		kill_orphans,
	};

	return unit_run("handler_proof", tests, sizeof(tests) / sizeof(tests[0]));
}
