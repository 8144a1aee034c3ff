/* tests/unit/cluster.c - lib/cluster.c without a cluster: hash slots
 * (the Redis Cluster specification's vectors and hash-tag rules) and the
 * parsing of MOVED and ASK redirections.  tests/storage/cluster.sh runs
 * the rest against a real three-node cluster. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "unit.h"

static unsigned
slot(const char *k)
{
	return cluster_key_slot(k, strlen(k));
}

START_TEST(slots)
{
	/* CRC16("123456789") = 0x31C3, the XMODEM check value. */
	ck_assert_uint_eq(slot("123456789"), 0x31C3 % CLUSTER_SLOTS);
	ck_assert_uint_eq(slot("foo"), 12182);
	ck_assert_uint_eq(slot("bar"), 5061);
	ck_assert_uint_eq(slot(""), 0);
	/* The tag: between the first '{' and the next '}', if not empty. */
	ck_assert_uint_eq(slot("{user1000}.following"), slot("user1000"));
	ck_assert_uint_eq(slot("{user1000}.followers"), slot("user1000"));
	ck_assert_uint_eq(slot("foo{bar}{zap}"), slot("bar"));
	ck_assert_uint_eq(slot("foo{{bar}}zap"), slot("{bar"));
	ck_assert_uint_eq(slot("foo{}{bar}"),
	    cluster_key_slot("foo{}{bar}", 10));
	ck_assert_uint_ne(slot("foo{}{bar}"), slot("bar"));
	ck_assert_uint_eq(slot("{unclosed"), cluster_key_slot("{unclosed", 9));
	/* Every codeq key of a queue is in the queue's slot. */
	ck_assert_uint_eq(slot("codeq:{emails}:ready:9"), slot("emails"));
	ck_assert_uint_eq(slot("codeq:{emails}:t:17"), slot("emails"));
	/* The length bounds the search: a tag past it is not seen. */
	ck_assert_uint_eq(cluster_key_slot("ab{c}", 3), slot("ab{"));
}
END_TEST

START_TEST(redirects)
{
	struct cluster_redirect r;

	ck_assert_int_eq(cluster_redirect_parse("MOVED 3999 127.0.0.1:6381",
	    &r), 0);
	ck_assert_int_eq(r.ask, 0);
	ck_assert_uint_eq(r.slot, 3999);
	ck_assert_str_eq(r.host, "127.0.0.1");
	ck_assert_int_eq(r.port, 6381);
	ck_assert_int_eq(cluster_redirect_parse("ASK 12 [::1]:7000", &r), 0);
	ck_assert_int_eq(r.ask, 1);
	ck_assert_str_eq(r.host, "::1");
	ck_assert_int_eq(r.port, 7000);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 1 fe80::1:7001", &r), 0);
	ck_assert_str_eq(r.host, "fe80::1");
	ck_assert_int_eq(r.port, 7001);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 5 node-a.local:6379",
	    &r), 0);
	ck_assert_str_eq(r.host, "node-a.local");
	/* Not redirections, or malformed ones. */
	ck_assert_int_eq(cluster_redirect_parse("ERR unknown command", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("NOSCRIPT No matching", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 16384 h:1", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 1 h:0", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 1 h:65536", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 1 h", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED 1 :7000", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("ASK 1 [::1:7000", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("MOVED x h:1", &r), -1);
	ck_assert_int_eq(cluster_redirect_parse("CROSSSLOT Keys in request "
	    "don't hash to the same slot", &r), -1);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = { slots, redirects };

	return unit_run("cluster", tests, sizeof(tests) / sizeof(tests[0]));
}
