/* tests/unit/parse.c - the value parsers of common/parse.c: durations, sizes,
 * booleans, points in time, and their inverses used in messages. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "conf.h"

static int64_t
dur(const char *s)
{
	int64_t v = -42;

	ck_assert_msg(parse_duration_ms(s, &v) == 0, "'%s' refused", s);
	return v;
}

static void
dur_bad(const char *s)
{
	int64_t v = -42;

	ck_assert_msg(parse_duration_ms(s, &v) == -1, "'%s' accepted", s);
	ck_assert_int_eq(v, -42);
}

START_TEST(durations)
{
	ck_assert_int_eq(dur("250ms"), 250);
	ck_assert_int_eq(dur("30s"), 30000);
	ck_assert_int_eq(dur("5m"), 300000);
	ck_assert_int_eq(dur("2h"), 7200000);
	ck_assert_int_eq(dur("7d"), 604800000);
	ck_assert_int_eq(dur("30"), 30000);	/* bare seconds */
	ck_assert_int_eq(dur("0"), 0);
	ck_assert_int_eq(dur("0ms"), 0);
	ck_assert_int_eq(dur("1h30m"), 5400000);
	ck_assert_int_eq(dur("1m500ms"), 60500);
	dur_bad("");
	dur_bad("abc");
	dur_bad("-1s");
	dur_bad("+1s");
	dur_bad("5 m");
	dur_bad(" 5m");
	dur_bad("5m ");
	dur_bad("5x");
	dur_bad("5mss");
	dur_bad("1.5s");
	dur_bad("ms");
	dur_bad("5S");			/* units are lower case */
	dur_bad("99999999999999999999");
	dur_bad("9999999999999999s");	/* overflows int64 ms */
	dur_bad("106751991167301d");
	ck_assert_int_eq(parse_duration_ms(NULL, &(int64_t){0}), -1);
}
END_TEST

START_TEST(sizes)
{
	size_t v;

	ck_assert_int_eq(parse_size("512", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(parse_size("512B", &v), 0);
	ck_assert_uint_eq(v, 512);
	ck_assert_int_eq(parse_size("64KiB", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(parse_size("64k", &v), 0);
	ck_assert_uint_eq(v, 65536);
	ck_assert_int_eq(parse_size("1MiB", &v), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(parse_size("1mib", &v), 0);
	ck_assert_uint_eq(v, 1048576);
	ck_assert_int_eq(parse_size("2G", &v), 0);
	ck_assert_uint_eq(v, 2147483648u);
	ck_assert_int_eq(parse_size("", &v), -1);
	ck_assert_int_eq(parse_size("1.5MiB", &v), -1);
	ck_assert_int_eq(parse_size("1 MiB", &v), -1);
	ck_assert_int_eq(parse_size("-1", &v), -1);
	ck_assert_int_eq(parse_size("1TB", &v), -1);
	ck_assert_int_eq(parse_size("1MB", &v), -1);	/* ambiguous: refused */
	ck_assert_int_eq(parse_size("99999999999999999999", &v), -1);
	ck_assert_int_eq(parse_size("9999999999999G", &v), -1);
}
END_TEST

START_TEST(bools)
{
	int v;

	ck_assert_int_eq(parse_bool("yes", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(parse_bool("On", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(parse_bool("true", &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(parse_bool("no", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_bool("0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_bool("off", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_bool("maybe", &v), -1);
	ck_assert_int_eq(parse_bool("", &v), -1);
	ck_assert_int_eq(parse_bool("2", &v), -1);
}
END_TEST

START_TEST(times)
{
	int64_t v;

	ck_assert_int_eq(parse_time_ms("0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_time_ms("1795000000", &v), 0);
	ck_assert_int_eq(v, 1795000000000LL);
	ck_assert_int_eq(parse_time_ms("1795000000.25", &v), 0);
	ck_assert_int_eq(v, 1795000000250LL);
	ck_assert_int_eq(parse_time_ms("1970-01-01T00:00:00Z", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_time_ms("2026-11-23T18:00:00Z", &v), 0);
	ck_assert_int_eq(v, 1795456800000LL);
	ck_assert_int_eq(parse_time_ms("2026-11-23T19:30:00+01:30", &v), 0);
	ck_assert_int_eq(v, 1795456800000LL);
	ck_assert_int_eq(parse_time_ms("2026-11-23T16:00:00.5-02:00", &v), 0);
	ck_assert_int_eq(v, 1795456800500LL);
	ck_assert_int_eq(parse_time_ms("2026-11-23 18:00:00.123456z", &v), 0);
	ck_assert_int_eq(v, 1795456800123LL);
	ck_assert_int_eq(parse_time_ms("2024-02-29T00:00:00Z", &v), 0);
	ck_assert_int_eq(parse_time_ms("2026-02-29T00:00:00Z", &v), -1);
	ck_assert_int_eq(parse_time_ms("2026-11-23T18:00:00", &v), -1);
	ck_assert_int_eq(parse_time_ms("2026-11-23", &v), -1);
	ck_assert_int_eq(parse_time_ms("2026-13-01T00:00:00Z", &v), -1);
	ck_assert_int_eq(parse_time_ms("2026-11-23T24:00:00Z", &v), -1);
	ck_assert_int_eq(parse_time_ms("tomorrow", &v), -1);
	ck_assert_int_eq(parse_time_ms("-5", &v), -1);
	ck_assert_int_eq(parse_time_ms("12.", &v), -1);
	ck_assert_int_eq(parse_time_ms("", &v), -1);
}
END_TEST

START_TEST(formatting)
{
	char b[32];

	format_duration(250, b, sizeof(b));
	ck_assert_str_eq(b, "250ms");
	format_duration(90000, b, sizeof(b));
	ck_assert_str_eq(b, "1m30s");
	format_duration(86400000, b, sizeof(b));
	ck_assert_str_eq(b, "1d");
	format_duration(0, b, sizeof(b));
	ck_assert_str_eq(b, "0s");
	format_rfc3339_ms(1795000000123LL, b, sizeof(b));
	ck_assert_str_eq(b, "2026-11-18T11:06:40.123Z");
	/* It reads back as what it was. */
	{
		int64_t v;

		ck_assert_int_eq(parse_time_ms(b, &v), 0);
		ck_assert_int_eq(v, 1795000000123LL);
	}
	format_size(1048576, b, sizeof(b));
	ck_assert_str_eq(b, "1MiB");
	format_size(1536, b, sizeof(b));
	ck_assert_str_eq(b, "1536");
	format_size(2048, b, sizeof(b));
	ck_assert_str_eq(b, "2KiB");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = tcase_create("values");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, bools);
	tcase_add_test(tc, times);
	tcase_add_test(tc, formatting);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
