/*
 * evalsha_rate.c - the store-side ceiling of one task cycle: how many
 * EVALSHA calls of the claim or the complete script per second the store
 * answers, with C connections each keeping one call in flight (what
 * redis-benchmark -c C does).
 *
 *   codeq-evalsha-rate -h HOST -p PORT -s SHA -q QUEUE -n CALLS
 *       [-c CLIENTS] [-k claim|complete] [-b CLAIM_BATCH]
 *
 * Why not redis-benchmark for complete: it exits at the first error reply
 * and its __rand_int__ names random tasks, so a repeat (refused: the task
 * is already completed) ends the run.  Here task i of the complete run is
 * Q:%012d with i = 0, 1, 2... (as bench/run's fill script writes them),
 * each completed once.  Error replies are counted, not fatal.  Prints
 * {"calls":N,"errors":E,"seconds":S,"per_second":R}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libev.h>

static const char *sha, *queue, *kind = "claim", *batch = "1";
static long calls = 10000, sent, answered, errors;
static double t0, t1;
static struct ev_loop *loop;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

static void
send_one(redisAsyncContext *ac)
{
	char key[256], id[256], seq[32];
	int rc;

	if (sent >= calls)
		return;
	if (strcmp(kind, "complete") == 0) {
		snprintf(seq, sizeof(seq), "%012ld", sent);
		snprintf(key, sizeof(key), "codeq:{%s}:t:%s", queue, seq);
		snprintf(id, sizeof(id), "%s:%s", queue, seq);
		rc = redisAsyncCommand(ac, on_reply, NULL,
		    "EVALSHA %s 1 %s %s %s 1 %s 600000", sha, key, queue, id, "");
	} else {
		snprintf(key, sizeof(key), "codeq:{%s}:leased", queue);
		rc = redisAsyncCommand(ac, on_reply, NULL,
		    "EVALSHA %s 1 %s %s 60000 bench %s 100", sha, key, queue,
		    batch);
	}
	if (rc == REDIS_OK)
		sent++;
}

static void
on_reply(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply *reply = r;

	(void)priv;
	if (reply == NULL) {	/* connection lost */
		errors++;
		return;
	}
	answered++;
	if (reply->type == REDIS_REPLY_ERROR)
		errors++;
	if (answered == calls) {
		t1 = now_s();
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	send_one(ac);
}

static void
on_timeout(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w; (void)revents;
	t1 = now_s();
	ev_break(l, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	redisAsyncContext *ac[256];
	const char *host = "127.0.0.1";
	int port = 6379, clients = 50, i, c;
	ev_timer limit;

	while ((c = getopt(argc, argv, "h:p:s:q:n:c:k:b:")) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': sha = optarg; break;
		case 'q': queue = optarg; break;
		case 'n': calls = atol(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'k': kind = optarg; break;
		case 'b': batch = optarg; break;
		default: goto usage;
		}
	}
	if (sha == NULL || queue == NULL || calls < 1 || clients < 1 ||
	    clients > 256)
		goto usage;
	loop = EV_DEFAULT;
	for (i = 0; i < clients; i++) {
		ac[i] = redisAsyncConnect(host, port);
		if (ac[i] == NULL || ac[i]->err) {
			fprintf(stderr, "codeq-evalsha-rate: connect: %s\n",
			    ac[i] ? ac[i]->errstr : "out of memory");
			return 1;
		}
		redisLibevAttach(loop, ac[i]);
	}
	ev_timer_init(&limit, on_timeout, 300, 0);	/* bounded in time */
	ev_timer_start(loop, &limit);
	t0 = now_s();
	for (i = 0; i < clients; i++)
		send_one(ac[i]);
	ev_run(loop, 0);
	for (i = 0; i < clients; i++)
		redisAsyncDisconnect(ac[i]);
	printf("{\"calls\":%ld,\"errors\":%ld,\"seconds\":%.3f,"
	    "\"per_second\":%.1f}\n", answered, errors, t1 - t0,
	    (double)answered / (t1 - t0));
	return 0;
usage:
	fprintf(stderr, "usage: codeq-evalsha-rate -h HOST -p PORT -s SHA "
	    "-q QUEUE -n CALLS [-c CLIENTS] [-k claim|complete] [-b N]\n");
	return 64;
}
