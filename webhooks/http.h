/*
 * http.h - the outgoing HTTP machinery shared by the notifier and the
 * callbacks process: one libcurl multi handle driven by a libev loop
 * (CURLMOPT_SOCKETFUNCTION -> ev_io, CURLMOPT_TIMERFUNCTION -> ev_timer).
 *
 * Requests run concurrently: a hanging endpoint only holds its own
 * connections (bounded per host by max_per_host) until the total timeout.
 * Connections are kept alive and reused between requests to the same
 * host.  Redirects are never followed: a 3xx is a failure.  Every
 * connection's resolved address passes the address policy (addrpolicy.h)
 * before the socket is opened; environment proxies are ignored so that
 * the address checked is the address connected to.
 */
#ifndef CODEQ_HTTP_H
#define CODEQ_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <ev.h>

struct http_opts {
	int allow_loopback;
	int allow_private;
	int max_per_host;		/* in-flight connections per host:port */
	int64_t connect_timeout_ms;
	int64_t timeout_ms;		/* whole request */
	const char *user_agent;		/* NULL: "codeq/VERSION" */
};

struct http_result {
	long status;			/* HTTP status; 0 when none was received */
	int curl_code;			/* CURLcode of the transfer */
	int refused;			/* the target policy refused the address */
	int timed_out;
	int64_t retry_after_ms;		/* Retry-After, -1 when absent */
	double seconds;			/* total time */
	const char *error;		/* one line, valid during the callback */
};

enum http_verdict {
	HTTP_DELIVERED = 0,		/* 2xx */
	HTTP_RETRY,			/* connect error, timeout, 408, 429, 5xx */
	HTTP_PERMANENT,			/* other 4xx, 3xx, refused target */
};

/* Called once per request, also when the engine is freed (curl_code
 * CURLE_ABORTED_BY_CALLBACK).  May start new requests. */
typedef void (*http_done_fn)(void *arg, const struct http_result *r);

struct http;

struct http *http_new(struct ev_loop *loop, const struct http_opts *o,
    char *err, size_t errlen);
/* Cancels what is in flight (each callback runs) and frees. */
void http_free(struct http *h);

/* POSTs body (malloc()ed; taken, freed by the engine) to url with the
 * headers (taken; "Content-Type: application/json" is added).  Returns 0,
 * or -1 when the request could not even be started (done is not called). */
int http_post(struct http *h, const char *url, char *body, size_t len,
    struct curl_slist *headers, http_done_fn done, void *arg);

size_t http_inflight(const struct http *h);

enum http_verdict http_classify(const struct http_result *r);
const char *http_verdict_name(enum http_verdict v);

#endif
