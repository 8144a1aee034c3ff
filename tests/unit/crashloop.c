/* tests/unit/crashloop.c - dispatcher/crashloop.c: when a crashed child
 * is restarted, and when its crash book says crash-looping, with an
 * invented clock (seconds). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "crashloop.h"
#include "unit.h"

#define MIN_MS	100
#define MAX_MS	5000

START_TEST(backoff_doubles_to_the_cap)
{
	struct crashbook b;
	double t = 1000.;
	int began, i;

	memset(&b, 0, sizeof(b));
	ck_assert(crash_note(&b, t, MIN_MS, MAX_MS, &began) == 0.1);
	ck_assert(crash_note(&b, t += 1, MIN_MS, MAX_MS, &began) == 0.2);
	ck_assert(crash_note(&b, t += 1, MIN_MS, MAX_MS, &began) == 0.4);
	for (i = 0; i < 10; i++)
		(void)crash_note(&b, t += 1, MIN_MS, MAX_MS, &began);
	ck_assert(crash_note(&b, t += 1, MIN_MS, MAX_MS, &began) == 5.);
}
END_TEST

START_TEST(loop_begins_once_at_the_streak)
{
	struct crashbook b;
	double t = 50.;
	int began, i, begun = 0;

	memset(&b, 0, sizeof(b));
	for (i = 1; i <= CRASHLOOP_STREAK + 3; i++) {
		(void)crash_note(&b, t += 2, MIN_MS, MAX_MS, &began);
		ck_assert_int_eq(began, i == CRASHLOOP_STREAK);
		begun += began;
	}
	ck_assert_int_eq(begun, 1);
	ck_assert_int_eq(b.looping, 1);
}
END_TEST

START_TEST(streak_forgotten_after_a_quiet_spell)
{
	struct crashbook b;
	double t = 0.;
	int began, i;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 3; i++)
		(void)crash_note(&b, t += 1, MIN_MS, MAX_MS, &began);
	/* A crash after a quiet spell starts a new streak. */
	ck_assert(crash_note(&b, t + CRASH_FORGET_S + 1, MIN_MS, MAX_MS,
	    &began) == 0.1);
	ck_assert_int_eq(b.streak, 1);
}
END_TEST

START_TEST(loop_ends_after_a_quiet_spell)
{
	struct crashbook b;
	double t = 10.;
	int began, i;

	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(crash_forgotten(&b, t), 0);	/* not looping */
	for (i = 0; i < CRASHLOOP_STREAK; i++)
		(void)crash_note(&b, t += 1, MIN_MS, MAX_MS, &began);
	ck_assert_int_eq(crash_forgotten(&b, t + CRASH_FORGET_S), 0);
	ck_assert_int_eq(crash_forgotten(&b, t + CRASH_FORGET_S + 0.5), 1);
	ck_assert_int_eq(b.looping, 0);
	ck_assert_int_eq(b.streak, 0);
	ck_assert_int_eq(crash_forgotten(&b, t + 100), 0);	/* said once */
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		backoff_doubles_to_the_cap,
		loop_begins_once_at_the_streak,
		streak_forgotten_after_a_quiet_spell,
		loop_ends_after_a_quiet_spell,
	};

	return unit_run("crashloop", tests, sizeof(tests) / sizeof(tests[0]));
}
