/*
 * callbacks.c - the callbacks process (see callbacks.h).
 */
#include "config.h"

#include "callbacks.h"
#include "conf.h"
#include "log.h"
#include "webhook.h"

static void
on_stop(struct wh_proc *p)
{
	ev_break(p->loop, EVBREAK_ALL);
}

int
callbacks_main(const struct codeq_config *cfg, int ipc_fd)
{
	struct wh_proc p = { .on_stop = on_stop };

	log_set_proc("callbacks");
	if (wh_proc_init(&p, "callbacks", ipc_fd) < 0)
		return 1;
	wh_proc_ready(&p);
	log_info("callbacks started", "enabled", cfg->callbacks.enabled ? "yes" : "no");
	ev_run(p.loop, 0);
	wh_proc_fini(&p);
	return 0;
}
