/*
 * main.c - codeq-api, the HTTP front door of codeq (docs/http-api.md).
 *
 *   codeq-api --config FILE [--fd N] [--log-level L]
 *
 * As a child of codeqd (the api row of dispatcher/roles.c): FILE is the dispatcher's snapshot of its
 * configuration, N this child's end of its socketpair, spoken through
 * common/child.c as every child does: READY once listening; SHUTDOWN,
 * ABORT or the link's end stop it, and the stop signals are ignored.
 * Without --fd it runs on its own (tests, or a unit of its own), stopped
 * by SIGTERM or SIGINT.  Tokens and passwords come from
 * the files the configuration names, never from argv.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "child.h"
#include "log.h"

struct proc {
	struct api a;
	int linked;			/* a child of codeqd (--fd) */
	struct child_link link;
	ev_io ipc_w;
	ev_signal sigterm, sigint;
	ev_timer grace;
};

#define GRACE_S 0.2	/* for woken long polls to be answered */

static void
on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void
stop(struct proc *p, const char *why)
{
	if (p->a.stopping)
		return;
	p->a.stopping = 1;
	log_info("stopping", "reason", why);
	if (p->linked) {
		ev_io_stop(p->a.loop, &p->ipc_w);
	} else {
		ev_signal_stop(p->a.loop, &p->sigterm);
		ev_signal_stop(p->a.loop, &p->sigint);
	}
	/* Long polls answer now (204, or "result not ready"). */
	wait_all(&p->a);
	ev_timer_init(&p->grace, on_grace, GRACE_S, 0);
	ev_timer_start(p->a.loop, &p->grace);
}

/* Only without a dispatcher: a child of codeqd ignores the stop signals
 * (child.h). */
static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	stop(w->data, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
on_ipc(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc *p = w->data;
	struct ipc_msg m;
	int rc;

	while ((rc = child_link_recv(&p->link, &m)) == IPC_OK)
		if (m.type == IPC_SHUTDOWN || m.type == IPC_ABORT)
			break;
	if (rc == IPC_EOF)
		stop(p, "dispatcher gone");
	else if (p->link.shutdown)
		stop(p, "shutdown requested");
}

static void
proc_watch(struct proc *p, int fd)
{
	struct ev_loop *loop = p->a.loop;

	if ((p->linked = fd >= 0)) {
		child_link_init(&p->link, fd);
		ev_io_init(&p->ipc_w, on_ipc, fd, EV_READ);
		p->ipc_w.data = p;
		ev_io_start(loop, &p->ipc_w);
		return;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_signal_init(&p->sigterm, on_signal, SIGTERM);
	ev_signal_init(&p->sigint, on_signal, SIGINT);
	p->sigterm.data = p->sigint.data = p;
	ev_signal_start(loop, &p->sigterm);
	ev_signal_start(loop, &p->sigint);
}

static int
run(const struct codeq_config *cfg, int fd)
{
	static struct proc p;
	char err[512];
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.a.loop = EV_DEFAULT;
	p.a.cfg = cfg;
	proc_watch(&p, fd);
	if (api_start(&p.a, err, sizeof(err)) < 0) {
		log_error("cannot start", "error", err);
		rc = 78;
	} else {
		if (p.linked)
			(void)child_link_ready(&p.link);
		ev_run(p.a.loop, 0);
	}
	api_stop(&p.a);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "fd", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = "info";
	enum log_level lvl = LOG_L_INFO;
	struct codeq_config cfg;
	char err[512], *end;
	long fd = -1;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': fd = strtol(optarg, &end, 10); if (*end || fd < 3) fd = -2; break;
		case 'l': level = optarg; break;
		default: return 64;
		}
	}
	log_level_parse(level, &lvl);
	log_init("api", lvl);
	if (path == NULL || fd == -2 || optind != argc) {
		log_error("usage: codeq-api --config FILE [--fd N] [--log-level LEVEL]");
		return 64;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		log_error("cannot read the configuration", "error", err);
		return 78;
	}
	if (cfg.api.tokens_file == NULL && cfg.api.jwks_file == NULL) {
		log_error("no [api] tokens_file or jwks_file: no request could "
		    "be authorized",
		    "config", path);
		config_free(&cfg);
		return 78;
	}
	rc = run(&cfg, (int)fd);
	config_free(&cfg);
	return rc;
}
