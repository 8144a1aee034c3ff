/*
 * mhd_ev.c - libmicrohttpd on a libev loop (mhd_ev.h).
 */
#include "config.h"

#include "mhd_ev.h"

void
mhd_ev_run(struct mhd_ev *m)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(m->d);
	ev_timer_stop(m->loop, &m->timer);
	if (MHD_get_timeout(m->d, &ms) == MHD_YES) {
		ev_timer_set(&m->timer, (double)ms / 1000.0, 0);
		ev_timer_start(m->loop, &m->timer);
	}
}

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	mhd_ev_run(w->data);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	mhd_ev_run(w->data);
}

int
mhd_ev_start(struct mhd_ev *m, struct ev_loop *loop, struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info;

	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0)
		return -1;
	m->loop = loop;
	m->d = d;
	ev_io_init(&m->io, on_io, info->epoll_fd, EV_READ);
	m->io.data = m;
	ev_io_start(loop, &m->io);
	ev_timer_init(&m->timer, on_timer, 0, 0);
	m->timer.data = m;
	mhd_ev_run(m);		/* arms the timeout */
	return 0;
}

void
mhd_ev_kick(struct mhd_ev *m)
{
	if (m->loop == NULL)
		return;		/* not started: the start runs it */
	ev_timer_stop(m->loop, &m->timer);
	ev_timer_set(&m->timer, 0, 0);
	ev_timer_start(m->loop, &m->timer);
}

void
mhd_ev_stop(struct mhd_ev *m)
{
	if (m->loop == NULL)
		return;
	ev_io_stop(m->loop, &m->io);
	ev_timer_stop(m->loop, &m->timer);
	m->loop = NULL;
}
