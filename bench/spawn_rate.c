/*
 * spawn_rate.c - the process-spawning ceiling: how many fork + exec +
 * waitpid of a program (default /bin/true) per second P processes manage
 * side by side.  The exec handler's target is a ratio of this.
 *
 *   codeq-spawn-rate [-p PROCS] [-n COUNT] [-t SECONDS] [PROGRAM]
 *
 * Each of the P loops stops after COUNT spawns or SECONDS, whichever comes
 * first.  Prints one JSON object: {"procs":P,"spawns":N,"seconds":S,
 * "per_second":R}.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One spawning loop; returns the number of successful spawns. */
static long
spawn_loop(const char *prog, long count, double seconds)
{
	char *argv[2] = { (char *)prog, NULL };
	double end = now_s() + seconds;
	long n = 0;
	pid_t pid;
	int st;

	while (n < count && (n % 16 != 0 || now_s() < end)) {
		if ((pid = fork()) < 0)
			return n;
		if (pid == 0) {
			execv(prog, argv);
			_exit(127);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			n++;
		else
			return n;
	}
	return n;
}

int
main(int argc, char **argv)
{
	const char *prog = "/bin/true";
	long count = 20000, total = 0, n;
	double seconds = 3, t0, t;
	int procs = 1, i, c, fd[2];
	pid_t pid;

	while ((c = getopt(argc, argv, "p:n:t:")) != -1) {
		switch (c) {
		case 'p': procs = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		default:
			fprintf(stderr, "usage: codeq-spawn-rate [-p PROCS] "
			    "[-n COUNT] [-t SECONDS] [PROGRAM]\n");
			return 64;
		}
	}
	if (optind < argc)
		prog = argv[optind];
	if (procs < 1 || procs > 256 || count < 1 || seconds <= 0) {
		fprintf(stderr, "codeq-spawn-rate: bad arguments\n");
		return 64;
	}
	if (pipe(fd) < 0) {
		perror("pipe");
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < procs; i++) {
		if ((pid = fork()) < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			close(fd[0]);
			n = spawn_loop(prog, count, seconds);
			if (write(fd[1], &n, sizeof(n)) != sizeof(n))
				_exit(1);
			_exit(0);
		}
	}
	close(fd[1]);
	for (i = 0; i < procs; i++) {
		if (read(fd[0], &n, sizeof(n)) == sizeof(n))
			total += n;
	}
	t = now_s() - t0;
	while (wait(NULL) > 0)
		;
	printf("{\"procs\":%d,\"spawns\":%ld,\"seconds\":%.3f,"
	    "\"per_second\":%.1f}\n", procs, total, t, total / t);
	return total > 0 ? 0 : 1;
}
