/* tests/unit/shardmap.c - lib/shardmap.c: which store holds a queue
 * (exact names, globs, rendezvous hashing), which store a key goes to,
 * and the checks of a shard map.  tests/storage/shards.sh runs the
 * routing against real stores. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shardmap.h"
#include "unit.h"

#define NQ 10000

static struct shardmap *
build(const struct codeq_shard *s, size_t n, int hash)
{
	struct shardmap *m;
	codeq_error e;

	ck_assert_msg(shardmap_build(&m, s, n, hash, &e) == CODEQ_OK, "%s",
	    e.msg);
	return m;
}

static const char *
qname(size_t i)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "q-%zu", i);
	return buf;
}

START_TEST(explicit_rules)
{
	const char *a_q[] = { "mail*", "jobs" };
	const char *b_q[] = { "mailer", "m*" };
	const char *c_q[] = { "ma?l-x", "[xy]z" };
	const struct codeq_shard s[] = {
		{ "a", "redis://a", NULL, a_q, 2 },
		{ "b", "redis://b", NULL, b_q, 2 },
		{ "c", "redis://c", NULL, c_q, 2 },
	};
	struct shardmap *m = build(s, 3, 0);

	ck_assert_uint_eq(shardmap_route(m, "mailer"), 2);	/* exact first */
	ck_assert_uint_eq(shardmap_route(m, "mail-x"), 1);	/* first glob */
	ck_assert_uint_eq(shardmap_route(m, "mx"), 2);
	ck_assert_uint_eq(shardmap_route(m, "jobs"), 1);
	ck_assert_uint_eq(shardmap_route(m, "yz"), 3);
	ck_assert_uint_eq(shardmap_route(m, "jobs2"), 0);	/* no match */
	ck_assert_uint_eq(shardmap_route(m, "zz"), 0);
	shardmap_free(m);
	ck_assert_uint_eq(shardmap_route(NULL, "jobs"), 0);
}
END_TEST

static void
count(const struct shardmap *m, size_t *per, size_t nstores)
{
	size_t i;

	memset(per, 0, nstores * sizeof(*per));
	for (i = 0; i < NQ; i++)
		per[shardmap_route(m, qname(i))]++;
}

START_TEST(hash_spread)
{
	const struct codeq_shard s[] = {
		{ "b", "redis://b", NULL, NULL, 0 },
		{ "c", "redis://c", NULL, NULL, 0 },
	};
	struct shardmap *m = build(s, 2, 1);
	size_t per[3], i;

	count(m, per, 3);
	for (i = 0; i < 3; i++)
		ck_assert_msg(per[i] > NQ / 3 * 9 / 10 &&
		    per[i] < NQ / 3 * 11 / 10, "store %zu has %zu", i, per[i]);
	shardmap_free(m);
}
END_TEST

START_TEST(hash_add_remove)
{
	const struct codeq_shard s[] = {
		{ "b", "redis://b", NULL, NULL, 0 },
		{ "c", "redis://c", NULL, NULL, 0 },
		{ "d", "redis://d", NULL, NULL, 0 },
	};
	const struct codeq_shard without_b[] = { s[1], s[2] };
	struct shardmap *three = build(s, 2, 1), *four = build(s, 3, 1);
	struct shardmap *no_b = build(without_b, 2, 1);
	size_t i, moved = 0, r3, r4, rb;

	for (i = 0; i < NQ; i++) {
		r3 = shardmap_route(three, qname(i));
		r4 = shardmap_route(four, qname(i));
		if (r3 != r4) {
			ck_assert_uint_eq(r4, 3);	/* only onto d */
			moved++;
		}
		/* Without b (index 1): b's queues move, no other does;
		 * c and d are indexes 1 and 2 there. */
		rb = shardmap_route(no_b, qname(i));
		if (r4 != 1)
			ck_assert_uint_eq(rb, r4 == 0 ? 0 : r4 - 1);
	}
	ck_assert_msg(moved > NQ * 15 / 100 && moved < NQ * 35 / 100,
	    "%zu moved", moved);
	shardmap_free(three);
	shardmap_free(four);
	shardmap_free(no_b);
}
END_TEST

START_TEST(explicit_before_hash)
{
	const char *b_q[] = { "q-1*" };
	const struct codeq_shard s[] = {
		{ "b", "redis://b", NULL, b_q, 1 },
		{ "c", "redis://c", NULL, NULL, 0 },
	};
	struct shardmap *m = build(s, 2, 1);

	ck_assert_uint_eq(shardmap_route(m, "q-1"), 1);
	ck_assert_uint_eq(shardmap_route(m, "q-1999"), 1);
	shardmap_free(m);
}
END_TEST

static size_t
rk(const struct shardmap *m, const char *key)
{
	return shardmap_route_key(m, key, strlen(key));
}

START_TEST(route_key)
{
	const char *b_q[] = { "jobs" };
	const struct codeq_shard s[] = { { "b", "redis://b", NULL, b_q, 1 } };
	struct shardmap *m = build(s, 1, 0);

	ck_assert_uint_eq(rk(m, "codeq:{jobs}:ready:9"), 1);
	ck_assert_uint_eq(rk(m, "codeq:{jobs}:t:17"), 1);
	ck_assert_uint_eq(rk(m, "codeq:{jobs}"), 1);
	ck_assert_uint_eq(rk(m, "codeq:{other}:seq"), 0);
	ck_assert_uint_eq(rk(m, "codeq:queues"), 0);	/* global */
	ck_assert_uint_eq(rk(m, "codeq:subs"), 0);
	ck_assert_uint_eq(rk(m, "codeq:sub:abc"), 0);
	ck_assert_uint_eq(rk(m, "codeq:{jobs"), 0);	/* malformed */
	ck_assert_uint_eq(rk(m, "codeq:{}:x"), 0);
	ck_assert_uint_eq(rk(m, "x:{jobs}:seq"), 0);
	ck_assert_uint_eq(rk(m, ""), 0);
	/* The length bounds the key: a tag cut by it is not seen. */
	ck_assert_uint_eq(shardmap_route_key(m, "codeq:{jobs}:x", 10), 0);
	ck_assert_uint_eq(shardmap_route_key(m, "codeq:{jobs}:x", 12), 1);
	shardmap_free(m);
}
END_TEST

static void
refused(const struct codeq_shard *s, size_t n, const char *want)
{
	struct shardmap *m = (struct shardmap *)1;
	codeq_error e;

	ck_assert_int_eq(shardmap_build(&m, s, n, 0, &e), CODEQ_EINVAL);
	ck_assert_ptr_eq(m, NULL);
	ck_assert_msg(strstr(e.msg, want) != NULL, "'%s' lacks '%s'", e.msg,
	    want);
}

START_TEST(validation)
{
	const char *x_q[] = { "x" }, *bad_q[] = { "a b" };
	const char *bad_glob[] = { "a[bc" }, *null_q[] = { NULL };
	const struct codeq_shard dup[] = {
		{ "a", "redis://a", NULL, NULL, 0 },
		{ "a", "redis://b", NULL, NULL, 0 },
	};
	const struct codeq_shard home[] = { { "home", "redis://a", NULL, NULL, 0 } };
	const struct codeq_shard twice[] = {
		{ "a", "redis://a", NULL, x_q, 1 },
		{ "b", "redis://b", NULL, x_q, 1 },
	};
	const struct codeq_shard nourl[] = { { "a", "", NULL, NULL, 0 } };
	const struct codeq_shard nullurl[] = { { "a", NULL, NULL, NULL, 0 } };
	const struct codeq_shard noname[] = { { NULL, "redis://a", NULL, NULL, 0 } };
	const struct codeq_shard badq[] = { { "a", "redis://a", NULL, bad_q, 1 } };
	const struct codeq_shard badg[] = { { "a", "redis://a", NULL, bad_glob, 1 } };
	const struct codeq_shard nullq[] = { { "a", "redis://a", NULL, null_q, 1 } };

	refused(dup, 2, "shard 'a' is defined twice");
	refused(home, 1, "home store's");
	refused(twice, 2, "queue 'x' is claimed by shards a and b");
	refused(nourl, 1, "shard 'a': no url");
	refused(nullurl, 1, "shard 'a': no url");
	refused(noname, 1, "shard 1: no name");
	refused(badq, 1, "invalid queue name 'a b'");
	refused(badg, 1, "invalid queue pattern 'a[bc'");
	refused(nullq, 1, "queue 1 is NULL");
}
END_TEST

/* The map outlives the options it was built from (codeqd and the CLI
 * free them once connected): it holds copies. */
START_TEST(owns_its_rules)
{
	char *names[] = { strdup("jobs"), strdup("mail-*") };
	struct codeq_shard s = { "b", "redis://b", NULL,
	    (const char *const *)names, 2 };
	struct shardmap *m = build(&s, 1, 0);

	memset(names[0], 'x', 4);
	memset(names[1], 'x', 6);
	free(names[0]);
	free(names[1]);
	ck_assert_uint_eq(shardmap_route(m, "jobs"), 1);
	ck_assert_uint_eq(shardmap_route(m, "mail-out"), 1);
	ck_assert_uint_eq(shardmap_route(m, "xxxx"), 0);
	shardmap_free(m);
}
END_TEST

START_TEST(no_shards)
{
	struct shardmap *m = build(NULL, 0, 1);

	ck_assert_uint_eq(m->nstores, 1);
	ck_assert_uint_eq(shardmap_route(m, "anything"), 0);
	ck_assert_uint_eq(rk(m, "codeq:{anything}:seq"), 0);
	shardmap_free(m);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		explicit_rules, hash_spread, hash_add_remove,
		explicit_before_hash, route_key, validation, owns_its_rules,
		no_shards,
	};

	return unit_run("shardmap", tests, sizeof(tests) / sizeof(tests[0]));
}
