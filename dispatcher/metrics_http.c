/*
 * metrics_http.c - GET /metrics and GET /healthz with libmicrohttpd in the
 * dispatcher's libev loop (see metrics_http.h).
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "codeq_metrics.h"
#include "conf.h"
#include "log.h"
#include "metrics_http.h"
#include "mhd_ev.h"
#include "metrics_store.h"

#define CACHE_SECONDS		1.0	/* queue depths younger than this are served */
#define COLLECT_TIMEOUT_MS	1500	/* a collection's deadline */
#define MAX_QUEUES		200	/* queues read per collection */
#define MAX_WAITERS		64	/* suspended requests */
#define MAX_CONNECTIONS		32
#define POOL_GAUGE_TTL		5.0	/* pools not reported for this long are gone */

struct request {
	int waited;			/* suspended once: answer now */
};

struct metrics_http {
	struct ev_loop *loop;
	struct MHD_Daemon *d;
	struct mhd_ev ev;
	struct metrics_store *store;
	struct metrics_http_hooks hooks;
	struct MHD_Connection *waiters[MAX_WAITERS];
	size_t nwaiters;
	/* What the running listener and collection were started with, to
	 * tell what a reload changes. */
	char *listen, *url, *password_file;
};

/* The running listener, for metrics_http_reload(). */
static struct metrics_http *current;

int
metrics_listen_parse(const char *listen, char *host, size_t hostlen,
    unsigned short *port)
{
	const char *colon, *h = listen;
	size_t n;
	char *end;
	long v;

	if (listen == NULL || *listen == '\0' || strcmp(listen, "off") == 0)
		return 1;
	if ((colon = strrchr(listen, ':')) == NULL)
		return -1;
	n = (size_t)(colon - listen);
	if (*h == '[') {
		if (n < 2 || listen[n - 1] != ']')
			return -1;
		h++;
		n -= 2;
	}
	if (n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || errno != 0 || v < 0 || v > 65535)
		return -1;
	*port = (unsigned short)v;
	return 0;
}

/* libmicrohttpd's last message, to say why the listener did not start. */
static char mhd_last_error[256];

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	vsnprintf(mhd_last_error, sizeof(mhd_last_error), fmt, ap);
	mhd_last_error[strcspn(mhd_last_error, "\n")] = '\0';
	log_warning("metrics: http", "error", mhd_last_error);
}

/* ---- Requests ----------------------------------------------------- */

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned int status, const char *type,
    char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
respond_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	char *body = strdup(text);

	if (body == NULL)
		return MHD_NO;
	return respond(c, status, "text/plain; charset=utf-8", body, strlen(body));
}

static enum MHD_Result
serve_metrics(struct metrics_http *mh, struct MHD_Connection *c)
{
	size_t len;
	char *body;

	cqm_expire_pools(POOL_GAUGE_TTL);
	if ((body = metrics_render(cqm.reg, &len)) == NULL)
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	return respond(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len);
}

static enum MHD_Result
serve_healthz(struct metrics_http *mh, struct MHD_Connection *c)
{
	char reason[200], line[256];

	if (!metrics_store_ok(mh->store)) {
		snprintf(line, sizeof(line), "store: %s\n",
		    metrics_store_error(mh->store));
		return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, line);
	}
	reason[0] = '\0';
	if (mh->hooks.pools_up != NULL &&
	    !mh->hooks.pools_up(mh->hooks.arg, reason, sizeof(reason))) {
		snprintf(line, sizeof(line), "%s\n",
		    reason[0] ? reason : "a pool is down");
		return respond_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, line);
	}
	return respond_text(c, MHD_HTTP_OK, "ok\n");
}

/* Every suspended request gets its answer once a collection ends. */
static void
on_collected(void *arg)
{
	struct metrics_http *mh = arg;
	size_t i;

	for (i = 0; i < mh->nwaiters; i++)
		MHD_resume_connection(mh->waiters[i]);
	/* A resumed connection is only picked up by the next MHD_run(), and
	 * libmicrohttpd's wake-up does not always make its epoll descriptor
	 * readable: run it from the loop right away (not from here, which
	 * may be inside MHD_run()). */
	if (mh->nwaiters > 0)
		mhd_ev_kick(&mh->ev);
	mh->nwaiters = 0;
}

static int
cache_fresh(struct metrics_http *mh)
{
	ev_tstamp when = metrics_store_when(mh->store);

	return when > 0 && ev_now(mh->loop) - when < CACHE_SECONDS;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct metrics_http *mh = cls;
	struct request *rq = *req_cls;
	int is_metrics, is_health;

	is_metrics = strcmp(url, "/metrics") == 0;
	is_health = strcmp(url, "/healthz") == 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET and HEAD\n");
	if (!is_metrics && !is_health)
		return respond_text(c, MHD_HTTP_NOT_FOUND,
		    "not found: try /metrics or /healthz\n");
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*req_cls = rq;
	}
	if (!rq->waited && !cache_fresh(mh) && mh->nwaiters < MAX_WAITERS) {
		metrics_store_refresh(mh->store);
		/* A collection that failed at once has already ended. */
		if (metrics_store_busy(mh->store)) {
			rq->waited = 1;
			mh->waiters[mh->nwaiters++] = c;
			MHD_suspend_connection(c);
			return MHD_YES;
		}
	}
	return is_metrics ? serve_metrics(mh, c) : serve_healthz(mh, c);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	free(*req_cls);
	*req_cls = NULL;
}

/* ---- Start and stop ----------------------------------------------- */

static int
resolve(const char *host, unsigned short port, struct sockaddr_storage *ss,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* ":PORT": every IPv4 address ("[::]:PORT" for IPv6). */
	if (*host == '\0')
		hints.ai_family = AF_INET;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "metrics: listen %s: %s", host,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* Starts libmicrohttpd on listen (already validated) inside mh. */
static int
listener_start(struct metrics_http *mh, const char *listen, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	char host[256];
	unsigned short port;
	unsigned int flags;

	if (metrics_listen_parse(listen, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "metrics: listen %s: must be HOST:PORT, [IPV6]:PORT or off",
		    listen);
		return -1;
	}
	if (resolve(host, port, &ss, err, errlen) != 0)
		return -1;
	mhd_last_error[0] = '\0';
	flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mh->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, mh,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, mh,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, mh,
	    MHD_OPTION_END);
	if (mh->d == NULL) {
		snprintf(err, errlen, "metrics: listen %s: %s", listen,
		    mhd_last_error[0] ? mhd_last_error :
		    "cannot start the HTTP listener");
		return -1;
	}
	if (mhd_ev_start(&mh->ev, mh->loop, mh->d) < 0) {
		snprintf(err, errlen, "metrics: no epoll descriptor from libmicrohttpd");
		MHD_stop_daemon(mh->d);
		mh->d = NULL;
		return -1;
	}
	/* The port actually bound: "HOST:0" picks a free one. */
	info = MHD_get_daemon_info(mh->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(host, sizeof(host), "%u", info != NULL ? info->port : port);
	log_info("metrics: listening", "listen", listen, "port", host);
	return 0;
}

static void
listener_stop(struct metrics_http *mh)
{
	if (mh->d == NULL)
		return;
	/* libmicrohttpd must not be stopped with suspended connections:
	 * answer them (from the cache) first. */
	on_collected(mh);
	MHD_run(mh->d);
	mhd_ev_stop(&mh->ev);
	MHD_stop_daemon(mh->d);
	mh->d = NULL;
}

/* A new collection for cfg's store. */
static struct metrics_store *
store_new(struct metrics_http *mh, const struct codeq_config *cfg, char *err,
    size_t errlen)
{
	struct metrics_store *ms;
	char *password = NULL, perr[512];
	const char *path = cfg->store.password_file;

	if (path != NULL && *path != '\0' &&
	    (password = read_secret_line(path, perr, sizeof(perr))) == NULL) {
		snprintf(err, errlen, "metrics: %s", perr);
		return NULL;
	}
	ms = metrics_store_new(mh->loop, cfg,
	    password && password[0] ? password : NULL, COLLECT_TIMEOUT_MS,
	    MAX_QUEUES, on_collected, mh, err, errlen);
	free_secret(password);
	return ms;
}

static int
set_str(char **dst, const char *src)
{
	char *n = NULL;

	if (src != NULL && (n = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = n;
	return 0;
}

static void
mh_free(struct metrics_http *mh)
{
	listener_stop(mh);
	metrics_store_free(mh->store);
	free(mh->listen);
	free(mh->url);
	free(mh->password_file);
	if (current == mh)
		current = NULL;
	free(mh);
}

int
metrics_http_start(struct ev_loop *loop, const struct codeq_config *cfg,
    const struct metrics_http_hooks *hooks, struct metrics_http **out,
    char *err, size_t errlen)
{
	struct metrics_http *mh;
	char host[256];
	unsigned short port;
	int rc;

	*out = NULL;
	rc = metrics_listen_parse(cfg->metrics.listen, host, sizeof(host), &port);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "metrics: listen %s: must be HOST:PORT, [IPV6]:PORT or off",
		    cfg->metrics.listen);
		return -1;
	}
	if (cqm_init() != 0 || (mh = calloc(1, sizeof(*mh))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	mh->loop = loop;
	if (hooks != NULL)
		mh->hooks = *hooks;
	if (set_str(&mh->listen, cfg->metrics.listen) != 0 ||
	    set_str(&mh->url, cfg->store.url) != 0 ||
	    set_str(&mh->password_file, cfg->store.password_file) != 0) {
		snprintf(err, errlen, "metrics: out of memory");
		goto fail;
	}
	if ((mh->store = store_new(mh, cfg, err, errlen)) == NULL ||
	    listener_start(mh, cfg->metrics.listen, err, errlen) != 0)
		goto fail;
	current = mh;
	*out = mh;
	return 0;
fail:
	mh_free(mh);
	return -1;
}

void
metrics_http_reload(const struct codeq_config *cfg)
{
	struct metrics_http *mh = current;
	struct metrics_store *ms, *old;
	char err[512], host[256];
	unsigned short port;

	if (mh == NULL) {
		if (metrics_listen_parse(cfg->metrics.listen, host, sizeof(host),
		    &port) != 1)
			log_warning("metrics: the listener was off at start; "
			    "restart codeqd to start it", "listen",
			    cfg->metrics.listen);
		return;
	}
	if (config_str_differs(mh->url, cfg->store.url) ||
	    config_str_differs(mh->password_file, cfg->store.password_file)) {
		if ((ms = store_new(mh, cfg, err, sizeof(err))) == NULL ||
		    set_str(&mh->url, cfg->store.url) != 0 ||
		    set_str(&mh->password_file, cfg->store.password_file) != 0) {
			log_error("metrics: keeping the previous store", "error", err);
			metrics_store_free(ms);
		} else {
			old = mh->store;
			mh->store = ms;
			metrics_store_free(old);
			on_collected(mh);	/* waiters of the old one */
			log_info("metrics: now reading the new store");
		}
	}
	if (!config_str_differs(mh->listen, cfg->metrics.listen))
		return;
	if (metrics_listen_parse(cfg->metrics.listen, host, sizeof(host),
	    &port) == 1) {
		log_warning("metrics: listen cannot be turned off by a reload; "
		    "restart codeqd", "listen", mh->listen);
		return;
	}
	/* Another address: the new listener replaces the old one.  The two
	 * may share a port, so the old one goes first; if the new one
	 * cannot start, the old address is taken again. */
	listener_stop(mh);
	if (listener_start(mh, cfg->metrics.listen, err, sizeof(err)) == 0) {
		(void)set_str(&mh->listen, cfg->metrics.listen);
		return;
	}
	log_error("metrics: cannot move the listener, keeping the old address",
	    "error", err);
	if (listener_start(mh, mh->listen, err, sizeof(err)) != 0)
		log_error("metrics: listener stopped", "error", err);
}

void
metrics_http_stop(struct metrics_http *mh)
{
	if (mh != NULL)
		mh_free(mh);
}
