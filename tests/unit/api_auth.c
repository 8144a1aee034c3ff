/* tests/unit/api_auth.c - api/auth.c: the tokens file (its errors with
 * file:line), lookup by SHA-256, scopes, queue lists. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

static char path[128], err[512];
static struct api_tokens t;

static int
load(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/api_auth.%d",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	memset(&t, 0, sizeof(t));
	return auth_load(path, &t, err, sizeof(err));
}

static void
teardown(void)
{
	auth_free(&t);
	unlink(path);
}

#define assert_error(text, suffix) do {					\
	char want_[512];						\
	ck_assert_int_eq(load(text), -1);				\
	snprintf(want_, sizeof(want_), "%s%s", path, suffix);		\
	ck_assert_str_eq(err, want_);					\
} while (0)

/* Any 64 hex digits do for the errors. */
#define S3CRET "f73f8f57ac3b8de3ab3c14dd7ea0e5e2ee1b2545dfc0e9d8dc8d8cd1d0a6a2b6"

START_TEST(lookup)
{
	struct api_token *k;

	ck_assert_int_eq(load("# comment\n\n"
	    "6fb46f7a92742970166379ed5195e79c4493a7cc5664280c039cfd4095ba5faf "
	    "w1 codeq:claim,codeq:result emails,sms\n"
	    "sha256:16175223C8DDCE5ACE0493C948569C211B03C4C6BB3D3E484434999448CFFE01 "
	    "admin1 admin\n"), 0);
	ck_assert_uint_eq(t.n, 2);
	/* printf %s worker-secret | sha256sum */
	k = auth_find(&t, "worker-secret", strlen("worker-secret"));
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "w1");
	ck_assert(auth_allows(k, AUTH_S_CLAIM));
	ck_assert(auth_allows(k, AUTH_S_RESULT));
	ck_assert(!auth_allows(k, AUTH_S_PRODUCER));
	ck_assert(auth_queue_allowed(k, "sms"));
	ck_assert(!auth_queue_allowed(k, "other"));
	k = auth_find(&t, "admin-secret", strlen("admin-secret"));
	ck_assert_ptr_nonnull(k);
	ck_assert(auth_allows(k, AUTH_S_PRODUCER));
	ck_assert(auth_queue_allowed(k, "anything"));
	ck_assert_ptr_null(auth_find(&t, "worker-secreT", 13));
	ck_assert_ptr_null(auth_find(&t, "", 0));
}
END_TEST

START_TEST(errors)
{
	assert_error("abc w1 producer\n", ":1: the first field must be the "
	    "token's SHA-256 in hex (64 digits): printf %s TOKEN | sha256sum");
	assert_error("\n" S3CRET " w1 producer,root\n",
	    ":2: unknown scope 'root' (known: codeq:claim, codeq:heartbeat, "
	    "codeq:abandon, codeq:nack, codeq:result, codeq:subscribe, "
	    "producer, admin)");
	assert_error(S3CRET " w1\n", ":1: expected: SHA256 NAME SCOPES [QUEUES]");
	assert_error(S3CRET " w1 producer q1 extra\n",
	    ":1: expected: SHA256 NAME SCOPES [QUEUES]");
	assert_error(S3CRET " w1 producer bad/queue\n",
	    ":1: invalid queue name 'bad/queue'");
	assert_error(S3CRET " w1 producer\n" S3CRET " w2 admin\n",
	    ":2: a token with this hash or name is already listed");
}
END_TEST

START_TEST(scopes)
{
	ck_assert_uint_eq(auth_scope_parse("codeq:nack", 10), AUTH_S_NACK);
	ck_assert_uint_eq(auth_scope_parse("codeq:nac", 9), 0);
	ck_assert_uint_eq(auth_scope_parse("producer", 8), AUTH_S_PRODUCER);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("api_auth");
	TCase *tc = tcase_create("tokens");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, lookup);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, scopes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
