/*
 * metrics_http.h - codeqd's HTTP listener: GET /metrics (Prometheus text
 * exposition of codeq_metrics.h's registry) and GET /healthz.
 *
 * libmicrohttpd runs inside the dispatcher's libev loop, without threads:
 * MHD_USE_EPOLL gives one epoll descriptor that an ev_io watches, and an
 * ev_timer follows MHD_get_timeout(); both call MHD_run().  Queue depths
 * come from the store at scrape time through metrics_store.h, cached for
 * about a second: a request that finds the cache older than that is
 * suspended (MHD_suspend_connection) until the collection ends, so a
 * scrape never blocks the loop and never waits longer than the
 * collection's deadline.
 *
 * /healthz answers 200 "ok" when the store answered and every pool is up,
 * else 503 with a one-line reason ("store: Connection refused",
 * "pool mail: 1 of 4 workers down").
 */
#ifndef CODEQ_METRICS_HTTP_H
#define CODEQ_METRICS_HTTP_H

#include <stddef.h>
#include <ev.h>

struct codeq_config;
struct metrics_http;

struct metrics_http_hooks {
	/* 1 when every pool is up; else 0 and a short reason in reason.
	 * NULL: pools are not checked. */
	int (*pools_up)(void *arg, char *reason, size_t len);
	void *arg;
};

/*
 * Starts the listener on cfg->metrics.listen ("host:port", "[v6]:port";
 * "off" or "" disables it: 0 with *out NULL) and creates the registry
 * (cqm_init) if needed.  Returns 0, or -1 with err filled ("metrics:
 * listen 127.0.0.1:9464: Address already in use").
 */
int metrics_http_start(struct ev_loop *loop, const struct codeq_config *cfg,
    const struct metrics_http_hooks *hooks, struct metrics_http **out,
    char *err, size_t errlen);
void metrics_http_stop(struct metrics_http *mh);

/* After a configuration reload (SIGHUP): follows a change of the store
 * (url, password_file) or of the listen address, in place, so the
 * pointer from metrics_http_start() stays valid.  Turning the listener on
 * or off needs a restart (a warning says so). */
void metrics_http_reload(const struct codeq_config *cfg);

/* Parses a listen address; 1 when disabled, 0 when parsed, -1 when bad.
 * host receives the address without brackets. */
int metrics_listen_parse(const char *listen, char *host, size_t hostlen,
    unsigned short *port);

#endif
