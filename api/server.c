/*
 * server.c - libmicrohttpd on the libev loop, and each request's way
 * from its headers to a handler: route, bearer token and scope, rate
 * limit, body size, JSON body, then the route's handler -- which answers
 * or asks to wait (a long poll: the connection is suspended, wait.c).
 *
 * Everything refused before the handler is refused on the headers alone,
 * before the body is read: a client without a valid token cannot make
 * the server buffer a megabyte.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "mhd_ev.h"
#include "store_options.h"
#include "codeq.h"
#include "log.h"

/* ---- Responses ------------------------------------------------------ */

static enum api_done
respond(struct req *r, unsigned status, char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char n[24];

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return API_FAILED;
	}
	if (len > 0)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->lease_hdr[0])
		MHD_add_response_header(resp, "X-CodeQ-Lease-Token", r->lease_hdr);
	if (r->retry_after > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"codeq\"");
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret == MHD_YES ? API_ANSWERED : API_FAILED;
}

enum api_done
api_json(struct req *r, unsigned status, json_t *body)
{
	char *text;

	if (body == NULL)
		return api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return API_FAILED;
	return respond(r, status, text, strlen(text));
}

enum api_done
api_error(struct req *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_json(r, status, json_pack("{ss}", "error", msg));
}

enum api_done
api_empty(struct req *r, unsigned status)
{
	return respond(r, status, NULL, 0);
}

enum api_done
api_codeq_error(struct req *r, int code, const char *msg)
{
	unsigned status;

	switch (code) {
	case CODEQ_EINVAL: status = MHD_HTTP_BAD_REQUEST; break;
	case CODEQ_ENOTFOUND: status = MHD_HTTP_NOT_FOUND; break;
	case CODEQ_ESTALE: status = MHD_HTTP_CONFLICT; break;
	case CODEQ_ESTATE: status = MHD_HTTP_CONFLICT; break;
	case CODEQ_ETOOBIG: status = MHD_HTTP_CONTENT_TOO_LARGE; break;
	case CODEQ_ESTORE: case CODEQ_EAUTH: case CODEQ_ETIMEDOUT:
		status = MHD_HTTP_SERVICE_UNAVAILABLE; break;
	case CODEQ_EPROTO: status = MHD_HTTP_BAD_GATEWAY; break;
	default: status = MHD_HTTP_INTERNAL_SERVER_ERROR; break;
	}
	return api_error(r, status, "%s", msg && *msg ? msg : codeq_strerror(code));
}

/* ---- The store ------------------------------------------------------ */

#define STORE_RETRY_MS 500	/* no store call this long after a failure */

static int
store_connect(struct api *a, char *err, size_t errlen)
{
	struct store_options so;
	codeq_error e;
	int rc;

	/* One try per call: a lost store must not hold the loop in
	 * libcodeq's reconnect backoff. */
	if (store_options_load(a->cfg, -1, &so, err, errlen) < 0)
		return -1;
	rc = codeq_connect(a->cfg->store.url, &so.o, &a->c, &e);
	store_options_free(&so);
	if (rc != CODEQ_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

struct codeq *
api_store(struct api *a)
{
	char err[256];

	if (api_now_ms() < a->store_retry_ms)
		return NULL;
	if (a->c == NULL && store_connect(a, err, sizeof(err)) < 0) {
		log_warning("store unavailable", "error", err);
		a->store_retry_ms = api_now_ms() + STORE_RETRY_MS;
		return NULL;
	}
	return a->c;
}

enum api_done
api_unavailable(struct req *r)
{
	r->retry_after = 1;
	return api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store unavailable");
}

void
api_store_lost(struct api *a, int code)
{
	if (code == CODEQ_ESTORE || code == CODEQ_EAUTH)
		a->store_retry_ms = api_now_ms() + STORE_RETRY_MS;
}

/* ---- Requests ------------------------------------------------------- */

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* r->tok from the bearer: a JWT (with jwks_file, and two dots) is
 * verified into r->jwt, which the request owns -- a long poll keeps it
 * across its suspension; any other bearer is looked up in the tokens
 * file.  The token itself is never logged, only why it was refused (at
 * debug level: unauthenticated clients must not flood the log). */
static int
identify(struct api *a, struct req *r, const char *bearer)
{
	size_t len = strlen(bearer);
	char why[128];

	if (a->jwks.n > 0 && jwt_shaped(bearer, len)) {
		if (jwt_verify(&a->jwks, &a->jwt, bearer, len, wall_ms(),
		    &r->jwt, why, sizeof(why)) < 0) {
			log_debug("JWT refused", "why", why);
			api_error(r, MHD_HTTP_UNAUTHORIZED, "%s", why);
			return -1;
		}
		r->tok = &r->jwt;
		return 0;
	}
	if ((r->tok = auth_find(&a->tokens, bearer, len)) == NULL) {
		api_error(r, MHD_HTTP_UNAUTHORIZED, "invalid token");
		return -1;
	}
	return 0;
}

/* A JWT's bucket is its subject's (jwt.h): its api_token dies with the
 * request.  The pointer is used here only, before anything else can
 * evict the subject. */
static struct ratelimit *
bucket(struct api *a, struct req *r)
{
	if (r->tok == &r->jwt)
		return jwt_subject_bucket(a->subjects, r->jwt.name);
	return &r->tok->rl;
}

/* 401, 403 or 429 from the headers; API_ANSWERED when refused. */
static int
authorize(struct api *a, struct req *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	int64_t wait;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		api_error(r, MHD_HTTP_UNAUTHORIZED, "missing bearer token");
		return -1;
	}
	if (identify(a, r, h + 7) < 0)
		return -1;
	if (!auth_allows(r->tok, r->route->scope)) {
		api_error(r, MHD_HTTP_FORBIDDEN, "token lacks the scope of %s %s",
		    r->route->method, r->route->pattern);
		return -1;
	}
	if (a->cfg->api.rate_limit == 0)
		return 0;
	wait = ratelimit_take(bucket(a, r), a->cfg->api.rate_limit,
	    a->cfg->api.rate_burst, api_now_ms());
	if (wait > 0) {
		r->retry_after = (wait + 999) / 1000;
		api_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate limit of %d "
		    "requests/s exceeded", a->cfg->api.rate_limit);
		return -1;
	}
	return 0;
}

static enum MHD_Result
begin(struct api *a, struct req *r, const char *method, const char *url)
{
	const char *cl;
	int known;

	r->route = route_find(method, url, r->id, sizeof(r->id), &known);
	if (r->route == NULL) {
		a->rejected++;
		return (known ? api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method %s not allowed here", method) :
		    api_error(r, MHD_HTTP_NOT_FOUND, "no such route")) ==
		    API_ANSWERED ? MHD_YES : MHD_NO;
	}
	if (authorize(a, r) < 0) {
		a->rejected++;
		return MHD_YES;
	}
	cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > a->max_body) {
		a->rejected++;
		return api_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body over %zu "
		    "bytes", a->max_body) == API_ANSWERED ? MHD_YES : MHD_NO;
	}
	return MHD_YES;
}

static void
take_body(struct api *a, struct req *r, const char *data, size_t n)
{
	char *b;

	if (r->too_big)
		return;
	if (r->len + n > a->max_body || (b = realloc(r->body, r->len + n + 1)) == NULL) {
		/* Chunked bodies have no Content-Length to refuse early. */
		r->too_big = 1;
		free(r->body);
		r->body = NULL;
		r->len = 0;
		return;
	}
	memcpy(b + r->len, data, n);
	r->len += n;
	b[r->len] = '\0';
	r->body = b;
}

/* The whole body is in: check it, then hand it to the handler. */
static enum api_done
dispatch(struct api *a, struct req *r)
{
	json_error_t je;

	if (r->waiting)
		return r->route->fn(a, r);
	if (r->too_big)
		return api_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "body over %zu bytes",
		    a->max_body);
	if (r->route->has_body && r->len > 0 &&
	    (r->json = json_loadb(r->body, r->len, 0, &je)) == NULL)
		return api_error(r, MHD_HTTP_BAD_REQUEST, "invalid JSON body: %s "
		    "(line %d)", je.text, je.line);
	if (r->json != NULL && !json_is_object(r->json))
		return api_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a "
		    "JSON object");
	a->requests++;
	return r->route->fn(a, r);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct api *a = cls;
	struct req *r = *req_cls;

	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->conn = c;
		*req_cls = r;
		return begin(a, r, method, url);
	}
	if (*upload_data_size > 0) {
		take_body(a, r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	switch (dispatch(a, r)) {
	case API_ANSWERED:
		return MHD_YES;
	case API_WAIT:
		wait_add(a, r);
		return MHD_YES;
	default:
		return MHD_NO;
	}
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *req_cls;
	size_t i;

	if (r == NULL)
		return;
	wait_remove(cls, r);
	for (i = 0; i < r->nqueues; i++)
		free(r->queues[i]);
	free(r->queues);
	jwt_token_clear(&r->jwt);
	json_decref(r->json);
	free(r->body);
	free(r);
	*req_cls = NULL;
}

void
api_kick(struct api *a)
{
	mhd_ev_kick(&a->ev);
}

static char mhd_last_error[256];

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	vsnprintf(mhd_last_error, sizeof(mhd_last_error), fmt, ap);
	mhd_last_error[strcspn(mhd_last_error, "\n")] = '\0';
	log_warning("http", "error", mhd_last_error);
}

/* HOST:PORT, [IPV6]:PORT or :PORT (conf.c checked the shape). */
static int
resolve(const char *listen, struct sockaddr_storage *ss, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	const char *colon = strrchr(listen, ':');
	char host[256];
	size_t n = (size_t)(colon - listen);
	int rc;

	if (*listen == '[' && n >= 2) {
		listen++;
		n -= 2;
	}
	if (n >= sizeof(host)) {
		snprintf(err, errlen, "listen %s: host too long", listen);
		return -1;
	}
	memcpy(host, listen, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (n == 0)
		hints.ai_family = AF_INET;
	if ((rc = getaddrinfo(n ? host : NULL, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: %s", listen, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static char *
slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	if (f == NULL || getdelim(&buf, &cap, '\0', f) < 0) {
		snprintf(err, errlen, "%s: %s", path, f ? "empty or unreadable" :
		    strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

static struct MHD_Daemon *
daemon_start(struct api *a, unsigned flags, const struct sockaddr_storage *ss,
    const char *cert, const char *key)
{
	const struct api_config *c = &a->cfg->api;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key },
		{ MHD_OPTION_END, 0, NULL },
	};

	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, a,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)c->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((c->request_timeout_ms + 999) / 1000),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a,
	    MHD_OPTION_ARRAY, cert ? tls : tls + 2,
	    MHD_OPTION_END);
}

/* The TLS files, when configured, into *cert and *key. */
static int
tls_load(struct api *a, unsigned *flags, char **cert, char **key, char *err,
    size_t errlen)
{
	const struct api_config *c = &a->cfg->api;

	*cert = *key = NULL;
	if (c->tls_cert == NULL)
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "%s:%d: tls_cert: this libmicrohttpd was "
		    "built without TLS", a->cfg->path, c->tls_cert_line);
		return -1;
	}
	if ((*cert = slurp(c->tls_cert, err, errlen)) == NULL ||
	    (*key = slurp(c->tls_key, err, errlen)) == NULL)
		return -1;
	*flags |= MHD_USE_TLS;
	return 0;
}

static int
listener_start(struct api *a, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	char *cert = NULL, *key = NULL;
	int rc = -1;

	if (resolve(a->cfg->api.listen, &ss, err, errlen) < 0 ||
	    tls_load(a, &flags, &cert, &key, err, errlen) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((a->d = daemon_start(a, flags, &ss, cert, key)) == NULL) {
		snprintf(err, errlen, "listen %s: %s", a->cfg->api.listen,
		    mhd_last_error[0] ? mhd_last_error : "cannot start");
		goto fail;
	}
	if (mhd_ev_start(&a->ev, a->loop, a->d) < 0) {
		snprintf(err, errlen, "listen %s: no epoll descriptor from "
		    "libmicrohttpd", a->cfg->api.listen);
		goto fail;
	}
	info = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : 0;
	rc = 0;
fail:
	if (key)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	return rc;
}

/* The tokens file and the JWKS, whichever are configured (conf.c made
 * sure of one). */
static int
tokens_load(struct api *a, char *err, size_t errlen)
{
	const struct api_config *c = &a->cfg->api;

	if (c->tokens_file != NULL &&
	    auth_load(c->tokens_file, &a->tokens, err, errlen) < 0)
		return -1;
	if (c->jwks_file == NULL)
		return 0;
	if (jwt_keys_load(c->jwks_file, &a->jwks, err, errlen) < 0)
		return -1;
	if ((a->subjects = jwt_subjects_new(JWT_SUBJECTS_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->jwt.issuer = c->jwt_issuer;
	a->jwt.audience = c->jwt_audience;
	a->jwt.leeway_ms = c->jwt_leeway_ms;
	return 0;
}

int
api_start(struct api *a, char *err, size_t errlen)
{
	char port[8];

	a->max_body = a->cfg->api.max_body ? a->cfg->api.max_body :
	    a->cfg->store.max_payload;
	if (tokens_load(a, err, errlen) < 0 ||
	    wait_start(a, err, errlen) < 0 || listener_start(a, err, errlen) < 0)
		return -1;
	snprintf(port, sizeof(port), "%u", a->port);
	log_info("listening", "listen", a->cfg->api.listen, "port", port,
	    "tls", a->cfg->api.tls_cert ? "yes" : "no");
	return 0;
}

void
api_stop(struct api *a)
{
	if (a->d != NULL) {
		/* Suspended connections must be resumed before MHD stops. */
		wait_all(a);
		MHD_run(a->d);
		MHD_quiesce_daemon(a->d);
		mhd_ev_stop(&a->ev);
		MHD_stop_daemon(a->d);
		a->d = NULL;
	}
	wait_stop(a);
	auth_free(&a->tokens);
	jwt_keys_free(&a->jwks);
	jwt_subjects_free(a->subjects);
	a->subjects = NULL;
	codeq_close(a->c);
	a->c = NULL;
}
