/*
 * tests/storage/shards_check.c - libcodeq over several stores, driven by
 * tests/storage/shards.sh (which starts the stores, kills one, and looks
 * at each with redis-cli):
 *
 *   shards_check MODE STEP HOME_URL SHARD_URL...
 *
 * MODE is "map" (shard b holds a* and exact "x1", shard c holds b*, the
 * rest stays home) or "hash" (rendezvous hashing over every store).  The
 * shards are named b, c, d... in order.  STEP:
 *   fill     enqueue 20 tasks to each of the queues of the mode in
 *            pipelined batches that mix every store; print "QUEUE STORE"
 *            for each queue
 *   work     claim, get, complete, nack, reap, stats and fsck on every
 *            queue
 *   down Q   Q's store is down: calls on Q fail with CODEQ_ESTORE naming
 *            its shard, while every queue of another store works (with
 *            SHARDS_STOPPED=FILE: connects, then waits for FILE); then,
 *            with SHARDS_RESUME=FILE, waits for FILE (the store is back)
 *            and Q works again on the same connection
 *   up Q     Q works again
 *   refused  connect fails (a shard is unreachable), naming it
 * Exit 0 when the step's checks hold; messages on stderr say what failed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codeq.h"

#define NQUEUES 31
#define PER_QUEUE 20

static char queues[NQUEUES][16];
static const char *const map_b[] = { "a*", "x1" };
static const char *const map_c[] = { "b*" };
static struct codeq_shard shards[8];
static codeq_options opt;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "shards_check: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void
setup(const char *mode, int nurls, char **urls)
{
	static const char *const names[] = { "b", "c", "d", "e", "f", "g" };
	int i;

	if (nurls - 1 > 6)
		die("too many shards");
	for (i = 0; i < NQUEUES - 1; i++)
		snprintf(queues[i], sizeof(queues[i]), "%c%d", "abc"[i % 3],
		    i / 3);
	snprintf(queues[NQUEUES - 1], sizeof(queues[0]), "x1");
	for (i = 1; i < nurls; i++) {
		shards[i - 1].name = names[i - 1];
		shards[i - 1].url = urls[i];
	}
	if (strcmp(mode, "map") == 0) {
		shards[0].queues = map_b;
		shards[0].nqueues = 2;
		if (nurls > 2) {
			shards[1].queues = map_c;
			shards[1].nqueues = 1;
		}
	} else
		opt.shard_hash = 1;
	opt.shards = shards;
	opt.nshards = (size_t)nurls - 1;
	opt.reconnect_attempts = -1;	/* fail fast while a store is down */
	opt.connect_timeout_ms = 500;
	opt.command_timeout_ms = 2000;
}

static codeq_t *
conn(const char *url)
{
	codeq_error e;
	codeq_t *c;

	if (codeq_connect(url, &opt, &c, &e) != CODEQ_OK)
		die("connect: %s", e.msg);
	return c;
}

/* Enqueues in batches of 62 that go round the queues (so each batch
 * mixes every store), checking that each result is its own spec's. */
static void
fill(codeq_t *c)
{
	codeq_task_spec specs[62];
	codeq_enqueue_result res[62];
	codeq_error e;
	size_t i, k, n = 0;
	const char *name;

	for (k = 0; k < (size_t)NQUEUES * PER_QUEUE / 62; k++) {
		memset(specs, 0, sizeof(specs));
		for (i = 0; i < 62; i++, n++) {
			specs[i].queue = queues[n % NQUEUES];
			specs[i].priority = (int)(n % 10);
		}
		if (codeq_enqueue_batch(c, specs, 62, res, &e) != CODEQ_OK)
			die("enqueue_batch: %s", e.msg);
		for (i = 0; i < 62; i++)
			if (res[i].status != CODEQ_OK || strncmp(res[i].id,
			    specs[i].queue, strlen(specs[i].queue)) != 0 ||
			    res[i].id[strlen(specs[i].queue)] != ':')
				die("result %zu: status %d id %s, for queue %s",
				    i, res[i].status, res[i].id, specs[i].queue);
	}
	for (i = 0; i < NQUEUES; i++) {
		printf("%s %zu", queues[i], codeq_shard_of(c, queues[i], &name));
		printf(" %s\n", name);
	}
}

static void
work_queue(codeq_t *c, const char *q)
{
	codeq_claim_opts co = { .lease_ms = 1, .max_tasks = 3 };
	codeq_task *t[3], *g;
	codeq_stats st;
	codeq_error e;
	size_t n, reaped;

	if (codeq_claim(c, &q, 1, &co, t, &n, &e) != CODEQ_OK || n != 3)
		die("claim %s: %s", q, e.msg);
	if (codeq_get(c, t[0]->id, &g, &e) != CODEQ_OK ||
	    g->status != CODEQ_LEASED)
		die("get %s: %s", t[0]->id, e.msg);
	codeq_task_free(g);
	if (codeq_complete(c, t[0]->id, t[0]->lease_token, "{\"ok\":1}", &e))
		die("complete %s: %s", t[0]->id, e.msg);
	if (codeq_nack(c, t[1]->id, t[1]->lease_token, 0, "again", &e))
		die("nack %s: %s", t[1]->id, e.msg);
	/* t[2]'s lease of 1 ms expires: the reaper puts it back. */
	while (codeq_reap(c, q, 10, &reaped, &e) == CODEQ_OK && reaped == 0)
		;
	if (codeq_stats_get(c, q, &st, &e) != CODEQ_OK)
		die("stats %s: %s", q, e.msg);
	if (st.completed != 1 || st.leased != 0 ||
	    st.ready_total + st.delayed != PER_QUEUE - 1)
		die("stats %s: completed %lld leased %lld ready %lld delayed "
		    "%lld", q, (long long)st.completed, (long long)st.leased,
		    (long long)st.ready_total, (long long)st.delayed);
	for (n = 0; n < 3; n++)
		codeq_task_free(t[n]);
}

static void
work(codeq_t *c)
{
	codeq_error e;
	size_t i, problems;
	char **names;

	for (i = 0; i < NQUEUES; i++)
		work_queue(c, queues[i]);
	if (codeq_fsck(c, NULL, 0, NULL, NULL, &problems, &e) != CODEQ_OK ||
	    problems != 0)
		die("fsck: %zu problems: %s", problems, e.msg);
	if (codeq_queues(c, &names, &i, &e) != CODEQ_OK || i != NQUEUES)
		die("queues: %zu of %d", i, NQUEUES);
	codeq_strv_free(names, i);
}

static int
try_enqueue(codeq_t *c, const char *q, codeq_error *e)
{
	codeq_task_spec s = { .queue = q };
	char id[CODEQ_ID_MAX];

	return codeq_enqueue(c, &s, id, NULL, e);
}

static void
down(codeq_t *c, const char *dead)
{
	const char *name, *other;
	codeq_stats st;
	codeq_error e;
	char want[32];
	size_t i, store = codeq_shard_of(c, dead, &name);

	snprintf(want, sizeof(want), "shard %s (", name);
	if (try_enqueue(c, dead, &e) != CODEQ_ESTORE || strstr(e.msg, want) == NULL)
		die("enqueue on %s (down): %d %s", dead, e.code, e.msg);
	if (codeq_stats_get(c, dead, &st, &e) != CODEQ_ESTORE ||
	    strstr(e.msg, want) == NULL)
		die("stats on %s (down): %d %s", dead, e.code, e.msg);
	for (i = 0; i < NQUEUES; i++) {
		if (codeq_shard_of(c, queues[i], &other) == store)
			continue;
		if (try_enqueue(c, queues[i], &e) != CODEQ_OK ||
		    codeq_stats_get(c, queues[i], &st, &e) != CODEQ_OK)
			die("%s on %s, with %s down: %s", queues[i], other,
			    name, e.msg);
	}
	printf("down: %s\n", want);
	fflush(stdout);
}

/* Waits (up to 20 s) for the test to make file. */
static void
wait_file(const char *file)
{
	struct timespec ts = { 0, 50 * 1000000L };
	int i;

	for (i = 0; i < 400 && access(file, F_OK) != 0; i++)
		nanosleep(&ts, NULL);
}

/* Once the store is back (the test made file), Q works again on the
 * same codeq_t: the next call reconnects. */
static void
resume(codeq_t *c, const char *q, const char *file)
{
	codeq_error e;

	wait_file(file);
	if (try_enqueue(c, q, &e) != CODEQ_OK)
		die("enqueue on %s (up again): %s", q, e.msg);
	printf("up: %s\n", q);
}

int
main(int argc, char **argv)
{
	codeq_error e;
	codeq_t *c;

	if (argc < 5)
		die("usage: shards_check map|hash STEP [Q] HOME_URL SHARD_URL...");
	if (strcmp(argv[2], "down") == 0 || strcmp(argv[2], "up") == 0) {
		setup(argv[1], argc - 4, argv + 4);
		c = conn(argv[4]);
		if (strcmp(argv[2], "down") == 0) {
			/* Connected while every store was up; now one is
			 * stopped (the test made SHARDS_STOPPED). */
			if (getenv("SHARDS_STOPPED") != NULL) {
				printf("connected\n");
				fflush(stdout);
				wait_file(getenv("SHARDS_STOPPED"));
			}
			down(c, argv[3]);
			if (getenv("SHARDS_RESUME") != NULL)
				resume(c, argv[3], getenv("SHARDS_RESUME"));
		}
		else if (try_enqueue(c, argv[3], &e) != CODEQ_OK)
			die("enqueue on %s (up again): %s", argv[3], e.msg);
	} else if (strcmp(argv[2], "refused") == 0) {
		setup(argv[1], argc - 3, argv + 3);
		if (codeq_connect(argv[3], &opt, &c, &e) != CODEQ_ESTORE ||
		    strstr(e.msg, "shard ") == NULL)
			die("connect with a store down: %d %s", e.code, e.msg);
		printf("refused: %s\n", e.msg);
		return 0;
	} else {
		setup(argv[1], argc - 3, argv + 3);
		c = conn(argv[3]);
		if (strcmp(argv[2], "fill") == 0)
			fill(c);
		else if (strcmp(argv[2], "work") == 0)
			work(c);
		else
			die("no step %s", argv[2]);
	}
	codeq_close(c);
	return 0;
}
