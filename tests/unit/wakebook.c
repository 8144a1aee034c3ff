/* tests/unit/wakebook.c - dispatcher/wakebook.c: wakes that found no idle
 * worker, owed to their queue and taken by the next idle worker of it. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wakebook.h"
#include "unit.h"

/* A worker serving the queues of a comma-separated list. */
static int
serves(const void *arg, const char *queue)
{
	char list[128], *q, *save;

	snprintf(list, sizeof(list), "%s", (const char *)arg);
	for (q = strtok_r(list, ",", &save); q; q = strtok_r(NULL, ",", &save))
		if (strcmp(q, queue) == 0)
			return 1;
	return 0;
}

START_TEST(owed_wakes_are_taken_by_a_worker_of_the_queue)
{
	static struct wakebook b;

	memset(&b, 0, sizeof(b));
	wakebook_owe(&b, "mail", 2, 4);
	ck_assert_ptr_null(wakebook_take(&b, serves, "pdf"));
	ck_assert_str_eq(wakebook_take(&b, serves, "pdf,mail"), "mail");
	ck_assert_str_eq(wakebook_take(&b, serves, "mail"), "mail");
	ck_assert_ptr_null(wakebook_take(&b, serves, "mail"));
}
END_TEST

START_TEST(never_more_than_the_workers_of_the_queue)
{
	static struct wakebook b;
	int i;

	memset(&b, 0, sizeof(b));
	wakebook_owe(&b, "mail", 5, 2);
	wakebook_owe(&b, "mail", 5, 2);
	for (i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(wakebook_take(&b, serves, "mail"));
	ck_assert_ptr_null(wakebook_take(&b, serves, "mail"));
	wakebook_owe(&b, "mail", 3, 0);		/* nobody serves it */
	wakebook_owe(&b, "mail", 0, 3);
	ck_assert_ptr_null(wakebook_take(&b, serves, "mail"));
}
END_TEST

START_TEST(a_full_book_drops_new_queues_reuses_empty_slots)
{
	static struct wakebook b;
	char q[16];
	int i;

	memset(&b, 0, sizeof(b));
	for (i = 0; i < WAKEBOOK_MAX; i++) {
		snprintf(q, sizeof(q), "q%d", i);
		wakebook_owe(&b, q, 1, 1);
	}
	wakebook_owe(&b, "late", 1, 1);
	ck_assert_ptr_null(wakebook_take(&b, serves, "late"));
	ck_assert_str_eq(wakebook_take(&b, serves, "q7"), "q7");
	wakebook_owe(&b, "late", 1, 1);		/* q7's slot is free again */
	ck_assert_str_eq(wakebook_take(&b, serves, "late"), "late");
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		owed_wakes_are_taken_by_a_worker_of_the_queue,
		never_more_than_the_workers_of_the_queue,
		a_full_book_drops_new_queues_reuses_empty_slots,
	};

	return unit_run("wakebook", tests, sizeof(tests) / sizeof(tests[0]));
}
