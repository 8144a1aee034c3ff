/*
 * pools.c - the pools of workers: each a row of workers in the table of
 * children (children.c), started, retired by a reload, freed once its
 * workers are gone; the pool's retry backoff written to the store; the
 * handler deadlines of its workers.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codeqd.h"
#include "log.h"

/* Takes p's workers out of the table and frees it. */
void
pool_free(struct pool *p)
{
	int i;

	for (i = 0; i < p->nchildren; i++)
		children_remove(&p->children[i]);
	free(p->children);
	free(p);
}

struct pool *
pool_new(struct pool_config *pc, struct codeq_config *owner)
{
	struct pool *p;
	int i;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->children = calloc((size_t)pc->processes, sizeof(struct child))) == NULL) {
		free(p);
		return NULL;
	}
	p->pc = pc;
	p->owner = owner;
	p->nchildren = pc->processes;
	for (i = 0; i < p->nchildren; i++) {
		child_init(&p->children[i], ROLE_WORKER, p, i);
		if (children_add(&p->children[i]) < 0) {
			pool_free(p);
			return NULL;
		}
	}
	return p;
}

/*
 * The pool's backoff applies to its queues: nack, fail and the reaper
 * read it from the store (codeq:{Q}:conf).  Written when the pool
 * starts; while the store is unreachable, retried every tick
 * (pools_store_backoff) until it is written.
 */
static void
pool_store_backoff(struct pool *p)
{
	codeq_backoff b;
	codeq_error err;
	codeq_t *s;
	size_t i;
	int rc;

	if ((s = dstore_get()) == NULL)
		return;
	b.base_ms = p->pc->backoff_base_ms;
	b.max_ms = p->pc->backoff_max_ms;
	b.jitter_pct = p->pc->backoff_jitter_pct;
	for (i = 0; i < p->pc->nqueues; i++) {
		rc = codeq_queue_set_backoff(s, p->pc->queues[i], &b, &err);
		if (!dstore_ok(rc, &err))
			return;
		if (rc != CODEQ_OK)
			log_warning("cannot store the pool's backoff", "pool",
			    p->pc->name, "queue", p->pc->queues[i], "error", err.msg);
	}
	p->backoff_stored = 1;
}

void
pools_store_backoff(void)
{
	struct pool *p;

	for (p = D.pools; p != NULL; p = p->next)
		if (!p->backoff_stored && !p->retiring)
			pool_store_backoff(p);
}

void
pool_start(struct pool *p)
{
	int k;

	pool_store_backoff(p);
	for (k = 0; k < p->nchildren; k++)
		child_spawn(&p->children[k]);
	log_info("pool started", "pool", p->pc->name,
	    "handler", p->pc->kind == HANDLER_SO ? p->pc->so_path :
	    p->pc->command ? p->pc->command : p->pc->argv[0]);
}

int
pools_create(struct codeq_config *cfg)
{
	struct pool *p, **tail = &D.pools;
	size_t i;

	for (i = 0; i < cfg->npools; i++) {
		if ((p = pool_new(&cfg->pools[i], cfg)) == NULL)
			return -1;
		*tail = p;
		tail = &p->next;
	}
	return 0;
}

void
pool_retire(struct pool *p)
{
	int i;

	p->retiring = 1;
	for (i = 0; i < p->nchildren; i++) {
		p->children[i].wanted = 0;
		child_stop(&p->children[i], 0);
	}
}

/* Frees retiring pools whose children are all gone, and configurations
 * no pool uses any more. */
void
pools_gc(void)
{
	struct pool **pp = &D.pools, *p;
	size_t i, j;
	int k, busy, used;

	while ((p = *pp) != NULL) {
		busy = 0;
		for (k = 0; k < p->nchildren; k++)
			if (p->children[k].fd >= 0)
				busy = 1;
		if (p->retiring && !busy) {
			log_info("pool stopped", "pool", p->pc->name);
			*pp = p->next;
			pool_free(p);
			continue;
		}
		pp = &p->next;
	}
	for (i = 0; i < D.noldcfgs; ) {
		used = 0;
		for (p = D.pools; p != NULL; p = p->next)
			if (p->owner == D.oldcfgs[i])
				used = 1;
		if (used) {
			i++;
			continue;
		}
		config_free(D.oldcfgs[i]);
		free(D.oldcfgs[i]);
		for (j = i + 1; j < D.noldcfgs; j++)
			D.oldcfgs[j - 1] = D.oldcfgs[j];
		D.noldcfgs--;
	}
}

/* Every pool up, or reported as crash-looping (READY=1 is then sent with
 * a STATUS= that says so, rather than never). */
int
pools_ready(void)
{
	struct pool *p;
	struct child *c;
	int i;

	FOREACH_WORKER(p, c, i)
		if (!p->retiring && !p->book.looping && c->state != CS_RUNNING)
			return 0;
	return 1;
}

/*
 * Handler deadlines.  An exec worker stops its own handler at the
 * deadline; a .so handler cannot be stopped in-process, so the
 * dispatcher kills its worker a moment after the deadline and fails the
 * task (retry with backoff).  Exec workers get a longer grace: their own
 * timeout normally wins.
 */
void
pools_deadlines(void)
{
	struct pool *p;
	struct child *c;
	int64_t wall = (int64_t)(ev_time() * 1000), grace;
	size_t k;
	int i;

	FOREACH_WORKER(p, c, i) {
		if (c->fd < 0 || c->killed != KILLED_NONE)
			continue;
		grace = p->pc->kind == HANDLER_SO ? 1000 : 10000;
		for (k = 0; k < c->nleases; k++) {
			if (c->leases[k].deadline_ms > 0 &&
			    wall > c->leases[k].deadline_ms + grace) {
				log_warning("handler over its timeout: killing the worker",
				    "pool", p->pc->name, "task", c->leases[k].id);
				child_kill(c, KILLED_TIMEOUT);
				break;
			}
		}
	}
}
