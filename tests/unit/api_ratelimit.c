/* tests/unit/api_ratelimit.c - api/ratelimit.c's token bucket, on a clock
 * the test invents: bursts, refill, Retry-After, no drift, clock steps. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "ratelimit.h"

START_TEST(off)
{
	struct ratelimit b = { 0, 0 };
	int i;

	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(ratelimit_take(&b, 0, 0, 1000), 0);
}
END_TEST

START_TEST(burst_then_wait)
{
	struct ratelimit b = { 0, 0 };
	int i;

	/* 10/s with bursts of 20: 20 at once, then one each 100 ms. */
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(ratelimit_take(&b, 10, 20, 5000), 0);
	ck_assert_int_eq(ratelimit_take(&b, 10, 20, 5000), 100);
	ck_assert_int_eq(ratelimit_take(&b, 10, 20, 5040), 60);
	ck_assert_int_eq(ratelimit_take(&b, 10, 20, 5100), 0);
	ck_assert_int_eq(ratelimit_take(&b, 10, 20, 5100), 100);
}
END_TEST

START_TEST(burst_defaults_to_rate)
{
	struct ratelimit b = { 0, 0 };
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(ratelimit_take(&b, 5, 0, 1), 0);
	ck_assert_int_gt(ratelimit_take(&b, 5, 0, 1), 0);
}
END_TEST

START_TEST(refill_caps_at_burst)
{
	struct ratelimit b = { 0, 0 };
	int i, allowed = 0;

	ck_assert_int_eq(ratelimit_take(&b, 100, 3, 1), 0);
	/* An hour idle refills to the burst, not to 360000. */
	for (i = 0; i < 10; i++)
		allowed += ratelimit_take(&b, 100, 3, 3600001) == 0;
	ck_assert_int_eq(allowed, 3);
}
END_TEST

START_TEST(no_drift)
{
	struct ratelimit b = { 0, 0 };
	int64_t t;
	int allowed = 0;

	/* 3/s asked every millisecond for 100 s: 3 * 100 + the burst of 3. */
	for (t = 1; t <= 100001; t++)
		allowed += ratelimit_take(&b, 3, 3, t) == 0;
	ck_assert_int_eq(allowed, 303);
}
END_TEST

START_TEST(clock_back)
{
	struct ratelimit b = { 0, 0 };

	ck_assert_int_eq(ratelimit_take(&b, 1, 1, 10000), 0);
	/* A clock stepped back refills nothing and waits no more than 1 s. */
	ck_assert_int_le(ratelimit_take(&b, 1, 1, 5000), 1000);
	ck_assert_int_gt(ratelimit_take(&b, 1, 1, 5000), 0);
	ck_assert_int_eq(ratelimit_take(&b, 1, 1, 6000), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("api_ratelimit");
	TCase *tc = tcase_create("bucket");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, off);
	tcase_add_test(tc, burst_then_wait);
	tcase_add_test(tc, burst_defaults_to_rate);
	tcase_add_test(tc, refill_caps_at_burst);
	tcase_add_test(tc, no_drift);
	tcase_add_test(tc, clock_back);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
