/*
 * drain.c - a graceful stop (SIGTERM, SIGINT): STOPPING=1, SHUTDOWN to
 * every child, ABORT after shutdown_timeout (and SIGKILL 2 s later for
 * children that do not obey: .so handlers), then out of the loop once
 * every child is gone and every task given back.  A second request
 * aborts at once.
 */
#include "config.h"

#include "codeqd.h"
#include "log.h"

static void
on_drain_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	log_warning("shutdown_timeout passed: stopping running handlers, "
	    "their tasks go back");
	children_stop_all(1);
}

void
drain_start(const char *why)
{
	if (D.draining) {
		log_warning("second stop request: stopping handlers now", "signal", why);
		children_stop_all(1);
		return;
	}
	D.draining = 1;
	log_info("stopping: draining the pools", "signal", why);
	notify_send("STOPPING=1\nSTATUS=draining");
	wake_stop();
	children_stop_all(0);
	ev_timer_init(&D.drain_timer, on_drain_timeout,
	    D.cfg->daemon.shutdown_timeout_ms / 1000., 0.);
	ev_timer_start(D.loop, &D.drain_timer);
	drain_check();
}

/* Leaves the loop once every child is gone and every task given back
 * (or the store is unreachable: then the leases expire and a reaper
 * requeues them). */
void
drain_check(void)
{
	if (!D.draining || !all_children_down())
		return;
	if (D.givebacks != NULL && D.store_fails == 0)
		givebacks_run();
	if (D.givebacks != NULL && D.store_fails < 5)
		return;		/* the tick retries */
	ev_break(D.loop, EVBREAK_ALL);
}

