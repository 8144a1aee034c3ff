/*
 * counters.c - the counters every child reports (COUNTERS: absolute
 * values about once a second) summed per kind of child, plus the
 * dispatcher's own.  Counters of children that exited are folded into
 * "retired" totals so that every sum only grows, as Prometheus counters
 * must.  Names come out as "<child kind>_<name>" ("worker_completed",
 * "notifier_sent", "dispatcher_tasks_given_back").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "codeqd.h"

/* A report may span several frames: merged by name. */
void
counters_child_update(struct child *c, const struct ipc_msg *m)
{
	size_t i, j;

	for (i = 0; i < m->u.counters.n; i++) {
		/* "m.*": codeq_metrics' own table, folded by cqm_fold. */
		if (strncmp(m->u.counters.c[i].name, "m.", 2) == 0)
			continue;
		for (j = 0; j < c->ncounters; j++)
			if (strcmp(c->counters[j].name, m->u.counters.c[i].name) == 0)
				break;
		if (j == c->ncounters) {
			if (c->ncounters == CHILD_COUNTERS)
				continue;
			c->ncounters++;
		}
		c->counters[j] = m->u.counters.c[i];
	}
}

/* Adds value to name in (names, vals, *n) of capacity max. */
static void
add(char (*names)[IPC_NAME_MAX], uint64_t *vals, size_t *n, size_t max,
    const char *name, uint64_t value)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0) {
			vals[i] += value;
			return;
		}
	if (*n == max)
		return;
	snprintf(names[*n], IPC_NAME_MAX, "%s", name);
	vals[(*n)++] = value;
}

static void
prefixed(char *buf, const struct child *c, const char *name)
{
	snprintf(buf, IPC_NAME_MAX, "%s_%s", c->role->name, name);
}

void
counters_retire(struct child *c)
{
	char name[IPC_NAME_MAX];
	size_t i;

	for (i = 0; i < c->ncounters; i++) {
		prefixed(name, c, c->counters[i].name);
		add(D.retired_names, D.retired, &D.nretired, CHILD_COUNTERS,
		    name, c->counters[i].value);
	}
	c->ncounters = 0;
}

size_t
dispatcher_counters(struct ipc_counter *out, size_t max)
{
	static char names[CHILD_COUNTERS * 2][IPC_NAME_MAX];
	static uint64_t vals[CHILD_COUNTERS * 2];
	char name[IPC_NAME_MAX];
	size_t n = 0, cap = CHILD_COUNTERS * 2, i;
	struct child *c;
	size_t k;

#define OWN(f) add(names, vals, &n, cap, "dispatcher_" #f, D.n.f)
	OWN(worker_starts); OWN(worker_crashes); OWN(tasks_given_back);
	OWN(heartbeat_rounds); OWN(leases_extended); OWN(leases_lost);
	OWN(heartbeat_after_finish);
	OWN(promoted); OWN(reaped); OWN(store_errors); OWN(wakes_sent);
	OWN(handler_kills);
#undef OWN
	for (i = 0; i < D.nretired; i++)
		add(names, vals, &n, cap, D.retired_names[i], D.retired[i]);
	FOREACH_CHILD(c, k)
		for (i = 0; i < c->ncounters; i++) {
			prefixed(name, c, c->counters[i].name);
			add(names, vals, &n, cap, name, c->counters[i].value);
		}
	for (i = 0; i < n && i < max; i++) {
		snprintf(out[i].name, sizeof(out[i].name), "%s", names[i]);
		out[i].value = vals[i];
	}
	return i;
}
