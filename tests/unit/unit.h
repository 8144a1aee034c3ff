/* tests/unit/unit.h - the main() of a Check unit test: runs the suite
 * of one test case with the tests given, exit status for automake. */
#ifndef CODEQ_TESTS_UNIT_H
#define CODEQ_TESTS_UNIT_H

#include <check.h>
#include <stdlib.h>

/* setup and teardown (may be NULL) run around each test, in its
 * process; timeout: seconds per test (0: Check's default). */
static inline int
unit_run_fixture(const char *name, const TTest *const *tests, size_t n,
    SFun setup, SFun teardown, double timeout)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	SRunner *sr;
	size_t i;
	int failed;

	if (setup != NULL || teardown != NULL)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout > 0)
		tcase_set_timeout(tc, timeout);
	for (i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static inline int
unit_run(const char *name, const TTest *const *tests, size_t n)
{
	return unit_run_fixture(name, tests, n, NULL, NULL, 0);
}

#endif
