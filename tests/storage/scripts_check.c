/*
 * tests/storage/scripts_check.c - integration tests of the storage protocol through
 * libcodeq, against a real redis-server (started by tests/storage/scripts.sh, which
 * passes its URL in CODEQ_TEST_URL).  Raw commands (hiredis) break things
 * on purpose and look behind the library's back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "codeq.h"
#include "keys.h"
#include "scripts.h"
#include "scripts_async.h"

static const char *url;
static int port;
static pid_t store_pid;		/* the store server, CODEQ_TEST_STORE_PID */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static codeq_t *
conn(const codeq_options *o)
{
	codeq_error e;
	codeq_t *c;

	ck_assert_msg(codeq_connect(url, o, &c, &e) == CODEQ_OK, "connect: %s",
	    e.msg);
	return c;
}

/* A raw connection for looking behind the library's back. */
static redisContext *
raw(void)
{
	redisContext *r = redisConnect("127.0.0.1", port);

	ck_assert(r != NULL && r->err == 0);
	return r;
}

static long long
raw_int(redisContext *r, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;
	long long v;

	va_start(ap, fmt);
	rep = redisvCommand(r, fmt, ap);
	va_end(ap);
	ck_assert(rep != NULL);
	ck_assert_msg(rep->type == REDIS_REPLY_INTEGER, "not an integer: %s",
	    rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* Returns a malloc()ed string reply or NULL for nil. */
static char *
raw_str(redisContext *r, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	rep = redisvCommand(r, fmt, ap);
	va_end(ap);
	ck_assert(rep != NULL);
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		s = strdup(rep->str);
	else
		ck_assert_msg(rep->type == REDIS_REPLY_NIL, "unexpected reply");
	freeReplyObject(rep);
	return s;
}

static void
raw_do(redisContext *r, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;

	va_start(ap, fmt);
	rep = redisvCommand(r, fmt, ap);
	va_end(ap);
	ck_assert(rep != NULL && rep->type != REDIS_REPLY_ERROR);
	freeReplyObject(rep);
}

static void
enq(codeq_t *c, const char *q, int prio, const char *payload, char *id)
{
	codeq_task_spec s = { .queue = q, .payload = payload, .priority = prio };
	codeq_error e;
	char buf[CODEQ_ID_MAX];

	ck_assert_msg(codeq_enqueue(c, &s, id ? id : buf, NULL, &e) == CODEQ_OK,
	    "enqueue: %s", e.msg);
}

static codeq_task *
claim1(codeq_t *c, const char *q, int64_t lease_ms)
{
	codeq_claim_opts o = { .lease_ms = lease_ms, .worker = "test" };
	codeq_task *t[1] = { NULL };
	codeq_error e;
	size_t n;
	int rc;

	rc = codeq_claim(c, &q, 1, &o, t, &n, &e);
	if (rc == CODEQ_EEMPTY)
		return NULL;
	ck_assert_msg(rc == CODEQ_OK && n == 1, "claim: %s", e.msg);
	return t[0];
}

/* Polls claim until a task comes (delays, backoff); NULL after 10 s. */
static codeq_task *
claim_wait(codeq_t *c, const char *q, int64_t lease_ms)
{
	int64_t end = now_ms() + 10000;
	codeq_task *t;

	while ((t = claim1(c, q, lease_ms)) == NULL && now_ms() < end)
		sleep_ms(20);
	return t;
}

START_TEST(priority_and_fifo)
{
	codeq_t *c = conn(NULL);
	const char *order[] = { "{\"n\":4}", "{\"n\":2}", "{\"n\":3}",
	    "{\"n\":1}", "{\"n\":5}" };
	codeq_task *t;
	codeq_stats st;
	codeq_error e;
	int i;

	enq(c, "prio", 0, "{\"n\":5}", NULL);
	enq(c, "prio", 5, "{\"n\":2}", NULL);
	enq(c, "prio", 5, "{\"n\":3}", NULL);
	enq(c, "prio", 9, "{\"n\":1}", NULL);
	enq(c, "prio", 3, "{\"n\":4}", NULL);
	ck_assert_int_eq(codeq_stats_get(c, "prio", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.ready_total, 5);
	ck_assert_int_eq(st.ready[5], 2);
	/* 9, then 5 (FIFO: 2 before 3), then 3, then 0. */
	const char *want[] = { order[3], order[1], order[2], order[0], order[4] };
	for (i = 0; i < 5; i++) {
		t = claim1(c, "prio", 30000);
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t->payload, want[i]);
		ck_assert_int_eq(t->status, CODEQ_LEASED);
		ck_assert_int_eq(t->attempts, 1);
		ck_assert_ptr_nonnull(t->lease_token);
		codeq_task_free(t);
	}
	ck_assert_ptr_null(claim1(c, "prio", 30000));
	ck_assert_int_eq(codeq_stats_get(c, "prio", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.leased, 5);
	ck_assert_int_eq(st.enqueued, 5);
	ck_assert_int_eq(st.claimed, 5);
	codeq_close(c);
}
END_TEST

START_TEST(claim_many_and_queues_in_order)
{
	codeq_t *c = conn(NULL);
	const char *qs[] = { "multi-a", "multi-b" };
	codeq_claim_opts o = { .lease_ms = 30000, .max_tasks = 5 };
	codeq_task *t[5];
	codeq_error e;
	size_t n, i;

	for (i = 0; i < 2; i++)
		enq(c, "multi-a", 0, "1", NULL);
	for (i = 0; i < 5; i++)
		enq(c, "multi-b", 0, "2", NULL);
	ck_assert_int_eq(codeq_claim(c, qs, 2, &o, t, &n, &e), CODEQ_OK);
	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(t[0]->queue, "multi-a");
	ck_assert_str_eq(t[1]->queue, "multi-a");
	ck_assert_str_eq(t[2]->queue, "multi-b");
	ck_assert_str_ne(t[0]->lease_token, t[1]->lease_token);
	for (i = 0; i < n; i++)
		codeq_task_free(t[i]);
	codeq_close(c);
}
END_TEST

/* The claim record: each worker's last batch per queue, ids and tokens,
 * for a supervisor to give back what a dead worker never reported. */
START_TEST(last_claim_record)
{
	codeq_t *c = conn(NULL);
	const char *qs[] = { "rec-a", "rec-b" };
	codeq_claim_opts o = { .lease_ms = 30000, .max_tasks = 3,
	    .worker = "h:42:p" };
	codeq_lease_ref refs[8];
	codeq_task *t[3];
	codeq_error e;
	size_t n, k, i;
	char *buf;

	ck_assert_int_eq(codeq_last_claim(c, "rec-a", "h:42:p", refs, 8, &n,
	    &buf, &e), CODEQ_OK);
	ck_assert_int_eq(n, 0);
	free(buf);
	enq(c, "rec-a", 0, "1", NULL);
	for (i = 0; i < 4; i++)
		enq(c, "rec-b", 0, "2", NULL);
	ck_assert_int_eq(codeq_claim(c, qs, 2, &o, t, &n, &e), CODEQ_OK);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(codeq_last_claim(c, "rec-a", "h:42:p", refs, 8, &k,
	    &buf, &e), CODEQ_OK);
	ck_assert_int_eq(k, 1);
	ck_assert_str_eq(refs[0].id, t[0]->id);
	ck_assert_str_eq(refs[0].token, t[0]->lease_token);
	free(buf);
	ck_assert_int_eq(codeq_last_claim(c, "rec-b", "h:42:p", refs, 8, &k,
	    &buf, &e), CODEQ_OK);
	ck_assert_int_eq(k, 2);
	for (i = 0; i < k; i++) {
		ck_assert_str_eq(refs[i].id, t[i + 1]->id);
		ck_assert_str_eq(refs[i].token, t[i + 1]->lease_token);
	}
	free(buf);
	/* Another worker's record is its own; max bounds what is read. */
	ck_assert_int_eq(codeq_last_claim(c, "rec-b", "h:43:p", refs, 8, &k,
	    &buf, &e), CODEQ_OK);
	ck_assert_int_eq(k, 0);
	free(buf);
	ck_assert_int_eq(codeq_last_claim(c, "rec-b", "h:42:p", refs, 1, &k,
	    &buf, &e), CODEQ_OK);
	ck_assert_int_eq(k, 1);
	free(buf);
	ck_assert_int_eq(codeq_last_claim(c, "no such queue!", "w", refs, 8,
	    &k, &buf, &e), CODEQ_EINVAL);
	for (i = 0; i < n; i++)
		codeq_task_free(t[i]);
	codeq_close(c);
}
END_TEST

START_TEST(delay_and_promote)
{
	codeq_t *c = conn(NULL);
	codeq_task_spec s = { .queue = "delay", .payload = "{}",
	    .delay_ms = 300 };
	char id[CODEQ_ID_MAX];
	codeq_task *t;
	codeq_stats st;
	codeq_error e;
	size_t moved = 0;
	int64_t end;

	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DELAYED);
	ck_assert(t->due_at > t->created_at);
	codeq_task_free(t);
	ck_assert_ptr_null(claim1(c, "delay", 1000));
	ck_assert_int_eq(codeq_stats_get(c, "delay", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.delayed, 1);
	/* promote moves it once due. */
	end = now_ms() + 10000;
	while (moved == 0 && now_ms() < end) {
		ck_assert_int_eq(codeq_promote(c, "delay", 0, &moved, &e),
		    CODEQ_OK);
		if (moved == 0)
			sleep_ms(20);
	}
	ck_assert_int_eq(moved, 1);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_READY);
	codeq_task_free(t);
	/* claim promotes due tasks itself. */
	s.delay_ms = 200;
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	t = claim1(c, "delay", 1000);	/* the promoted one */
	ck_assert_ptr_nonnull(t);
	codeq_task_free(t);
	t = claim_wait(c, "delay", 1000);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->id, id);
	codeq_task_free(t);
	codeq_close(c);
}
END_TEST

START_TEST(idempotency)
{
	codeq_t *c = conn(NULL);
	codeq_task_spec s = { .queue = "idem", .payload = "{\"a\":1}",
	    .idempotency_key = "order-17", .idempotency_ttl_ms = 60000 };
	char id1[CODEQ_ID_MAX], id2[CODEQ_ID_MAX];
	redisContext *r = raw();
	codeq_stats st;
	codeq_error e;
	int dup = -1;
	long long ttl;

	ck_assert_int_eq(codeq_enqueue(c, &s, id1, &dup, &e), CODEQ_OK);
	ck_assert_int_eq(dup, 0);
	ck_assert_int_eq(codeq_enqueue(c, &s, id2, &dup, &e), CODEQ_OK);
	ck_assert_int_eq(dup, 1);
	ck_assert_str_eq(id1, id2);
	ck_assert_int_eq(codeq_stats_get(c, "idem", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.enqueued, 1);
	ck_assert_int_eq(st.ready_total, 1);
	ttl = raw_int(r, "PTTL codeq:{idem}:idem:order-17");
	ck_assert(ttl > 0 && ttl <= 60000);
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(fencing)
{
	codeq_t *c = conn(NULL);
	char id[CODEQ_ID_MAX], *old;
	codeq_task *t1, *t2;
	codeq_error e;
	size_t reaped = 0;
	int64_t end, until;

	enq(c, "fence", 0, "{}", id);
	t1 = claim1(c, "fence", 100);
	ck_assert_ptr_nonnull(t1);
	old = strdup(t1->lease_token);
	end = now_ms() + 10000;
	while (reaped == 0 && now_ms() < end) {
		ck_assert_int_eq(codeq_reap(c, "fence", 0, &reaped, &e), CODEQ_OK);
		if (reaped == 0)
			sleep_ms(20);
	}
	ck_assert_int_eq(reaped, 1);
	/* Requeued with backoff (1 s default): claim it again. */
	t2 = claim_wait(c, "fence", 30000);
	ck_assert_ptr_nonnull(t2);
	ck_assert_str_eq(t2->id, id);
	ck_assert_int_eq(t2->attempts, 2);
	ck_assert_str_eq(t2->error, "lease expired");
	ck_assert_str_ne(t2->lease_token, old);
	/* The first worker's token is refused everywhere. */
	ck_assert_int_eq(codeq_complete(c, id, old, "{}", &e), CODEQ_ESTALE);
	ck_assert_msg(strstr(e.msg, "not the current") != NULL, "%s", e.msg);
	ck_assert_int_eq(codeq_heartbeat(c, id, old, 1000, &until, &e),
	    CODEQ_ESTALE);
	ck_assert_int_eq(codeq_nack(c, id, old, 0, "x", &e), CODEQ_ESTALE);
	ck_assert_int_eq(codeq_fail(c, id, old, "x", 1, &e), CODEQ_ESTALE);
	/* The current holder wins; a second completion is a state error. */
	ck_assert_int_eq(codeq_complete(c, id, t2->lease_token, "{\"ok\":1}",
	    &e), CODEQ_OK);
	ck_assert_int_eq(codeq_complete(c, id, t2->lease_token, "{}", &e),
	    CODEQ_ESTATE);
	codeq_task_free(t1);
	ck_assert_int_eq(codeq_result(c, id, 0, &t1, &e), CODEQ_OK);
	ck_assert_int_eq(t1->status, CODEQ_COMPLETED);
	ck_assert_str_eq(t1->result, "{\"ok\":1}");
	codeq_task_free(t1);
	codeq_task_free(t2);
	free(old);
	codeq_close(c);
}
END_TEST

START_TEST(heartbeat_extends)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	codeq_task *t;
	codeq_error e;
	int64_t until = 0;
	char *score;

	enq(c, "hb", 0, "{}", NULL);
	t = claim1(c, "hb", 1000);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(codeq_heartbeat(c, t->id, t->lease_token, 600000,
	    &until, &e), CODEQ_OK);
	ck_assert(until >= t->lease_until + 500000);
	score = raw_str(r, "ZSCORE codeq:{hb}:leased %s", t->id);
	ck_assert_int_eq(strtoll(score, NULL, 10), until);
	free(score);
	ck_assert_int_eq(codeq_heartbeat(c, "hb:999999", "1", 1000, NULL, &e),
	    CODEQ_ENOTFOUND);
	codeq_task_free(t);
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(batch_heartbeat_and_complete)
{
	codeq_t *c = conn(NULL);
	codeq_claim_opts o = { .lease_ms = 5000, .max_tasks = 3 };
	const char *q = "batch";
	codeq_task *t[3];
	codeq_lease_ref l[4];
	codeq_completion cm[3];
	int st[4];
	int64_t until[4];
	codeq_stats s;
	codeq_error e;
	size_t n, i;

	for (i = 0; i < 3; i++)
		enq(c, q, 0, "{}", NULL);
	ck_assert_int_eq(codeq_claim(c, &q, 1, &o, t, &n, &e), CODEQ_OK);
	ck_assert_int_eq(n, 3);
	for (i = 0; i < 3; i++) {
		l[i].id = t[i]->id;
		l[i].token = t[i]->lease_token;
	}
	l[3].id = t[0]->id;
	l[3].token = "12345678";
	ck_assert_int_eq(codeq_heartbeat_batch(c, l, 4, 60000, st, until, &e),
	    CODEQ_OK);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(st[i], CODEQ_OK);
		ck_assert(until[i] > t[i]->lease_until);
	}
	ck_assert_int_eq(st[3], CODEQ_ESTALE);
	for (i = 0; i < 3; i++) {
		cm[i].id = t[i]->id;
		cm[i].token = t[i]->lease_token;
		cm[i].result = i == 2 ? "not json" : "{\"i\":1}";
	}
	ck_assert_int_eq(codeq_complete_batch(c, cm, 3, st, &e), CODEQ_OK);
	ck_assert_int_eq(st[0], CODEQ_OK);
	ck_assert_int_eq(st[1], CODEQ_OK);
	ck_assert_int_eq(st[2], CODEQ_EINVAL);
	ck_assert_int_eq(codeq_stats_get(c, q, &s, &e), CODEQ_OK);
	ck_assert_int_eq(s.completed, 2);
	ck_assert_int_eq(s.leased, 1);
	for (i = 0; i < 3; i++)
		codeq_task_free(t[i]);
	codeq_close(c);
}
END_TEST

START_TEST(backoff_and_dlq)
{
	codeq_t *c = conn(NULL);
	codeq_task_spec s = { .queue = "retry", .payload = "{}",
	    .max_attempts = 3 };
	codeq_backoff b = { .base_ms = 100, .max_ms = 150, .jitter_pct = 0 };
	char id[CODEQ_ID_MAX];
	codeq_task *t, **list;
	codeq_stats st;
	codeq_error e;
	size_t n, moved, purged;
	int64_t due0;

	ck_assert_int_eq(codeq_queue_set_backoff(c, "retry", &b, &e), CODEQ_OK);
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	/* Attempt 1 -> 100 ms, attempt 2 -> 200 capped to 150 ms. */
	t = claim1(c, "retry", 5000);
	ck_assert_int_eq(codeq_nack(c, id, t->lease_token, -1, "boom 1", &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DELAYED);
	ck_assert_str_eq(t->error, "boom 1");
	due0 = t->due_at;
	codeq_task_free(t);
	t = claim_wait(c, "retry", 5000);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(codeq_fail(c, id, t->lease_token, "boom 2", 0, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DELAYED);
	ck_assert(t->due_at > due0);
	codeq_task_free(t);
	/* Explicit delay 0 -> ready at once, but this is the last attempt. */
	t = claim_wait(c, "retry", 5000);
	ck_assert_int_eq(t->attempts, 3);
	ck_assert_int_eq(codeq_nack(c, id, t->lease_token, 0, "boom 3", &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DEAD);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_stats_get(c, "retry", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.dlq, 1);
	ck_assert_int_eq(st.retried, 2);
	ck_assert_int_eq(st.dead_lettered, 1);
	/* dlq list / requeue by id / purge. */
	ck_assert_int_eq(codeq_dlq_list(c, "retry", 0, 10, &list, &n, &e),
	    CODEQ_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(list[0]->id, id);
	ck_assert_str_eq(list[0]->error, "boom 3");
	codeq_tasks_free(list, n);
	ck_assert_int_eq(codeq_dlq_requeue(c, "retry", id, 0, &moved, &e),
	    CODEQ_OK);
	ck_assert_int_eq(moved, 1);
	ck_assert_int_eq(codeq_dlq_requeue(c, "retry", id, 0, &moved, &e),
	    CODEQ_ENOTFOUND);
	t = claim1(c, "retry", 5000);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->attempts, 1);
	/* Permanent failure: FAILED at once, no DLQ. */
	ck_assert_int_eq(codeq_fail(c, id, t->lease_token, "bad input", 1, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_result(c, id, 0, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_FAILED);
	codeq_task_free(t);
	/* Purge: two more dead tasks, by max_attempts 1. */
	s.max_attempts = 1;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
		t = claim1(c, "retry", 5000);
		ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, -1, "x",
		    &e), CODEQ_OK);
		codeq_task_free(t);
	}
	ck_assert_int_eq(codeq_dlq_purge(c, "retry", &purged, &e), CODEQ_OK);
	ck_assert_int_eq(purged, 2);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_ENOTFOUND);
	ck_assert_int_eq(codeq_stats_get(c, "retry", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.dlq, 0);
	codeq_close(c);
}
END_TEST

/* The delay a nack chose, from the server's own timestamps. */
static long long
nack_delay(redisContext *r, const char *id)
{
	char *due, *upd;
	long long d;

	due = raw_str(r, "HGET codeq:{jitter}:t:%s due_at", strchr(id, ':') + 1);
	upd = raw_str(r, "HGET codeq:{jitter}:t:%s updated_at",
	    strchr(id, ':') + 1);
	ck_assert(due != NULL && upd != NULL);
	d = strtoll(due, NULL, 10) - strtoll(upd, NULL, 10);
	free(due);
	free(upd);
	return d;
}

/* Error texts are cut at 16 KiB, never inside a character: the text
 * becomes a JSON string in the result callback. */
START_TEST(long_error_cut)
{
	codeq_t *c = conn(NULL);
	codeq_task_spec s = { .queue = "longerr", .payload = "{}",
	    .max_attempts = 1 };
	char id[CODEQ_ID_MAX], *text;
	codeq_task *t;
	codeq_error e;

	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	t = claim1(c, "longerr", 5000);
	ck_assert_ptr_nonnull(t);
	/* 16383 bytes, then U+20AC across the 16384-byte limit. */
	ck_assert_ptr_nonnull(text = malloc(16384 + 16));
	memset(text, 'a', 16383);
	memcpy(text + 16383, "\xe2\x82\xac tail", 9);
	ck_assert_int_eq(codeq_nack(c, id, t->lease_token, 0, text, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DEAD);
	ck_assert_uint_eq(strlen(t->error), 16383);
	ck_assert_int_eq(strncmp(t->error, text, 16383), 0);
	codeq_task_free(t);
	free(text);
	codeq_close(c);
}
END_TEST

START_TEST(backoff_jitter_and_growth)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	codeq_backoff b = { .base_ms = 10000, .max_ms = 3600000,
	    .jitter_pct = 50 };
	long long d, first = -1;
	int i, differ = 0;
	codeq_task *t;
	codeq_error e;

	ck_assert_int_eq(codeq_queue_set_backoff(c, "jitter", &b, &e), CODEQ_OK);
	for (i = 0; i < 8; i++) {
		enq(c, "jitter", 0, "{}", NULL);
		t = claim1(c, "jitter", 5000);
		ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, -1, "x",
		    &e), CODEQ_OK);
		d = nack_delay(r, t->id);
		/* attempt 1: 10 s +/- 50 % */
		ck_assert_msg(d >= 5000 && d <= 15000, "delay %lld", d);
		if (first < 0)
			first = d;
		else if (d != first)
			differ = 1;
		codeq_task_free(t);
	}
	ck_assert_msg(differ, "jitter: every delay was %lld", first);
	/* Growth: attempt n waits 10 s * 2^(n-1) (no jitter now). */
	b.jitter_pct = 0;
	ck_assert_int_eq(codeq_queue_set_backoff(c, "jitter", &b, &e), CODEQ_OK);
	enq(c, "jitter", 0, "{}", NULL);	/* the others are still delayed */
	for (i = 1; i <= 3; i++) {
		t = claim1(c, "jitter", 5000);
		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(t->attempts, i);
		ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, -1, "x",
		    &e), CODEQ_OK);
		d = nack_delay(r, t->id);
		ck_assert_int_eq(d, 10000LL << (i - 1));
		/* Make it due now for the next round. */
		raw_do(r, "ZADD codeq:{jitter}:delayed 0 %s", t->id);
		codeq_task_free(t);
	}
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(reap_to_dlq_and_requeue_all)
{
	codeq_t *c = conn(NULL);
	codeq_task_spec s = { .queue = "reapdlq", .payload = "{}",
	    .max_attempts = 1 };
	char id[CODEQ_ID_MAX];
	codeq_task *t;
	codeq_stats st;
	codeq_error e;
	size_t reaped = 0, moved;
	int64_t end;
	int i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
		codeq_task_free(claim1(c, "reapdlq", 50));
	}
	end = now_ms() + 10000;
	while (reaped < 3 && now_ms() < end) {
		size_t k = 0;
		ck_assert_int_eq(codeq_reap(c, "reapdlq", 0, &k, &e), CODEQ_OK);
		reaped += k;
		if (reaped < 3)
			sleep_ms(20);
	}
	ck_assert_int_eq(reaped, 3);
	ck_assert_int_eq(codeq_get(c, id, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DEAD);
	ck_assert_str_eq(t->error, "lease expired");
	codeq_task_free(t);
	ck_assert_int_eq(codeq_dlq_requeue(c, "reapdlq", NULL, 2, &moved, &e),
	    CODEQ_OK);
	ck_assert_int_eq(moved, 2);
	ck_assert_int_eq(codeq_stats_get(c, "reapdlq", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.dlq, 1);
	ck_assert_int_eq(st.ready_total, 2);
	codeq_close(c);
}
END_TEST

START_TEST(retention)
{
	codeq_options o = { .retention_ms = 300 };
	codeq_t *c = conn(&o);
	redisContext *r = raw();
	codeq_task *t;
	codeq_error e;
	char id[CODEQ_ID_MAX], key[200];
	long long ttl;
	int64_t end;
	int rc;

	enq(c, "keep", 0, "{}", id);
	t = claim1(c, "keep", 5000);
	snprintf(key, sizeof(key), "codeq:{keep}:t:%s", strchr(id, ':') + 1);
	ck_assert_int_eq(raw_int(r, "PTTL %s", key), -1);
	ck_assert_int_eq(codeq_complete(c, id, t->lease_token, NULL, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ttl = raw_int(r, "PTTL %s", key);
	ck_assert(ttl > 0 && ttl <= 300);
	end = now_ms() + 10000;
	while ((rc = codeq_get(c, id, &t, &e)) == CODEQ_OK && now_ms() < end) {
		codeq_task_free(t);
		sleep_ms(50);
	}
	ck_assert_int_eq(rc, CODEQ_ENOTFOUND);
	redisFree(r);
	codeq_close(c);
}
END_TEST

/* Checks the outbox item n of queue q. */
static void
check_cb(redisContext *r, const char *q, int n, const char *task,
    const char *status, const char *error)
{
	char *v;

	v = raw_str(r, "ZSCORE codeq:{%s}:outbox %d", q, n);
	ck_assert_msg(v != NULL, "item %d not in the outbox", n);
	free(v);
	v = raw_str(r, "HGET codeq:{%s}:cb:%d task_id", q, n);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, task);
	free(v);
	v = raw_str(r, "HGET codeq:{%s}:cb:%d status", q, n);
	ck_assert_str_eq(v, status);
	free(v);
	v = raw_str(r, "HGET codeq:{%s}:cb:%d url", q, n);
	ck_assert_str_eq(v, "http://127.0.0.1:9/hook");
	free(v);
	v = raw_str(r, "HGET codeq:{%s}:cb:%d error", q, n);
	ck_assert_str_eq(v, error);
	free(v);
	v = raw_str(r, "HGET codeq:{%s}:cb:%d traceparent", q, n);
	ck_assert_str_eq(v, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	free(v);
}

START_TEST(outbox_on_every_terminal_state)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	codeq_task_spec s = { .queue = "cb", .payload = "{}",
	    .webhook = "http://127.0.0.1:9/hook", .max_attempts = 1,
	    .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
	char id[4][CODEQ_ID_MAX], plain[CODEQ_ID_MAX];
	codeq_task *t;
	codeq_stats st;
	codeq_error e;
	size_t reaped = 0;
	int64_t end;
	int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(codeq_enqueue(c, &s, id[i], NULL, &e), CODEQ_OK);
	t = claim1(c, "cb", 5000);
	ck_assert_int_eq(codeq_complete(c, t->id, t->lease_token,
	    "{\"r\":42}", &e), CODEQ_OK);
	codeq_task_free(t);
	t = claim1(c, "cb", 5000);
	ck_assert_int_eq(codeq_fail(c, t->id, t->lease_token, "nope", 1, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	t = claim1(c, "cb", 5000);
	ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, -1, "again", &e),
	    CODEQ_OK);
	codeq_task_free(t);
	t = claim1(c, "cb", 50);
	codeq_task_free(t);
	end = now_ms() + 10000;
	while (reaped == 0 && now_ms() < end) {
		ck_assert_int_eq(codeq_reap(c, "cb", 0, &reaped, &e), CODEQ_OK);
		if (reaped == 0)
			sleep_ms(20);
	}
	/* No webhook, no callback item. */
	s.webhook = NULL;
	ck_assert_int_eq(codeq_enqueue(c, &s, plain, NULL, &e), CODEQ_OK);
	t = claim1(c, "cb", 5000);
	ck_assert_int_eq(codeq_complete(c, t->id, t->lease_token, NULL, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	ck_assert_int_eq(raw_int(r, "ZCARD codeq:{cb}:outbox"), 4);
	check_cb(r, "cb", 1, id[0], "completed", "");
	check_cb(r, "cb", 2, id[1], "failed", "nope");
	check_cb(r, "cb", 3, id[2], "dead", "again");
	check_cb(r, "cb", 4, id[3], "dead", "lease expired");
	t = NULL;
	{
		char *v = raw_str(r, "HGET codeq:{cb}:cb:1 result");
		ck_assert_str_eq(v, "{\"r\":42}");
		free(v);
	}
	ck_assert_int_eq(codeq_stats_get(c, "cb", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.outbox, 4);
	redisFree(r);
	codeq_close(c);
}
END_TEST

/* Runs outbox script name on queue q's outbox with argv[0..n-1] after
 * the queue's name (EVAL with its source, as the callbacks process does
 * after a NOSCRIPT). */
static redisReply *
cb_script(redisContext *r, const char *name, const char *q, int n,
    const char **argv)
{
	const char *av[n + 5];
	char key[128];
	redisReply *rep;
	int i;

	snprintf(key, sizeof(key), "codeq:{%s}:outbox", q);
	av[0] = "EVAL";
	av[1] = script_source(name);
	av[2] = "1";
	av[3] = key;
	av[4] = q;
	for (i = 0; i < n; i++)
		av[5 + i] = argv[i];
	ck_assert(av[1] != NULL);
	rep = redisCommandArgv(r, n + 5, av, NULL);
	ck_assert(rep != NULL);
	ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "%s: %s", name, rep->str);
	return rep;
}

/* cb_take of queue q, visibility vis_ms: the one item it must take, its
 * lease (*until, a string) and this delivery's number.  Each take has a
 * new nonce; the item keeps the webhook id its first take gave it. */
static int
cb_take1(redisContext *r, const char *q, const char *vis_ms, char *until)
{
	static int takes;
	char nonce[16];
	const char *av[] = { "10", vis_ms, "10", "256", "1000", nonce };
	redisReply *rep;
	int d;

	snprintf(nonce, sizeof(nonce), "n%d", ++takes);
	rep = cb_script(r, "cb_take", q, 6, av);
	ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(rep->elements, 13);
	ck_assert_int_eq(rep->element[0]->integer, 0);
	snprintf(until, 32, "%s", rep->element[1]->str);
	ck_assert_str_eq(rep->element[2]->str, "1");
	d = atoi(rep->element[11]->str);
	ck_assert_str_eq(rep->element[12]->str, "cb_n1_1");
	freeReplyObject(rep);
	return d;
}

/* Field f of callback item 1 of queue cbf is want. */
static void
cbf_field_is(redisContext *r, const char *f, const char *want)
{
	char *v = raw_str(r, "HGET codeq:{cbf}:cb:1 %s", f);

	ck_assert_msg(v != NULL && strcmp(v, want) == 0, "%s: %s, not %s", f,
	    v ? v : "(nil)", want);
	free(v);
}

static long long
cb_settle(redisContext *r, const char *name, const char *q, int n,
    const char **argv)
{
	redisReply *rep = cb_script(r, name, q, n, argv);
	long long v;

	ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/*
 * The outbox lease: cb_take pushes an item's score to its lease's end U
 * and returns U; cb_retry and cb_dead act only for the sender whose U is
 * still the item's score.  deliveries counts failed deliveries: a take
 * does not count one, nor does a release.
 */
START_TEST(outbox_lease_fencing)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	codeq_task_spec s = { .queue = "cbf", .payload = "{}",
	    .webhook = "http://127.0.0.1:9/hook" };
	char id[CODEQ_ID_MAX], u1[32], u2[32], u3[32], u4[32], *v;
	codeq_task *t;
	codeq_error e;

	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	t = claim1(c, "cbf", 5000);
	ck_assert_int_eq(codeq_complete(c, t->id, t->lease_token, "{}", &e),
	    CODEQ_OK);
	codeq_task_free(t);
	/* Taken by a sender whose lease runs out, then by another. */
	ck_assert_int_eq(cb_take1(r, "cbf", "20", u1), 1);
	sleep_ms(40);
	ck_assert_int_eq(cb_take1(r, "cbf", "60000", u2), 1);
	ck_assert(strtoll(u2, NULL, 10) > strtoll(u1, NULL, 10));
	{
		/* The first sender is refused: nothing changes. */
		const char *retry[] = { "500", "boom", "0", "1", u1, "0" };
		const char *dead[] = { "404", "gone", "1", u1 };

		ck_assert_int_eq(cb_settle(r, "cb_retry", "cbf", 6, retry), 0);
		ck_assert_int_eq(cb_settle(r, "cb_dead", "cbf", 4, dead), 0);
		v = raw_str(r, "ZSCORE codeq:{cbf}:outbox 1");
		ck_assert_str_eq(v, u2);
		free(v);
		ck_assert_int_eq(raw_int(r, "LLEN codeq:{cbf}:cbdlq"), 0);
	}
	{
		/* The second one's failure is counted, due again now. */
		const char *retry[] = { "500", "boom", "0", "1", u2, "0" };

		ck_assert_int_eq(cb_settle(r, "cb_retry", "cbf", 6, retry), 1);
		cbf_field_is(r, "deliveries", "1");
		cbf_field_is(r, "last_status", "500");
	}
	/* The next delivery is the second; given back unsent (release), it
	 * is not counted. */
	ck_assert_int_eq(cb_take1(r, "cbf", "60000", u3), 2);
	{
		const char *release[] = { "0", "", "1", "1", u3, "0" };

		ck_assert_int_eq(cb_settle(r, "cb_retry", "cbf", 6, release), 1);
	}
	ck_assert_int_eq(cb_take1(r, "cbf", "60000", u4), 2);
	{
		const char *dead[] = { "404", "gone", "1", u4 };

		ck_assert_int_eq(cb_settle(r, "cb_dead", "cbf", 4, dead), 1);
	}
	ck_assert_int_eq(raw_int(r, "ZCARD codeq:{cbf}:outbox"), 0);
	ck_assert_int_eq(raw_int(r, "LLEN codeq:{cbf}:cbdlq"), 1);
	cbf_field_is(r, "deliveries", "2");
	cbf_field_is(r, "last_error", "gone");
	redisFree(r);
	codeq_close(c);
}
END_TEST

/* Next message on a subscribed raw connection, or NULL (malloc()ed). */
static char *
next_message(redisContext *sub)
{
	redisReply *rep = NULL;
	char *m = NULL;

	if (redisGetReply(sub, (void **)&rep) != REDIS_OK || rep == NULL)
		return NULL;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
	    rep->element[2]->type == REDIS_REPLY_STRING)
		m = strdup(rep->element[2]->str);
	freeReplyObject(rep);
	return m;
}

START_TEST(ready_notifications)
{
	struct timeval tv = { 10, 0 };
	codeq_t *c = conn(NULL);
	redisContext *sub = raw();
	codeq_task_spec s = { .queue = "pub", .payload = "{}", .delay_ms = 1 };
	char id[CODEQ_ID_MAX], *m;
	codeq_task *t;
	codeq_error e;
	size_t moved = 0;
	int64_t end;

	redisSetTimeout(sub, tv);
	raw_do(sub, "SUBSCRIBE codeq:ready");
	enq(c, "pub", 0, "{}", NULL);
	m = next_message(sub);
	ck_assert_str_eq(m, "pub 1");
	free(m);
	/* Delayed: nothing now; "pub 1" when promoted. */
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	end = now_ms() + 10000;
	while (moved == 0 && now_ms() < end) {
		sleep_ms(5);
		ck_assert_int_eq(codeq_promote(c, "pub", 0, &moved, &e), CODEQ_OK);
	}
	m = next_message(sub);
	ck_assert_str_eq(m, "pub 1");
	free(m);
	/* A requeue without delay. */
	t = claim1(c, "pub", 5000);
	ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, 0, NULL, &e),
	    CODEQ_OK);
	codeq_task_free(t);
	m = next_message(sub);
	ck_assert_str_eq(m, "pub 1");
	free(m);
	redisFree(sub);
	codeq_close(c);
}
END_TEST

/* The next message on sub must be "Q WAIT_MS" with lo <= WAIT_MS <= hi. */
static void
expect_delayed(redisContext *sub, const char *q, long lo, long hi)
{
	char *m = next_message(sub), *end;
	size_t n = strlen(q);
	long w;

	ck_assert_msg(m != NULL, "no codeq:delayed message for %s", q);
	ck_assert_msg(strncmp(m, q, n) == 0 && m[n] == ' ', "message %s", m);
	w = strtol(m + n + 1, &end, 10);
	ck_assert_msg(*end == '\0' && w >= lo && w <= hi,
	    "message %s: wait not in [%ld, %ld]", m, lo, hi);
	free(m);
}

/* codeq:delayed: "Q WAIT_MS" whenever a task becomes the earliest due of
 * its queue's delayed set (enqueue, nack with a delay, reap with the
 * backoff), and only then. */
START_TEST(delayed_notifications)
{
	struct timeval tv = { 10, 0 };
	codeq_t *c = conn(NULL);
	redisContext *sub = raw();
	codeq_task_spec s = { .queue = "dpub", .payload = "{}",
	    .delay_ms = 60000 };
	char id[CODEQ_ID_MAX];
	codeq_task *t, *t2;
	codeq_error e;
	size_t reaped = 0;
	int64_t end;

	redisSetTimeout(sub, tv);
	raw_do(sub, "SUBSCRIBE codeq:delayed");
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	expect_delayed(sub, "dpub", 59000, 60000);
	/* A retry due sooner comes first; one due later says nothing. */
	enq(c, "dpub", 0, "{}", NULL);
	enq(c, "dpub", 0, "{}", NULL);
	t = claim1(c, "dpub", 5000);
	t2 = claim1(c, "dpub", 5000);
	ck_assert_int_eq(codeq_nack(c, t->id, t->lease_token, 30000, NULL,
	    &e), CODEQ_OK);
	expect_delayed(sub, "dpub", 29000, 30000);
	ck_assert_int_eq(codeq_nack(c, t2->id, t2->lease_token, 90000, NULL,
	    &e), CODEQ_OK);
	codeq_task_free(t);
	codeq_task_free(t2);
	s.delay_ms = 1000;
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_OK);
	expect_delayed(sub, "dpub", 0, 1000);
	/* A reaped lease, retried after the queue's backoff (1 s +/- 20 %). */
	enq(c, "dpub2", 0, "{}", NULL);
	t = claim1(c, "dpub2", 20);
	codeq_task_free(t);
	end = now_ms() + 10000;
	while (reaped == 0 && now_ms() < end) {
		sleep_ms(20);
		ck_assert_int_eq(codeq_reap(c, "dpub2", 0, &reaped, &e),
		    CODEQ_OK);
	}
	ck_assert_int_eq(reaped, 1);
	expect_delayed(sub, "dpub2", 0, 1200);
	redisFree(sub);
	codeq_close(c);
}
END_TEST

/* release: a graceful give-back.  The claim's attempt is refunded (a
 * task on its last attempt is not dead-lettered), the reason recorded,
 * the task back at the head of its ready list, the old token fenced. */
START_TEST(release_refunds_attempt)
{
	struct timeval tv = { 10, 0 };
	codeq_t *c = conn(NULL);
	redisContext *r = raw(), *sub = raw();
	codeq_task_spec s = { .queue = "rel", .payload = "{}",
	    .max_attempts = 1 };
	char a[CODEQ_ID_MAX], b[CODEQ_ID_MAX], *old, *m;
	codeq_task *t, *u;
	codeq_stats st;
	codeq_error e;

	ck_assert_int_eq(codeq_enqueue(c, &s, a, NULL, &e), CODEQ_OK);
	ck_assert_int_eq(codeq_enqueue(c, &s, b, NULL, &e), CODEQ_OK);
	t = claim1(c, "rel", 5000);
	ck_assert_str_eq(t->id, a);
	ck_assert_int_eq(t->attempts, 1);	/* its last one */
	old = strdup(t->lease_token);
	redisSetTimeout(sub, tv);
	raw_do(sub, "SUBSCRIBE codeq:ready");
	ck_assert_int_eq(codeq_release(c, a, old, "given back at shutdown",
	    &e), CODEQ_OK);
	m = next_message(sub);
	ck_assert_str_eq(m, "rel 1");
	free(m);
	ck_assert_int_eq(codeq_get(c, a, &u, &e), CODEQ_OK);
	ck_assert_int_eq(u->status, CODEQ_READY);
	ck_assert_int_eq(u->attempts, 0);
	ck_assert_int_eq(u->max_attempts, 1);
	ck_assert_str_eq(u->error, "given back at shutdown");
	ck_assert_ptr_null(u->lease_token);
	codeq_task_free(u);
	/* At the head of its list, ahead of b; out of the lease set. */
	m = raw_str(r, "LINDEX codeq:{rel}:ready:0 0");
	ck_assert_str_eq(m, a);
	free(m);
	ck_assert_int_eq(raw_int(r, "ZCARD codeq:{rel}:leased"), 0);
	ck_assert_int_eq(codeq_stats_get(c, "rel", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.retried, 0);
	ck_assert_int_eq(st.dead_lettered, 0);
	ck_assert_int_eq(st.dlq, 0);
	m = raw_str(r, "HGET codeq:{rel}:stats released");
	ck_assert_str_eq(m, "1");
	free(m);
	/* The old holder is fenced: a second release, a completion. */
	ck_assert_int_eq(codeq_release(c, a, old, NULL, &e), CODEQ_ESTALE);
	ck_assert_int_eq(codeq_complete(c, a, old, "{}", &e), CODEQ_ESTALE);
	codeq_task_free(t);
	/* Claimed again first, on attempt 1 again, and it can complete. */
	t = claim1(c, "rel", 5000);
	ck_assert_str_eq(t->id, a);
	ck_assert_int_eq(t->attempts, 1);
	ck_assert_str_ne(t->lease_token, old);
	ck_assert_int_eq(codeq_complete(c, a, t->lease_token, "{}", &e),
	    CODEQ_OK);
	/* Refusals: not leased any more, unknown task, no token. */
	ck_assert_int_eq(codeq_release(c, a, t->lease_token, "x", &e),
	    CODEQ_ESTATE);
	ck_assert_int_eq(codeq_release(c, "rel:999", "1", "x", &e),
	    CODEQ_ENOTFOUND);
	ck_assert_int_eq(codeq_release(c, a, NULL, "x", &e), CODEQ_EINVAL);
	codeq_task_free(t);
	t = claim1(c, "rel", 5000);
	ck_assert_str_eq(t->id, b);
	ck_assert_int_eq(codeq_complete(c, b, t->lease_token, "{}", &e),
	    CODEQ_OK);
	codeq_task_free(t);
	free(old);
	redisFree(sub);
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(bad_input)
{
	codeq_options o = { .max_payload = 100 };
	codeq_t *c = conn(&o);
	codeq_task_spec s = { .queue = "bad", .payload = "{}", .priority = 12 };
	char id[CODEQ_ID_MAX], big[200];
	codeq_task *t;
	codeq_error e;

	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_str_eq(e.msg, "priority: must be 0-9, got 12");
	s.priority = -1;
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	s.priority = 0;
	s.payload = "{\"a\":";
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_msg(strncmp(e.msg, "payload: not valid JSON", 23) == 0, "%s",
	    e.msg);
	memset(big, 'x', sizeof(big));
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	s.payload = big;
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_ETOOBIG);
	ck_assert_msg(strstr(e.msg, "payload: 199 bytes") != NULL, "%s", e.msg);
	s.payload = "{}";
	s.queue = "bad queue";
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_msg(strncmp(e.msg, "queue:", 6) == 0, "%s", e.msg);
	s.queue = "bad";
	s.webhook = "ftp://x";
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_msg(strncmp(e.msg, "webhook:", 8) == 0, "%s", e.msg);
	/* The host is checked too (lib/urlpolicy.c), in batches as well. */
	s.webhook = "http:///hook";
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_str_eq(e.msg, "webhook: URL has no host, got 'http:///hook'");
	{
		codeq_enqueue_result res[2];
		codeq_task_spec b[2] = { s, s };

		b[1].webhook = "http://127.0.0.1:9/hook";
		ck_assert_int_eq(codeq_enqueue_batch(c, b, 2, res, &e),
		    CODEQ_OK);
		ck_assert_int_eq(res[0].status, CODEQ_EINVAL);
		ck_assert_msg(strstr(res[0].msg, "no host") != NULL, "%s",
		    res[0].msg);
		ck_assert_int_eq(res[1].status, CODEQ_OK);
	}
	s.webhook = NULL;
	/* Durations are bounded: now + delay must not overflow. */
	s.delay_ms = INT64_MAX;
	ck_assert_int_eq(codeq_enqueue(c, &s, id, NULL, &e), CODEQ_EINVAL);
	ck_assert_msg(strncmp(e.msg, "delay: longer than 100 years", 28) == 0,
	    "%s", e.msg);
	s.delay_ms = 0;
	ck_assert_int_eq(codeq_heartbeat(c, "bad:1", "1", INT64_MAX, NULL, &e),
	    CODEQ_EINVAL);
	ck_assert_int_eq(codeq_nack(c, "bad:1", "1", INT64_MAX, NULL, &e),
	    CODEQ_EINVAL);
	/* A list window past a 64-bit index is refused, not wrapped into
	 * LRANGE's negative (from the end) indexes. */
	{
		codeq_task **tl;
		codeq_callback *cl;
		size_t nl;

		ck_assert_int_eq(codeq_dlq_list(c, "bad", SIZE_MAX - 5, 10,
		    &tl, &nl, &e), CODEQ_EINVAL);
		ck_assert_int_eq(codeq_callbacks_dlq_list(c, "bad", SIZE_MAX - 5,
		    10, &cl, &nl, &e), CODEQ_EINVAL);
	}
	ck_assert_int_eq(codeq_get(c, "bad:424242", &t, &e), CODEQ_ENOTFOUND);
	ck_assert_msg(strstr(e.msg, "bad:424242") != NULL, "%s", e.msg);
	ck_assert_int_eq(codeq_get(c, "no-colon", &t, &e), CODEQ_EINVAL);
	ck_assert_int_eq(codeq_complete(c, "bad:424242", "1", NULL, &e),
	    CODEQ_ENOTFOUND);
	ck_assert_int_eq(codeq_result(c, "bad:424242", 0, &t, &e),
	    CODEQ_ENOTFOUND);
	codeq_close(c);
}
END_TEST

START_TEST(result_wait)
{
	codeq_t *c = conn(NULL);
	char id[CODEQ_ID_MAX];
	codeq_task *t;
	codeq_error e;
	pid_t pid;
	int status;

	enq(c, "wait", 0, "{}", id);
	ck_assert_int_eq(codeq_result(c, id, 0, &t, &e), CODEQ_ETIMEDOUT);
	ck_assert_int_eq(codeq_result(c, id, 100, &t, &e), CODEQ_ETIMEDOUT);
	ck_assert_msg(strstr(e.msg, "ready") != NULL, "%s", e.msg);
	/* Another process completes it while we wait. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		codeq_t *w = conn(NULL);
		codeq_task *k;
		sleep_ms(200);
		k = claim1(w, "wait", 5000);
		_exit(k == NULL || codeq_complete(w, k->id, k->lease_token,
		    "{\"done\":true}", NULL) != CODEQ_OK);
	}
	ck_assert_int_eq(codeq_result(c, id, 20000, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_COMPLETED);
	ck_assert_str_eq(t->result, "{\"done\":true}");
	codeq_task_free(t);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	codeq_close(c);
}
END_TEST

START_TEST(bad_urls)
{
	const char *bad[] = {
		"http://127.0.0.1:6379", "redis://", "redis://host:0",
		"redis://host:65536", "redis://host:12ab", "redis://host/x",
		"unix://relative.sock", "redis://[::1", "redis://ho st:1",
		"redis://:p%zz@host", "redis://host:1?x=1", "", NULL,
	};
	codeq_error e;
	codeq_t *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = '\0';
		ck_assert_msg(codeq_connect(bad[i], NULL, &c, &e) ==
		    CODEQ_EINVAL, "accepted '%s'", bad[i] ? bad[i] : "NULL");
		ck_assert_msg(strncmp(e.msg, "store URL:", 10) == 0, "%s",
		    e.msg);
		ck_assert_ptr_null(c);
	}
}
END_TEST

START_TEST(unreachable_store)
{
	codeq_options o = { .connect_timeout_ms = 300, .command_timeout_ms = 300 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char u[64];
	codeq_error e;
	codeq_t *c;
	int64_t t0;
	int fd;

	/* A listener that never answers: the TCP connect succeeds (backlog)
	 * but the handshake must time out. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(u, sizeof(u), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
	t0 = now_ms();
	ck_assert_int_eq(codeq_connect(u, &o, &c, &e), CODEQ_ESTORE);
	/* Generous bound: "no hang", not a benchmark. */
	ck_assert_msg(now_ms() - t0 < 10000, "took %lld ms",
	    (long long)(now_ms() - t0));
	ck_assert_msg(strstr(e.msg, "127.0.0.1") != NULL, "%s", e.msg);
	close(fd);
	/* Nothing listening at all. */
	ck_assert_int_eq(codeq_connect(u, &o, &c, &e), CODEQ_ESTORE);
}
END_TEST

/* A fake store for reset_link_is_not_fatal: answers PING, SCRIPT LOAD
 * and one EVALSHA, then closes once the client has been quiet for 200 ms. */
static void
fake_store(int fd)
{
	struct pollfd p;
	char buf[65536];
	ssize_t n;
	int cfd;

	if ((cfd = accept(fd, NULL, NULL)) < 0)
		_exit(1);
	p.fd = cfd;
	p.events = POLLIN;
	while (poll(&p, 1, 200) > 0) {
		if ((n = read(cfd, buf, sizeof(buf) - 1)) <= 0)
			break;
		buf[n] = '\0';
		const char *reply = strstr(buf, "PING") ? "+PONG\r\n" :
		    strstr(buf, "SCRIPT") ? "$40\r\n"
		    "0123456789012345678901234567890123456789\r\n" :
		    strstr(buf, "EVALSHA") ? "-NOTFOUND task x:1\r\n" : "";
		(void)!write(cfd, reply, strlen(reply));
	}
	close(cfd);		/* a graceful close: FIN */
	_exit(0);
}

START_TEST(reset_link_is_not_fatal)
{
	enum { N = 2000 };
	codeq_options o = { .reconnect_attempts = -1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	codeq_completion *cm = calloc(N, sizeof(*cm));
	char *result = malloc(8192);
	int *st = calloc(N, sizeof(*st));
	char u[64];
	codeq_error e;
	codeq_t *c;
	int fd, i;
	pid_t pid;

	/* SIGPIPE at its default action (terminate): writing a big pipeline
	 * to a link the store closed must be an error, not our death. */
	signal(SIGPIPE, SIG_DFL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(u, sizeof(u), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fake_store(fd);
	close(fd);
	ck_assert_int_eq(codeq_connect(u, &o, &c, &e), CODEQ_OK);
	/* Loads the script (its sha is cached), then gets NOTFOUND. */
	ck_assert_int_eq(codeq_complete(c, "x:1", "1", NULL, &e),
	    CODEQ_ENOTFOUND);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);	/* store gone */
	memset(result, ' ', 8190);
	result[0] = '"';
	result[8190] = '"';
	result[8191] = '\0';
	for (i = 0; i < N; i++) {
		cm[i].id = "x:1";
		cm[i].token = "1";
		cm[i].result = result;
	}
	ck_assert_int_eq(codeq_complete_batch(c, cm, N, st, &e), CODEQ_ESTORE);
	ck_assert_int_eq(st[0], CODEQ_ESTORE);
	codeq_close(c);
	free(cm);
	free(st);
	free(result);
}
END_TEST

START_TEST(reconnect_and_noscript)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	char id[CODEQ_ID_MAX];
	codeq_task *t;
	codeq_error e;
	int rc, fails = 0, i;

	enq(c, "recon", 0, "{}", id);
	/* The store forgets its scripts: enqueue reloads transparently. */
	raw_do(r, "SCRIPT FLUSH");
	enq(c, "recon", 0, "{}", NULL);
	/* The store drops our connection: at most one call fails. */
	raw_do(r, "CLIENT KILL TYPE normal SKIPME yes");
	for (i = 0; i < 3; i++) {
		rc = codeq_get(c, id, &t, &e);
		if (rc == CODEQ_OK) {
			codeq_task_free(t);
			break;
		}
		ck_assert_int_eq(rc, CODEQ_ESTORE);
		fails++;
	}
	ck_assert_int_eq(rc, CODEQ_OK);
	ck_assert_int_le(fails, 1);
	redisFree(r);
	codeq_close(c);
}
END_TEST

/* The reply type an asynchronous script call ended with (-1: none). */
static void
on_async_stats(redisAsyncContext *ac, redisReply *r, struct script_call *sc)
{
	*(int *)sc->priv = r == NULL ? -1 : r->type;
}

/* Drives ac by hand (no event loop) until *st is set. */
static void
async_pump(redisAsyncContext *ac, const int *st)
{
	int64_t end = now_ms() + 5000;
	struct pollfd p;

	while (*st == 0 && now_ms() < end) {
		p.fd = ac->c.fd;
		p.events = POLLIN | POLLOUT;
		ck_assert_int_ge(poll(&p, 1, 100), 0);
		if (p.revents & POLLOUT)
			redisAsyncHandleWrite(ac);
		if (p.revents & POLLIN)
			redisAsyncHandleRead(ac);
	}
}

/* The asynchronous runner: EVALSHA of the SHA1 it computes, EVAL once
 * on NOSCRIPT, which loads the script under that same SHA1. */
START_TEST(async_runner_noscript)
{
	redisContext *r = raw();
	redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", port);
	redisReply *rep;
	const char *args[2];
	struct script_call sc;
	char key[64];
	int st = 0;

	ck_assert(ac != NULL && ac->err == 0);
	raw_do(r, "SCRIPT FLUSH");
	ck_assert_int_eq(key_queue(key, sizeof(key), "async", CODEQ_KEY_STATS),
	    0);
	args[0] = key;
	args[1] = "async";
	memset(&sc, 0, sizeof(sc));
	sc.name = CODEQ_SCRIPT_STATS;
	sc.nkeys = 1;
	sc.nargs = 2;
	sc.args = args;
	sc.done = on_async_stats;
	sc.priv = &st;
	ck_assert_int_eq(script_async_run(ac, &sc), 0);
	async_pump(ac, &st);
	ck_assert_int_eq(st, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(sc.eval, 1);		/* NOSCRIPT, then EVAL */
	rep = redisCommand(r, "SCRIPT EXISTS %s",
	    script_sha(script_index(CODEQ_SCRIPT_STATS)));
	ck_assert(rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 1);
	ck_assert_int_eq(rep->element[0]->integer, 1);
	freeReplyObject(rep);
	st = 0;
	ck_assert_int_eq(script_async_run(ac, &sc), 0);
	async_pump(ac, &st);
	ck_assert_int_eq(st, REDIS_REPLY_ARRAY);
	ck_assert_int_eq(sc.eval, 0);		/* EVALSHA found it */
	sc.name = "nope";
	ck_assert_int_eq(script_async_run(ac, &sc), -1);
	redisAsyncFree(ac);
	redisFree(r);
}
END_TEST

/* Every thread of the store is in 't'/'T' state: kill() only queues
 * SIGSTOP, and a busy machine may let a store thread answer one more
 * request before it stops. */
static int
store_all_stopped(void)
{
	char path[64], buf[512], *p;
	struct dirent *d;
	int all = 1;
	DIR *dir;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)store_pid);
	if ((dir = opendir(path)) == NULL)
		return 1;	/* no /proc: nothing better to do */
	while (all && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "%s/%s/stat", path, d->d_name);
		if ((f = fopen(buf, "r")) == NULL)
			continue;	/* the thread is gone */
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL && p[1] == ' ')
			all = p[2] == 'T' || p[2] == 't';
		fclose(f);
	}
	closedir(dir);
	return all;
}

static void
store_stop(void)
{
	int64_t end = now_ms() + 5000;

	ck_assert_int_eq(kill(store_pid, SIGSTOP), 0);
	while (!store_all_stopped() && now_ms() < end)
		sleep_ms(5);
}

START_TEST(command_timeout)
{
	codeq_options o = { .command_timeout_ms = 300 };
	codeq_t *c = conn(&o);
	redisContext *r = raw();
	codeq_stats st;
	codeq_error e;
	int64_t end;
	int rc;

	/* The store stops answering (SIGSTOP of its process, which any
	 * store has; CLIENT PAUSE where the harness gives no pid): the call
	 * gives up with ESTORE instead of hanging, and a later call works
	 * again. */
	if (store_pid > 0)
		store_stop();
	else
		raw_do(r, "CLIENT PAUSE 1500 ALL");
	/* Without the timeout the call would wait and then succeed.  The
	 * store is woken before asserting, so a failure here does not
	 * leave it stopped for the tests after this one. */
	rc = codeq_stats_get(c, "pause", &st, &e);
	if (store_pid > 0)
		ck_assert_int_eq(kill(store_pid, SIGCONT), 0);
	ck_assert_int_eq(rc, CODEQ_ESTORE);
	ck_assert_msg(strstr(e.msg, "timed out") != NULL, "%s", e.msg);
	end = now_ms() + 15000;
	while ((rc = codeq_stats_get(c, "pause", &st, &e)) != CODEQ_OK &&
	    now_ms() < end)
		sleep_ms(100);
	ck_assert_int_eq(rc, CODEQ_OK);
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(password)
{
	redisContext *r = raw();
	char u[128];
	codeq_error e;
	codeq_t *c;
	int rc;

	raw_do(r, "CONFIG SET requirepass s@cr:t");
	snprintf(u, sizeof(u), "redis://:s%%40cr%%3At@127.0.0.1:%d/0", port);
	rc = codeq_connect(u, NULL, &c, &e);
	if (rc == CODEQ_OK)
		codeq_close(c);
	snprintf(u, sizeof(u), "redis://:wrong@127.0.0.1:%d", port);
	ck_assert_int_eq(codeq_connect(u, NULL, &c, &e), CODEQ_EAUTH);
	ck_assert_msg(strstr(e.msg, "refused the password") != NULL, "%s",
	    e.msg);
	ck_assert_ptr_null(strstr(e.msg, "wrong"));
	snprintf(u, sizeof(u), "redis://127.0.0.1:%d", port);
	ck_assert_int_eq(codeq_connect(u, NULL, &c, &e), CODEQ_EAUTH);
	ck_assert_msg(strstr(e.msg, "wants a password") != NULL, "%s", e.msg);
	/* The option overrides the URL's password. */
	{
		codeq_options o = { .password = "s@cr:t" };
		ck_assert_int_eq(codeq_connect(u, &o, &c, &e), CODEQ_OK);
		codeq_close(c);
	}
	raw_do(r, "AUTH s@cr:t");
	raw_do(r, "CONFIG SET requirepass %s", "");
	ck_assert_msg(rc == CODEQ_OK, "connect with the URL's password: %s",
	    e.msg);
	redisFree(r);
}
END_TEST

/* A batch interleaving queues goes as one call per run of one queue;
 * ids, order, duplicates within a call and the counters are as if each
 * task had been enqueued alone. */
START_TEST(batch_runs_of_queues)
{
	static const char *const q[] = { "bra", "bra", "brb", "bra", "bra",
	    "brb" };
	enum { N = sizeof(q) / sizeof(q[0]) };
	codeq_task_spec s[N];
	codeq_enqueue_result res[N];
	codeq_t *c = conn(NULL);
	codeq_stats st;
	codeq_error e;
	codeq_task *t;
	size_t i;

	memset(s, 0, sizeof(s));
	for (i = 0; i < N; i++) {
		s[i].queue = q[i];
		s[i].payload = "{}";
	}
	s[3].idempotency_key = "k";	/* the same call as task 4 */
	s[4].idempotency_key = "k";
	s[5].delay_ms = 60000;
	ck_assert_int_eq(codeq_enqueue_batch(c, s, N, res, &e), CODEQ_OK);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(res[i].status, CODEQ_OK);
	ck_assert_str_eq(res[0].id, "bra:1");
	ck_assert_str_eq(res[1].id, "bra:2");
	ck_assert_str_eq(res[2].id, "brb:1");
	ck_assert_str_eq(res[3].id, "bra:3");
	ck_assert_str_eq(res[4].id, "bra:3");
	ck_assert_int_eq(res[4].duplicate, 1);
	ck_assert_str_eq(res[5].id, "brb:2");
	ck_assert_int_eq(codeq_stats_get(c, "bra", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.enqueued, 3);
	ck_assert_int_eq(st.ready_total, 3);
	ck_assert_int_eq(codeq_stats_get(c, "brb", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.enqueued, 2);
	ck_assert_int_eq(st.delayed, 1);
	ck_assert_int_eq(codeq_get(c, "brb:2", &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_DELAYED);
	codeq_task_free(t);
	for (i = 1; i <= 3; i++) {
		char want[16];

		snprintf(want, sizeof(want), "bra:%zu", i);
		t = claim1(c, "bra", 1000);
		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t->id, want);	/* FIFO */
		codeq_task_free(t);
	}
	codeq_close(c);
}
END_TEST

/* A batch completion is one call per run of one queue: statuses per
 * task (a stale token and a finished task among good ones), results and
 * callbacks as if each had been completed alone. */
START_TEST(complete_batch_runs)
{
	codeq_t *c = conn(NULL);
	codeq_task *t[5];
	codeq_completion cm[6];
	codeq_task_spec sp = { .payload = "{}" };
	char id[CODEQ_ID_MAX];
	codeq_stats s;
	codeq_error e;
	int st[6], i;

	sp.webhook = "https://example.org/cb";
	for (i = 0; i < 5; i++) {
		sp.queue = i < 3 ? "cbr-a" : "cbr-b";
		ck_assert_int_eq(codeq_enqueue(c, &sp, id, NULL, &e), CODEQ_OK);
	}
	for (i = 0; i < 5; i++) {
		t[i] = claim1(c, i < 3 ? "cbr-a" : "cbr-b", 30000);
		ck_assert_ptr_nonnull(t[i]);
	}
	/* a, a, b, a (stale token), b, a (again: already completed) */
	cm[0] = (codeq_completion){ t[0]->id, t[0]->lease_token, "{\"r\":0}" };
	cm[1] = (codeq_completion){ t[1]->id, t[1]->lease_token, NULL };
	cm[2] = (codeq_completion){ t[3]->id, t[3]->lease_token, "3" };
	cm[3] = (codeq_completion){ t[2]->id, "999999", "2" };
	cm[4] = (codeq_completion){ t[4]->id, t[4]->lease_token, "4" };
	cm[5] = (codeq_completion){ t[0]->id, t[0]->lease_token, "0" };
	ck_assert_int_eq(codeq_complete_batch(c, cm, 6, st, &e), CODEQ_OK);
	ck_assert_int_eq(st[0], CODEQ_OK);
	ck_assert_int_eq(st[1], CODEQ_OK);
	ck_assert_int_eq(st[2], CODEQ_OK);
	ck_assert_int_eq(st[3], CODEQ_ESTALE);
	ck_assert_int_eq(st[4], CODEQ_OK);
	ck_assert_int_eq(st[5], CODEQ_ESTATE);
	ck_assert_int_eq(codeq_stats_get(c, "cbr-a", &s, &e), CODEQ_OK);
	ck_assert_int_eq(s.completed, 2);
	ck_assert_int_eq(s.leased, 1);
	ck_assert_int_eq(codeq_stats_get(c, "cbr-b", &s, &e), CODEQ_OK);
	ck_assert_int_eq(s.completed, 2);
	{
		redisContext *r = raw();
		redisReply *x = redisCommand(r, "ZCARD codeq:{cbr-a}:outbox");

		ck_assert_int_eq(x->integer, 2);	/* one callback each */
		freeReplyObject(x);
		x = redisCommand(r, "HGET codeq:{cbr-a}:t:1 result");
		ck_assert_str_eq(x->str, "{\"r\":0}");
		freeReplyObject(x);
		redisFree(r);
	}
	for (i = 0; i < 5; i++)
		codeq_task_free(t[i]);
	codeq_close(c);
}
END_TEST

START_TEST(bulk_100k)
{
	enum { N = 100000 };
	codeq_t *c = conn(NULL);
	codeq_task_spec *s = calloc(N, sizeof(*s));
	codeq_enqueue_result *res = calloc(N, sizeof(*res));
	codeq_stats st;
	codeq_error e;
	int64_t t0, ms;
	size_t i, ok = 0;

	for (i = 0; i < N; i++) {
		s[i].queue = "bulk";
		s[i].payload = "{\"n\":1}";
		s[i].priority = i % 10;
	}
	s[500].priority = 42;		/* one bad task among the good ones */
	s[700].idempotency_key = "same";	/* and a duplicate */
	s[900].idempotency_key = "same";
	t0 = now_ms();
	ck_assert_int_eq(codeq_enqueue_batch(c, s, N, res, &e), CODEQ_OK);
	ms = now_ms() - t0;
	for (i = 0; i < N; i++)
		ok += res[i].status == CODEQ_OK;
	ck_assert_int_eq(ok, N - 1);
	ck_assert_int_eq(res[500].status, CODEQ_EINVAL);
	ck_assert_str_eq(res[500].msg, "priority: must be 0-9, got 42");
	ck_assert_int_eq(res[900].duplicate, 1);
	ck_assert_str_eq(res[900].id, res[700].id);
	ck_assert_int_eq(codeq_stats_get(c, "bulk", &st, &e), CODEQ_OK);
	ck_assert_int_eq(st.enqueued, N - 2);
	ck_assert_int_eq(st.ready_total, N - 2);
	ck_assert_int_eq(st.ready[9], N / 10);
	{
		char **names;
		size_t nn, k, found = 0;
		ck_assert_int_eq(codeq_queues(c, &names, &nn, &e), CODEQ_OK);
		for (k = 0; k < nn; k++)
			found += strcmp(names[k], "bulk") == 0;
		ck_assert_int_eq(found, 1);
		codeq_strv_free(names, nn);
	}
	printf("bulk: %d tasks enqueued in %lld ms (%.0f/s)\n", N - 2,
	    (long long)ms, (N - 2) * 1000.0 / (ms ? ms : 1));
	free(s);
	free(res);
	codeq_close(c);
}
END_TEST

struct fsck_log {
	int n;
	char text[4096];
};

static void
fsck_cb(void *arg, const char *queue, const char *id, const char *problem,
    int repaired)
{
	struct fsck_log *l = arg;
	size_t len = strlen(l->text);

	l->n++;
	snprintf(l->text + len, sizeof(l->text) - len, "%s %s: %s%s\n", queue,
	    id ? id : "-", problem, repaired ? " (repaired)" : "");
}

START_TEST(fsck_detect_and_repair)
{
	codeq_t *c = conn(NULL);
	redisContext *r = raw();
	char a[CODEQ_ID_MAX], b[CODEQ_ID_MAX], cc[CODEQ_ID_MAX], d[CODEQ_ID_MAX];
	char e5[CODEQ_ID_MAX];
	struct fsck_log log = { 0 };
	codeq_task *t;
	codeq_error e;
	size_t problems = 99;

	enq(c, "fsck", 0, "{}", a);
	enq(c, "fsck", 0, "{}", b);
	enq(c, "fsck", 0, "{}", cc);
	enq(c, "fsck", 0, "{}", d);
	enq(c, "fsck", 0, "{}", e5);
	ck_assert_int_eq(codeq_fsck(c, "fsck", 0, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_msg(problems == 0, "%s", log.text);
	raw_do(r, "LREM codeq:{fsck}:ready:0 0 %s", a);		/* lost */
	raw_do(r, "RPUSH codeq:{fsck}:ready:0 fsck:9999");	/* dangling */
	raw_do(r, "ZADD codeq:{fsck}:leased 1 %s", b);		/* two places */
	raw_do(r, "HSET codeq:{fsck}:t:%s status completed",	/* terminal */
	    strchr(cc, ':') + 1);
	raw_do(r, "HSET codeq:{fsck}:t:%s priority 7",		/* wrong list */
	    strchr(d, ':') + 1);
	ck_assert_int_eq(codeq_fsck(c, "fsck", 0, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_msg(problems == 5, "%zu problems:\n%s", problems, log.text);
	ck_assert_msg(strstr(log.text, "fsck:9999") != NULL, "%s", log.text);
	log.n = 0;
	log.text[0] = '\0';
	ck_assert_int_eq(codeq_fsck(c, "fsck", 1, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_int_eq(problems, 5);
	ck_assert_msg(strstr(log.text, "(repaired)") != NULL, "%s", log.text);
	log.text[0] = '\0';
	ck_assert_int_eq(codeq_fsck(c, "fsck", 0, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_msg(problems == 0, "after repair:\n%s", log.text);
	/* The registry of queues is rebuilt from the queues' keys. */
	raw_do(r, "SREM codeq:queues fsck");
	log.text[0] = '\0';
	ck_assert_int_eq(codeq_fsck(c, NULL, 1, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_msg(strstr(log.text, "codeq:queues") != NULL, "%s", log.text);
	/* Every queue the earlier tests used is consistent: the scripts
	 * keep invariant 2 through all of them. */
	ck_assert_msg(problems == 1, "%zu problems in all queues:\n%s",
	    problems, log.text);
	/* Each task is where its status says. */
	ck_assert_int_eq(raw_int(r, "LPOS codeq:{fsck}:ready:0 %s", a) >= 0, 1);
	ck_assert_int_eq(raw_int(r, "EXISTS codeq:{fsck}:leased"), 0);
	ck_assert_int_eq(raw_int(r, "LLEN codeq:{fsck}:ready:7"), 1);
	ck_assert_int_eq(raw_int(r, "LLEN codeq:{fsck}:ready:0"), 3);
	ck_assert(raw_int(r, "PTTL codeq:{fsck}:t:%s", strchr(cc, ':') + 1) > 0);
	ck_assert_int_eq(raw_int(r, "SISMEMBER codeq:queues fsck"), 1);
	ck_assert_int_eq(codeq_get(c, b, &t, &e), CODEQ_OK);
	ck_assert_int_eq(t->status, CODEQ_READY);
	codeq_task_free(t);
	redisFree(r);
	codeq_close(c);
}
END_TEST

START_TEST(final_fsck_clean)
{
	codeq_t *c = conn(NULL);
	struct fsck_log log = { 0 };
	codeq_error e;
	size_t problems = 99;

	/* After every test above (100 000 bulk tasks included), the whole
	 * store still satisfies invariant 2. */
	ck_assert_int_eq(codeq_fsck(c, NULL, 0, fsck_cb, &log, &problems, &e),
	    CODEQ_OK);
	ck_assert_msg(problems == 0, "%zu problems:\n%s", problems, log.text);
	codeq_close(c);
}
END_TEST

static Suite *
storage_suite(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("scripts");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, priority_and_fifo);
	tcase_add_test(tc, claim_many_and_queues_in_order);
	tcase_add_test(tc, last_claim_record);
	tcase_add_test(tc, batch_runs_of_queues);
	tcase_add_test(tc, complete_batch_runs);
	tcase_add_test(tc, delay_and_promote);
	tcase_add_test(tc, idempotency);
	tcase_add_test(tc, fencing);
	tcase_add_test(tc, heartbeat_extends);
	tcase_add_test(tc, batch_heartbeat_and_complete);
	tcase_add_test(tc, backoff_and_dlq);
	tcase_add_test(tc, long_error_cut);
	tcase_add_test(tc, backoff_jitter_and_growth);
	tcase_add_test(tc, reap_to_dlq_and_requeue_all);
	tcase_add_test(tc, retention);
	tcase_add_test(tc, outbox_on_every_terminal_state);
	tcase_add_test(tc, outbox_lease_fencing);
	tcase_add_test(tc, fsck_detect_and_repair);
	tcase_add_test(tc, ready_notifications);
	tcase_add_test(tc, delayed_notifications);
	tcase_add_test(tc, release_refunds_attempt);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, result_wait);
	tcase_add_test(tc, bad_urls);
	tcase_add_test(tc, unreachable_store);
	tcase_add_test(tc, reset_link_is_not_fatal);
	tcase_add_test(tc, reconnect_and_noscript);
	tcase_add_test(tc, async_runner_noscript);
	tcase_add_test(tc, command_timeout);
	tcase_add_test(tc, bulk_100k);
	tcase_add_test(tc, final_fsck_clean);
	tcase_add_test(tc, password);	/* last: it changes the server */
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	const char *p;
	int failed;

	url = getenv("CODEQ_TEST_URL");
	p = getenv("REDIS_PORT");
	if (url == NULL || p == NULL) {
		fprintf(stderr, "storage_test: run me from tests/storage/scripts.sh "
		    "(CODEQ_TEST_URL and REDIS_PORT unset)\n");
		return 77;
	}
	port = atoi(p);
	if ((p = getenv("CODEQ_TEST_STORE_PID")) != NULL)
		store_pid = (pid_t)atoi(p);
	sr = srunner_create(storage_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
