/*
 * notifier.c - the notifier process (see notifier.h).
 */
#include "config.h"

#include "conf.h"
#include "log.h"
#include "notifier.h"
#include "webhook.h"

static void
on_stop(struct wh_proc *p)
{
	ev_break(p->loop, EVBREAK_ALL);
}

int
notifier_main(const struct codeq_config *cfg, int ipc_fd)
{
	struct wh_proc p = { .on_stop = on_stop };

	log_set_proc("notifier");
	if (wh_proc_init(&p, "notifier", ipc_fd) < 0)
		return 1;
	wh_proc_ready(&p);
	log_info("notifier started", "enabled", cfg->notifier.enabled ? "yes" : "no");
	ev_run(p.loop, 0);
	wh_proc_fini(&p);
	return 0;
}
