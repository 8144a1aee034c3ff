/*
 * tests/unit/libcodeq.c - unit tests of libcodeq's pure parts: the store URL
 * parser, task ids, queue names, the key builders, the embedded script
 * registry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "codeq.h"
#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"
#include "url.h"
#include "utf8.h"

START_TEST(url_good)
{
	struct store_url u;
	codeq_error e;

	ck_assert_int_eq(store_url_parse("redis://127.0.0.1:6380/3", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.port, 6380);
	ck_assert_int_eq(u.db, 3);
	ck_assert_str_eq(u.password, "");
	ck_assert_int_eq(store_url_parse("redis://kv.example.org", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.host, "kv.example.org");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(u.db, 0);
	ck_assert_int_eq(store_url_parse("redis://:s%40cr%3At@h:1/", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.password, "s@cr:t");
	ck_assert_str_eq(u.host, "h");
	ck_assert_int_eq(u.port, 1);
	ck_assert_int_eq(store_url_parse("redis://:p@ss@h", &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.password, "p@ss");
	ck_assert_int_eq(store_url_parse("redis://default:pw@[::1]:7000/1", &u,
	    &e), CODEQ_OK);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 7000);
	ck_assert_int_eq(u.db, 1);
	ck_assert_str_eq(u.password, "pw");
	ck_assert_str_eq(u.user, "");
	ck_assert_str_eq(u.where, "[::1]:7000");
	/* Redis 6 ACL users; a user alone takes its password from a file. */
	ck_assert_int_eq(store_url_parse("redis://app%40x:s3cr%3At@h:6390", &u,
	    &e), CODEQ_OK);
	ck_assert_str_eq(u.user, "app@x");
	ck_assert_str_eq(u.password, "s3cr:t");
	ck_assert_str_eq(u.where, "h:6390");
	ck_assert_int_eq(store_url_parse("redis://app@h", &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.user, "app");
	ck_assert_str_eq(u.password, "");
	/* Unix sockets, both spellings; db and password in the query. */
	ck_assert_int_eq(store_url_parse("unix:///run/kvrocks.sock", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.path, "/run/kvrocks.sock");
	ck_assert_str_eq(u.where, "/run/kvrocks.sock");
	ck_assert_int_eq(u.port, 0);
	ck_assert_int_eq(u.db, 0);
	ck_assert_int_eq(store_url_parse("redis+unix://app:pw@/tmp/r.sock?db=2",
	    &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.path, "/tmp/r.sock");
	ck_assert_str_eq(u.user, "app");
	ck_assert_str_eq(u.password, "pw");
	ck_assert_int_eq(u.db, 2);
	ck_assert_int_eq(store_url_parse("unix:///tmp/r.sock?password=a%26b&db=1",
	    &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.password, "a&b");
	ck_assert_int_eq(u.db, 1);
}
END_TEST

START_TEST(url_bad)
{
	static const struct { const char *url, *msg; } t[] = {
		{ "http://h:1", "must start with redis://" },
		{ "redis://", "host is empty" },
		{ "redis://:pw@", "host is empty" },
		{ "redis://h:0", "port must be 1-65535, got '0'" },
		{ "redis://h:99999", "port must be 1-65535" },
		{ "redis://h:", "port must be 1-65535, got ''" },
		{ "redis://h/db", "database must be a number" },
		{ "redis://h/-1", "database must be a number" },
		{ "unix://", "needs an absolute path" },
		{ "unix://host/tmp/s", "has no host" },
		{ "unix:///", "socket path must be 2-107" },
		{ "unix:///tmp/s?db=x", "database must be a number" },
		{ "unix:///tmp/s?timeout=1", "unknown parameter 'timeout'" },
		{ "redis+unix://:%zz@/tmp/s", "bad %-escape in the password" },
		{ "redis://b%g@h", "bad %-escape in the user" },
		{ "tcp://h:1", "must start with redis://, unix://" },
		{ "redis://[::1:5", "missing ']'" },
		{ "redis://[::1]x", "expected ':port'" },
		{ "redis://h h", "bad character ' '" },
		{ "redis://:%4@h", "bad %-escape" },
		{ "redis://h?timeout=1", "query strings" },
	};
	struct store_url u;
	codeq_error e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(store_url_parse(t[i].url, &u, &e) == CODEQ_EINVAL,
		    "accepted %s", t[i].url);
		ck_assert_msg(strstr(e.msg, t[i].msg) != NULL,
		    "%s: got '%s', want '%s'", t[i].url, e.msg, t[i].msg);
		ck_assert_msg(strncmp(e.msg, "store URL: ", 11) == 0, "%s", e.msg);
	}
	/* The password never appears in a message. */
	ck_assert_int_eq(store_url_parse("redis://:hunter2@h:0", &u, &e),
	    CODEQ_EINVAL);
	ck_assert_ptr_null(strstr(e.msg, "hunter2"));
}
END_TEST

START_TEST(ids_and_queues)
{
	char q[CODEQ_ID_MAX], key[TASK_KEY_MAX];
	codeq_error e;

	ck_assert_int_eq(task_id_split("emails:42", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_OK);
	ck_assert_str_eq(q, "emails");
	ck_assert_str_eq(key, "codeq:{emails}:t:42");
	ck_assert_int_eq(task_id_split("a.b-c_d:1", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_OK);
	ck_assert_int_eq(task_id_split("emails", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_str_eq(e.msg, "id: must be QUEUE:NUMBER, got 'emails'");
	ck_assert_int_eq(task_id_split("emails:4x", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_int_eq(task_id_split(":4", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_int_eq(task_id_split("a{b}:4", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert(codeq_queue_name_valid("q"));
	ck_assert(!codeq_queue_name_valid(""));
	ck_assert(!codeq_queue_name_valid("a:b"));
	ck_assert(!codeq_queue_name_valid("a{b}"));
	char longq[102];
	memset(longq, 'a', 101);
	longq[101] = '\0';
	ck_assert(!codeq_queue_name_valid(longq));
	longq[100] = '\0';
	ck_assert(codeq_queue_name_valid(longq));
}
END_TEST

START_TEST(key_builders)
{
	char k[64], q[16], longq[101];

	ck_assert_int_eq(key_queue(k, sizeof(k), "mail", CODEQ_KEY_DELAYED), 0);
	ck_assert_str_eq(k, "codeq:{mail}:delayed");
	ck_assert_int_eq(key_queue(k, sizeof(k), "mail", CODEQ_KEY_OUTBOX), 0);
	ck_assert_str_eq(k, "codeq:{mail}:outbox");
	ck_assert_int_eq(key_ready(k, sizeof(k), "mail", 9), 0);
	ck_assert_str_eq(k, "codeq:{mail}:ready:9");
	ck_assert_int_eq(key_task(k, sizeof(k), "mail", "42"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:t:42");
	ck_assert_int_eq(key_task_pattern(k, sizeof(k), "mail"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:t:*");
	ck_assert_int_eq(key_claim(k, sizeof(k), "mail", "h:12:p"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:claim:h:12:p");
	ck_assert_int_eq(key_cb(k, sizeof(k), "mail", "7"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:cb:7");
	ck_assert_int_eq(key_sub(k, sizeof(k), "s1"), 0);
	ck_assert_str_eq(k, "codeq:sub:s1");
	/* Exactly full fits; one byte short does not. */
	ck_assert_int_eq(key_queue(k, 19, "mail", CODEQ_KEY_STATS), 0);
	ck_assert_str_eq(k, "codeq:{mail}:stats");
	ck_assert_int_eq(key_queue(k, 18, "mail", CODEQ_KEY_STATS), -1);
	memset(longq, 'q', 100);
	longq[100] = '\0';
	ck_assert_int_eq(key_task(k, sizeof(k), longq, "1"), -1);
	/* The keys every queue has, and the SCAN pattern of all of them. */
	ck_assert_int_eq(key_seq_queue("codeq:{mail}:seq", q, sizeof(q)), 0);
	ck_assert_str_eq(q, "mail");
	ck_assert_int_eq(key_seq_queue("codeq:{mail}:dlq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{}:seq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:mail:seq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{0123456789abcdef}:seq", q,
	    sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{0123456789abcde}:seq", q,
	    sizeof(q)), 0);
	ck_assert_int_eq(strncmp("codeq:{mail}:seq", CODEQ_KEY_ANY_QUEUE,
	    strlen(CODEQ_KEY_ANY_QUEUE) - 1), 0);
	ck_assert_str_eq(CODEQ_CH_READY, "codeq:ready");
	ck_assert_str_eq(CODEQ_CH_DELAYED, "codeq:delayed");
}
END_TEST

/* Every script name of keys.h is in the registry, and every script of the
 * registry has its name there; each has a SHA1 as the store names it. */
START_TEST(script_names)
{
	static const char *const names[] = { CODEQ_SCRIPT_ENQUEUE,
	    CODEQ_SCRIPT_CLAIM, CODEQ_SCRIPT_HEARTBEAT, CODEQ_SCRIPT_COMPLETE,
	    CODEQ_SCRIPT_FAIL, CODEQ_SCRIPT_NACK, CODEQ_SCRIPT_RELEASE,
	    CODEQ_SCRIPT_PROMOTE, CODEQ_SCRIPT_REAP, CODEQ_SCRIPT_DLQ_REQUEUE,
	    CODEQ_SCRIPT_DLQ_PURGE, CODEQ_SCRIPT_STATS,
	    CODEQ_SCRIPT_FSCK_REPAIR, CODEQ_SCRIPT_CB_TAKE, CODEQ_SCRIPT_CB_ACK,
	    CODEQ_SCRIPT_CB_RETRY, CODEQ_SCRIPT_CB_DEAD,
	    CODEQ_SCRIPT_CB_DLQ_REPLAY, CODEQ_SCRIPT_CB_DLQ_PURGE };
	size_t i, n = sizeof(names) / sizeof(names[0]);
	const char *sha;

	ck_assert_uint_eq(n, script_ndefs);
	for (i = 0; i < n; i++) {
		ck_assert_msg(script_index(names[i]) >= 0, "%s", names[i]);
		sha = script_sha(script_index(names[i]));
		ck_assert_ptr_nonnull(sha);
		ck_assert_uint_eq(strlen(sha), 40);
		ck_assert_uint_eq(strspn(sha, "0123456789abcdef"), 40);
	}
	ck_assert_ptr_null(script_sha(-1));
	ck_assert_ptr_null(script_sha((int)script_ndefs));
}
END_TEST

START_TEST(script_registry)
{
	static const char *const names[] = { "enqueue", "claim", "heartbeat",
	    "complete", "fail", "nack", "promote", "reap", "dlq_requeue",
	    "dlq_purge", "stats", "fsck_repair" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char header[64];
		const char *src, *own;

		ck_assert_msg(script_index(names[i]) >= 0, "%s", names[i]);
		/* Embedded verbatim after the prelude's helpers it uses:
		 * those first, then the script's own header naming it. */
		src = script_source(names[i]);
		snprintf(header, sizeof(header), "-- %s.lua:", names[i]);
		ck_assert_msg(strncmp(src, "-- prelude.lua", 14) == 0, "%s",
		    names[i]);
		own = strstr(src, header);
		ck_assert_msg(own != NULL, "%s: own text missing", names[i]);
		ck_assert_ptr_null(strstr(own, "local function"));
	}
	/* Only the helpers a script calls, with the ones they call. */
	ck_assert_ptr_nonnull(strstr(script_source("enqueue"),
	    "local function now_ms()"));
	ck_assert_ptr_null(strstr(script_source("enqueue"),
	    "local function outbox_add("));
	ck_assert_ptr_null(strstr(script_source("dlq_purge"),
	    "local function now_ms()"));
	ck_assert_ptr_nonnull(strstr(script_source("dlq_purge"),
	    "local function task_key("));
	/* reap calls dead_letter, which calls outbox_add. */
	ck_assert_ptr_nonnull(strstr(script_source("reap"),
	    "local function outbox_add("));
	ck_assert(strstr(script_source("reap"), "local function outbox_add(") <
	    strstr(script_source("reap"), "local function dead_letter("));
	ck_assert_int_eq(script_index("nope"), -1);
	ck_assert_ptr_null(script_source("nope"));
}
END_TEST

START_TEST(utf8_text)
{
	const char *euro = "ab\xe2\x82\xac";	/* "ab" + U+20AC */
	json_t *j;
	char *s;
	size_t n;

	/* A cut never ends inside a character. */
	ck_assert_uint_eq(utf8_cut(euro, 5), 5);
	ck_assert_uint_eq(utf8_cut(euro, 4), 2);
	ck_assert_uint_eq(utf8_cut(euro, 3), 2);
	ck_assert_uint_eq(utf8_cut(euro, 2), 2);
	ck_assert_uint_eq(utf8_cut("abc", 2), 2);
	/* Invalid bytes become U+FFFD, valid ones stay. */
	s = utf8_clean("a\xff\xe2\x82\xac\xc3", 6, &n);
	ck_assert_str_eq(s, "a\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd");
	ck_assert_uint_eq(n, 10);
	free(s);
	/* Overlong and surrogate forms are invalid too. */
	ck_assert_uint_eq(utf8_seq((const unsigned char *)"\xc0\x80", 2), 0);
	ck_assert_uint_eq(utf8_seq((const unsigned char *)"\xed\xa0\x80", 3),
	    0);
	j = json_string_lossy("x\xfey");
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(j), "x\xef\xbf\xbdy");
	json_decref(j);
	ck_assert_ptr_null(json_string_lossy(NULL));
}
END_TEST

START_TEST(strings)
{
	ck_assert_str_eq(codeq_strerror(CODEQ_ESTALE), "stale lease token");
	ck_assert_str_eq(codeq_status_name(CODEQ_DEAD), "dead");
	ck_assert_str_eq(codeq_status_name((codeq_task_status)99), "unknown");
	ck_assert_ptr_nonnull(codeq_version());
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("storage_unit");
	TCase *tc = tcase_create("pure");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, url_good);
	tcase_add_test(tc, url_bad);
	tcase_add_test(tc, ids_and_queues);
	tcase_add_test(tc, key_builders);
	tcase_add_test(tc, script_names);
	tcase_add_test(tc, script_registry);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, utf8_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
