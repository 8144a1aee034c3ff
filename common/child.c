/*
 * child.c - a child's side of its link to codeqd (child.h).
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "clock.h"
#include "codeq_metrics.h"
#include "log.h"

void
child_link_init(struct child_link *l, int fd)
{
	struct sigaction sa;
	sigset_t none;
	int sig, fl;

	memset(l, 0, sizeof(*l));
	l->fd = fd;
	if ((fl = fcntl(fd, F_GETFL)) >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	/* The dispatcher's loop set handlers that the exec kept as
	 * "ignored" or that a fork inherited: back to defaults first. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int
child_link_send(struct child_link *l, const struct ipc_msg *m)
{
	if (ipc_send(l->fd, m, 0) == IPC_OK)
		return 0;
	if (!l->aborted)
		log_error("cannot talk to the dispatcher, stopping",
		    "message", ipc_type_name(m->type));
	l->aborted = l->shutdown = 1;
	return -1;
}

int
child_link_ready(struct child_link *l)
{
	struct ipc_msg m;

	memset(&m, 0, sizeof(m));
	m.type = IPC_READY;
	m.u.ready.pid = (uint64_t)getpid();
	return child_link_send(l, &m);
}

/* Adds a counter to m, sending m first when it is full. */
static void
counter(struct child_link *l, struct ipc_msg *m, const char *name,
    uint64_t value)
{
	if (m->u.counters.n == IPC_MAX_COUNTERS) {
		(void)child_link_send(l, m);
		m->u.counters.n = 0;
	}
	ipc_counters_add(m, name, value);
}

void
child_link_counters(struct child_link *l, int force)
{
	int64_t now = clock_mono_ms();
	struct ipc_msg m;
	const char *name;
	uint64_t value;
	size_t i;

	if (!force && now - l->counters_sent < 1000)
		return;
	l->counters_sent = now;
	memset(&m, 0, sizeof(m));
	m.type = IPC_COUNTERS;
	for (i = 0; cqm_local_get(i, &name, &value) == 0; i++)
		counter(l, &m, name, value);
	if (m.u.counters.n > 0)
		(void)child_link_send(l, &m);
}

int
child_link_recv(struct child_link *l, struct ipc_msg *m)
{
	char err[128];
	int rc;

	for (;;) {
		rc = ipc_recv(l->fd, m, err, sizeof(err));
		if (rc == IPC_EMALFORMED) {
			log_warning("malformed message from the dispatcher",
			    "error", err);
			continue;
		}
		break;
	}
	if (rc == IPC_EOF || rc == IPC_ESYS) {
		l->aborted = l->shutdown = 1;	/* the dispatcher is gone */
		return IPC_EOF;
	}
	if (rc == IPC_OK && m->type == IPC_SHUTDOWN)
		l->shutdown = 1;
	if (rc == IPC_OK && m->type == IPC_ABORT)
		l->aborted = l->shutdown = 1;
	return rc;
}
