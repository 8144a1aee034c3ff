/*
 * main.c - codeqd: reads the configuration, forks the pools, runs the loop.
 *
 *   codeqd -c FILE [--check] [--foreground] [--log-level LEVEL] [--version]
 *
 * Everything that can be wrong with the configuration is found before the
 * first fork (exit 78, EX_CONFIG, with "FILE:LINE: what").  After the loop
 * starts, failures become retries: codeqd does not exit because the store
 * went away or a child crashed.  See codeqd(8).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"
#include "metrics_http.h"
#include "url.h"

#define EXIT_CONFIG 78

struct codeqd D;
static struct metrics_http *metrics;

static void
usage(FILE *f)
{
	fprintf(f, "usage: codeqd -c FILE [--check] [--foreground] "
	    "[--log-level LEVEL] [--version]\n");
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	switch (w->signum) {
	case SIGHUP:
		reload();
		break;
	case SIGTERM:
		drain_start("SIGTERM");
		break;
	default:
		drain_start("SIGINT");
		break;
	}
}

/* Releases what main() holds, so leak checkers see a clean exit. */
static void
shutdown_free(void)
{
	struct pool *p;
	struct giveback *g;
	size_t i;

	while ((p = D.pools) != NULL) {
		D.pools = p->next;
		pool_free(p);
	}
	webhooks_free();
	free(D.children);
	if (D.snap_fd >= 0)
		close(D.snap_fd);
	while ((g = D.givebacks) != NULL) {
		D.givebacks = g->next;
		free(g);
	}
	for (i = 0; i < D.noldcfgs; i++) {
		config_free(D.oldcfgs[i]);
		free(D.oldcfgs[i]);
	}
	free(D.oldcfgs);
	if (D.cfg != NULL) {
		config_free(D.cfg);
		free(D.cfg);
	}
	store_options_free(&D.so);
	if (D.loop != NULL)
		ev_loop_destroy(D.loop);
}

/* /healthz: the store takes our password, and every pool is up? */
static int
pools_up(void *arg, char *reason, size_t len)
{
	struct pool *p;
	int i, down;

	if (D.store_refused) {
		snprintf(reason, len, "store: the store refused the password");
		return 0;
	}
	for (p = D.pools; p != NULL; p = p->next) {
		if (p->retiring)
			continue;
		for (down = i = 0; i < p->nchildren; i++)
			down += p->children[i].state != CS_RUNNING;
		if (down > 0) {
			snprintf(reason, len, "pool %s: %d of %d workers down%s",
			    p->pc->name, down, p->nchildren,
			    p->book.looping ? " (crash-looping)" : "");
			return 0;
		}
	}
	return 1;
}

/* ---- Start ----------------------------------------------------------- */

/* The parent of a daemonizing codeqd: exit 0 once it is up ('R'), 1 if
 * it died first; a refused store password ('A') is said and waited out. */
static void
daemon_parent_wait(int fd, pid_t pid)
{
	char c;

	while (read(fd, &c, 1) == 1) {
		if (c == 'R')
			_exit(0);
		if (c == 'A')
			fprintf(stderr, "codeqd: the store refused the password; "
			    "codeqd (pid %ld) keeps retrying and is not ready "
			    "(see its log)\n", (long)pid);
	}
	_exit(1);
}

/* Without --foreground: detach, and let the parent exit 0 only once the
 * pools are up (exit 1 if the daemon died before). */
static int
daemonize(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		daemon_parent_wait(p[0], pid);
	}
	close(p[0]);
	D.ready_pipe = p[1];
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static void
write_pidfile(const char *path)
{
	FILE *f;

	if (path == NULL || *path == '\0')
		return;
	if ((f = fopen(path, "we")) == NULL) {
		log_warning("cannot write the pid file", "path", path,
		    "error", strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

/* codeqd takes its store from the file only (codeqd(8), ENVIRONMENT);
 * a CODEQ_REDIS_URL meant for codeq(1) that differs is worth a word. */
static void
env_url_warning(const struct codeq_config *cfg)
{
	const char *env = getenv("CODEQ_REDIS_URL");
	char shown[256];

	if (env == NULL || *env == '\0' ||
	    (cfg->store.url != NULL && strcmp(env, cfg->store.url) == 0))
		return;
	store_url_redact(env, shown, sizeof(shown));
	log_warning("CODEQ_REDIS_URL is ignored: codeqd uses [store] url of "
	    "its configuration file", "CODEQ_REDIS_URL", shown);
}

static int
load(const char *path, struct codeq_config *cfg)
{
	char err[512];

	if (snapshot_load(path, cfg, &D.snap_fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "codeqd: %s\n", err);
		return -1;
	}
	if (config_check_environment(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "codeqd: %s\n", err);
		goto fail;
	}
	if (cfg->npools == 0) {
		fprintf(stderr, "codeqd: %s: no [pool NAME] section: nothing to run\n",
		    path);
		goto fail;
	}
	if (probe_handlers(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "codeqd: %s\n", err);
		goto fail;
	}
	return 0;
fail:
	config_free(cfg);
	close(D.snap_fd);
	D.snap_fd = -1;
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *level_arg = NULL;
	enum log_level lvl = LOG_L_INFO;
	int ch, check = 0;
	char err[512];
	size_t i;

	memset(&D, 0, sizeof(D));
	D.ready_pipe = -1;
	D.snap_fd = -1;
	while ((ch = getopt_long(argc, argv, "c:fl:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': D.cfg_path = optarg; break;
		case 'C': check = 1; break;
		case 'f': D.foreground = 1; break;
		case 'l': level_arg = optarg; break;
		case 'V':
			printf("codeqd %s (libcodeq %s)\n", PACKAGE_VERSION,
			    codeq_version());
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (D.cfg_path == NULL || optind != argc) {
		usage(stderr);
		return 64;
	}
	if (level_arg != NULL && log_level_parse(level_arg, &lvl) < 0) {
		fprintf(stderr, "codeqd: --log-level: unknown level %s\n", level_arg);
		return 64;
	}
	if ((D.cfg = calloc(1, sizeof(*D.cfg))) == NULL)
		return 1;
	if (load(D.cfg_path, D.cfg) < 0) {
		free(D.cfg);
		return EXIT_CONFIG;
	}
	if (check) {
		printf("codeqd: %s: configuration OK (%zu pools)\n", D.cfg_path,
		    D.cfg->npools);
		shutdown_free();
		return 0;
	}
	if (level_arg == NULL && D.cfg->daemon.log_level != NULL)
		log_level_parse(D.cfg->daemon.log_level, &lvl);
	D.level_forced = level_arg != NULL;
	log_init("dispatcher", lvl);
	/* No sleeps in calls (reconnect_attempts -1): codeqd backs off. */
	if (store_options_load(D.cfg, -1, &D.so, err, sizeof(err)) < 0) {
		fprintf(stderr, "codeqd: %s\n", err);
		shutdown_free();
		return EXIT_CONFIG;
	}
	if (geteuid() == 0)
		for (i = 0; i < D.cfg->npools; i++)
			if (D.cfg->pools[i].user == NULL)
				log_warning("pool runs its handlers as root (no user set)",
				    "pool", D.cfg->pools[i].name);
	env_url_warning(D.cfg);

	notify_init();
	if (!D.foreground && daemonize() < 0) {
		fprintf(stderr, "codeqd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	write_pidfile(D.cfg->daemon.pidfile);
	signal(SIGPIPE, SIG_IGN);

	D.loop = EV_DEFAULT;
	ev_signal_init(&D.sigterm, on_signal, SIGTERM);
	ev_signal_init(&D.sigint, on_signal, SIGINT);
	ev_signal_init(&D.sighup, on_signal, SIGHUP);
	ev_signal_start(D.loop, &D.sigterm);
	ev_signal_start(D.loop, &D.sigint);
	ev_signal_start(D.loop, &D.sighup);
	ev_child_init(&D.childw, on_child_exit, 0, 0);
	ev_child_start(D.loop, &D.childw);

	log_info("codeqd starting", "version", PACKAGE_VERSION, "config",
	    D.cfg_path);
	{
		struct metrics_http_hooks hooks = { pools_up, NULL };

		if (metrics_http_start(D.loop, D.cfg, &hooks, &metrics, err,
		    sizeof(err)) < 0) {
			log_error("cannot start", "error", err);
			shutdown_free();
			return 1;
		}
	}
	if (pools_create(D.cfg) < 0) {
		log_error("out of memory");
		return 1;
	}
	if (webhooks_create(D.cfg) < 0) {
		log_error("out of memory");
		return 1;
	}
	(void)dstore_get();	/* failure is fine: retried with backoff */
	struct pool *p;
	for (p = D.pools; p != NULL; p = p->next)
		pool_start(p);
	wake_start();
	cron_start();

	ev_run(D.loop, 0);

	givebacks_run();
	metrics_http_stop(metrics);
	cqm_shutdown();
	wake_stop();
	codeq_close(D.store);
	if (D.cfg->daemon.pidfile != NULL)
		unlink(D.cfg->daemon.pidfile);
	log_info("codeqd stopped");
	shutdown_free();
	return 0;
}
