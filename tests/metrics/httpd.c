/*
 * tests/metrics/httpd.c - runs dispatcher/metrics_http.c alone in a libev loop,
 * for tests/metrics/http.sh:
 *
 *	metrics_httpd LISTEN REDIS_URL POOLFILE
 *
 * While POOLFILE exists, the pools are reported down with its first line
 * as the reason.  SIGTERM stops it cleanly.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include <ev.h>

#include "codeq_metrics.h"
#include "conf.h"
#include "log.h"
#include "metrics_http.h"

static const char *poolfile;

static int
pools_up(void *arg, char *reason, size_t len)
{
	FILE *f = fopen(poolfile, "r");

	if (f == NULL)
		return 1;
	if (fgets(reason, (int)len, f) == NULL)
		snprintf(reason, len, "pool down");
	reason[strcspn(reason, "\n")] = '\0';
	fclose(f);
	return 0;
}

static void
on_term(struct ev_loop *loop, ev_signal *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = EV_DEFAULT;
	struct metrics_http_hooks hooks = { pools_up, NULL };
	struct metrics_http *mh = NULL;
	struct codeq_config cfg;
	ev_signal sterm, sint;
	char err[256];

	if (argc != 4) {
		fprintf(stderr, "usage: metrics_httpd LISTEN REDIS_URL POOLFILE\n");
		return 2;
	}
	poolfile = argv[3];
	log_init("dispatcher", LOG_L_INFO);
	config_defaults(&cfg);
	free(cfg.metrics.listen);
	free(cfg.store.url);
	cfg.metrics.listen = strdup(argv[1]);
	cfg.store.url = strdup(argv[2]);
	if (cfg.metrics.listen == NULL || cfg.store.url == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (metrics_http_start(loop, &cfg, &hooks, &mh, err, sizeof(err)) != 0) {
		fprintf(stderr, "metrics_httpd: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (mh == NULL)
		fprintf(stderr, "metrics_httpd: disabled\n");
	/* Something to count, so that a scrape shows live counters. */
	cqm_task_claimed("mail", "emails");
	cqm_task_done("mail", "emails", "completed");
	ev_signal_init(&sterm, on_term, SIGTERM);
	ev_signal_init(&sint, on_term, SIGINT);
	ev_signal_start(loop, &sterm);
	ev_signal_start(loop, &sint);
	if (mh != NULL)
		ev_run(loop, 0);
	metrics_http_stop(mh);
	cqm_shutdown();
	config_free(&cfg);
	ev_loop_destroy(loop);
	return 0;
}
