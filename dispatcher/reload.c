/*
 * reload.c - SIGHUP: read the configuration again.
 *
 * A file that does not load (or names a missing handler, user, ...) is
 * reported and the running configuration stays.  Otherwise pools are
 * matched by name: a pool whose configuration is unchanged keeps its
 * workers (they may be in the middle of tasks); a changed pool is retired
 * (its workers drain as on SIGTERM) and started afresh beside it; removed
 * pools are retired, new ones started.  A change of store restarts every
 * pool.  The notifier and callbacks processes are restarted so that they
 * read the new configuration.  Kept workers get RELOAD with the settings
 * that need no restart (log level, store timeouts, limits, retention).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"
#include "metrics_http.h"

/*
 * The settings that change without restarting a process: the log level
 * and the store options other than the address and password (a new
 * connection takes them).  The dispatcher applies them to itself and
 * sends them in RELOAD to the workers it keeps.
 */
static void
settings_apply(const struct codeq_config *n, struct ipc_msg *m)
{
	const struct store_config *st = &n->store;

	if (D.so.o.retention_ms != st->retention_ms ||
	    D.so.o.max_payload != st->max_payload ||
	    D.so.o.connect_timeout_ms != st->connect_timeout_ms ||
	    D.so.o.command_timeout_ms != st->command_timeout_ms) {
		D.so.o.retention_ms = st->retention_ms;
		D.so.o.max_payload = st->max_payload;
		D.so.o.connect_timeout_ms = st->connect_timeout_ms;
		D.so.o.command_timeout_ms = st->command_timeout_ms;
		codeq_close(D.store);	/* the next call connects anew */
		D.store = NULL;
	}
	memset(m, 0, sizeof(*m));
	m->type = IPC_RELOAD;
	m->u.reload.log_level = (uint64_t)log_get_level();
	m->u.reload.retention_ms = (uint64_t)st->retention_ms;
	m->u.reload.max_payload = (uint64_t)st->max_payload;
	m->u.reload.connect_timeout_ms = (uint64_t)st->connect_timeout_ms;
	m->u.reload.command_timeout_ms = (uint64_t)st->command_timeout_ms;
}

/* New addresses, passwords or shards: the options every store connection
 * of codeqd is made with from now on (children read their own). */
static void
stores_reload(const struct codeq_config *n)
{
	struct store_options so;
	char err[512];

	if (store_options_load(n, -1, &so, err, sizeof(err)) < 0) {
		log_error("reload: keeping the stores' old passwords", "error",
		    err);
		return;
	}
	store_options_free(&D.so);
	D.so = so;
}

void
reload(void)
{
	struct codeq_config *n, *old = D.cfg, **v;
	struct pool *p, *np, **tail;
	struct pool_config *pc;
	enum log_level lvl;
	struct ipc_msg m;
	char err[512];
	int store_changed, *kept, k, snap = -1;
	size_t i;

	if (D.draining)
		return;
	log_info("reloading the configuration", "config", D.cfg_path);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return;
	if (snapshot_load(D.cfg_path, n, &snap, err, sizeof(err)) < 0 ||
	    config_check_environment(n, err, sizeof(err)) < 0 ||
	    probe_handlers(n, err, sizeof(err)) < 0) {
		log_error("reload failed: keeping the running configuration",
		    "error", err);
		notify_send("STATUS=reload failed: %s", err);
		config_free(n);	/* a no-op on the zeroed struct of a failed load */
		free(n);
		if (snap >= 0)
			close(snap);
		D.status[0] = '\0';	/* the next summary replaces it */
		return;
	}
	if ((v = realloc(D.oldcfgs, (D.noldcfgs + 1) * sizeof(*v))) == NULL ||
	    (kept = calloc(n->npools + 1, sizeof(int))) == NULL) {
		if (v != NULL)
			D.oldcfgs = v;
		config_free(n);
		free(n);
		close(snap);
		return;
	}
	D.oldcfgs = v;
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)clock_mono_us());
	if ((store_changed = config_stores_differ(old, n)))
		stores_reload(n);
	if (!D.level_forced && n->daemon.log_level != NULL &&
	    log_level_parse(n->daemon.log_level, &lvl) == 0)
		log_init("dispatcher", lvl);
	settings_apply(n, &m);	/* before new pools fork: they inherit it */

	for (p = D.pools; p != NULL; p = p->next) {
		if (p->retiring)
			continue;
		pc = NULL;
		for (i = 0; i < n->npools; i++)
			if (strcmp(n->pools[i].name, p->pc->name) == 0)
				pc = &n->pools[i];
		if (pc == NULL || store_changed || pool_config_differs(p->pc, pc)) {
			log_info(pc ? "pool changed: restarting" : "pool removed",
			    "pool", p->pc->name);
			if (pc != NULL)
				for (k = 0; k < p->nchildren; k++)
					cqm_worker_restart(p->pc->name, "reload");
			pool_retire(p);
			continue;
		}
		kept[pc - n->pools] = 1;
		p->pc = pc;		/* same settings, new owner */
		p->owner = n;
		for (k = 0; k < p->nchildren; k++)
			child_send(&p->children[k], &m);
	}
	D.oldcfgs[D.noldcfgs++] = old;
	D.cfg = n;
	close(D.snap_fd);	/* children read the new one from now on */
	D.snap_fd = snap;
	if (store_changed) {
		codeq_close(D.store);
		D.store = NULL;
		wake_stop();
		wake_start();
	}
	metrics_http_reload(n);
	for (tail = &D.pools; *tail != NULL; tail = &(*tail)->next)
		;
	for (i = 0; i < n->npools; i++) {
		if (kept[i])
			continue;
		if ((np = pool_new(&n->pools[i], n)) == NULL) {
			log_error("out of memory starting a pool", "pool", n->pools[i].name);
			continue;
		}
		*tail = np;
		tail = &np->next;
		pool_start(np);
	}
	free(kept);
	webhooks_reload(n);
	pools_gc();
	D.status[0] = '\0';
	notify_send("READY=1");
	snprintf(err, sizeof(err), "%zu", n->npools);
	log_info("configuration reloaded", "pools", err);
}
