/*
 * mhd_ev.h - libmicrohttpd driven by a libev loop, for codeq's two HTTP
 * servers (codeqd's /metrics and /healthz, codeq-api): the daemon is
 * started with MHD_USE_EPOLL and no thread of its own; its epoll
 * descriptor is watched on the loop, and MHD_run() is called when it is
 * readable or when MHD's own timeout (idle connections) comes.
 */
#ifndef CODEQ_MHD_EV_H
#define CODEQ_MHD_EV_H

#include <ev.h>
#include <microhttpd.h>

struct mhd_ev {
	struct ev_loop *loop;
	struct MHD_Daemon *d;
	ev_io io;
	ev_timer timer;
};

/* Starts watching d (MHD_USE_EPOLL): -1 when it has no epoll descriptor. */
int mhd_ev_start(struct mhd_ev *m, struct ev_loop *loop, struct MHD_Daemon *d);
/* Calls MHD_run() at the loop's next turn: a connection resumed
 * (MHD_resume_connection) is served by the next MHD_run(), which must not
 * be called from inside a handler (inside MHD_run()). */
void mhd_ev_kick(struct mhd_ev *m);
/* One MHD_run() now (from the loop, not from a handler). */
void mhd_ev_run(struct mhd_ev *m);
/* Stops watching; the daemon is the caller's to stop. */
void mhd_ev_stop(struct mhd_ev *m);

#endif
