/* tests/unit/leasebook.c - dispatcher/leasebook.c: the leases a worker
 * holds, how they are cut into heartbeat rounds, and what each heartbeat
 * answer means.  No store, no loop. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeqd.h"
#include "unit.h"

struct codeqd D;	/* leasebook.c reads none of it */

static void
claimed(struct child *c, const char *id, uint64_t deadline)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_CLAIMED;
	snprintf(m.u.claimed.queue, sizeof(m.u.claimed.queue), "q");
	snprintf(m.u.claimed.id, sizeof(m.u.claimed.id), "%s", id);
	snprintf(m.u.claimed.token, sizeof(m.u.claimed.token), "t-%s", id);
	m.u.claimed.deadline_ms = deadline;
	(void)lease_add(c, &m);
}

START_TEST(claimed_again_updates_done_drops)
{
	static struct child c;
	struct ipc_msg m;

	memset(&c, 0, sizeof(c));
	claimed(&c, "q:1", 0);
	claimed(&c, "q:2", 0);
	ck_assert_int_eq(c.nleases, 2);
	ck_assert_int_eq(lease_running(&c, "q:1"), 0);	/* prefetched */
	claimed(&c, "q:1", 1700000000000ULL);		/* its handler starts */
	ck_assert_int_eq(c.nleases, 2);
	ck_assert_int_eq(lease_running(&c, "q:1"), 1);
	lease_drop(&c, "q:1", NULL);
	ck_assert_int_eq(c.nleases, 1);
	ck_assert_str_eq(c.leases[0].id, "q:2");
	lease_drop(&c, "q:9", NULL);			/* unknown: nothing */
	ck_assert_int_eq(c.nleases, 1);
	memset(&m, 0, sizeof(m));
	snprintf(m.u.claimed.id, sizeof(m.u.claimed.id), "q:x");
	c.nleases = MAX_LEASES;				/* full: refused */
	ck_assert_int_eq(lease_add(&c, &m), 0);
	ck_assert_int_eq(c.nleases, MAX_LEASES);
}
END_TEST

START_TEST(rounds_cover_every_lease_once)
{
	static struct child kids[3];
	struct pool p;
	codeq_lease_ref refs[4];
	struct child *owner[4];
	char id[16];
	size_t ki = 0, n, total = 0;
	int ci = 0, k, i, rounds = 0;

	memset(kids, 0, sizeof(kids));
	memset(&p, 0, sizeof(p));
	p.children = kids;
	p.nchildren = 3;
	for (k = 0; k < 3; k++)		/* 3, 0 and 6 leases */
		for (i = 0; i < (k == 0 ? 3 : k == 1 ? 0 : 6); i++) {
			snprintf(id, sizeof(id), "q:%d%d", k, i);
			claimed(&kids[k], id, 0);
		}
	while ((n = lease_batch(&p, &ci, &ki, refs, owner, 4)) > 0) {
		rounds++;
		for (i = 0; i < (int)n; i++)
			ck_assert(owner[i] == &kids[0] || owner[i] == &kids[2]);
		ck_assert_str_eq(refs[0].token + 2, refs[0].id);
		total += n;
	}
	ck_assert_int_eq(total, 9);
	ck_assert_int_eq(rounds, 3);	/* 4 + 4 + 1 */
	ck_assert_int_eq(lease_batch(&p, &ci, &ki, refs, owner, 4), 0);
}
END_TEST

START_TEST(answers)
{
	ck_assert_int_eq(heartbeat_verdict(CODEQ_OK, CODEQ_LEASED), HB_EXTENDED);
	ck_assert_int_eq(heartbeat_verdict(CODEQ_ESTORE, 0), HB_UNKNOWN);
	ck_assert_int_eq(heartbeat_verdict(CODEQ_ESTATE, CODEQ_COMPLETED),
	    HB_FINISHED);
	ck_assert_int_eq(heartbeat_verdict(CODEQ_ESTATE, CODEQ_DEAD), HB_FINISHED);
	ck_assert_int_eq(heartbeat_verdict(CODEQ_ESTATE, CODEQ_READY), HB_LOST);
	ck_assert_int_eq(heartbeat_verdict(CODEQ_ESTALE, CODEQ_COMPLETED),
	    HB_LOST);
}
END_TEST

int
main(void)
{
	const TTest *tests[] = {
		claimed_again_updates_done_drops,
		rounds_cover_every_lease_once,
		answers,
	};

	return unit_run("leasebook", tests, sizeof(tests) / sizeof(tests[0]));
}
