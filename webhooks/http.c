/*
 * http.c - libcurl multi driven by libev (see http.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include "codeq.h"
#include "http.h"
#include "addrpolicy.h"

#define ERRBODY_MAX 200
#define RETRY_AFTER_MAX_S (24 * 3600)	/* a longer Retry-After counts as this */

struct http {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct http_opts opts;
	char user_agent[64];
	size_t inflight;
	struct http_req *reqs;		/* in flight, for http_free */
};

struct http_sock {
	ev_io io;
	struct http *h;
	curl_socket_t fd;
};

struct http_req {
	struct http *h;
	CURL *easy;
	char *body;
	struct curl_slist *headers;
	http_done_fn done;
	void *arg;
	int refused;
	char refused_why[96];
	char errbuf[CURL_ERROR_SIZE];
	char resp[ERRBODY_MAX + 1];	/* start of the response body */
	size_t resp_len;
	struct http_req *prev, *next;
};

static void check_done(struct http *h);

static void
on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_sock *s = (struct http_sock *)w;
	struct http *h = s->h;
	int action = 0, running;

	if (revents & EV_READ)
		action |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, s->fd, action, &running);
	check_done(h);
}

static void
on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http *h = w->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(h);
}

static int
sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct http *h = userp;
	struct http_sock *s = sockp;
	int ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(h->loop, &s->io);
			free(s);
			curl_multi_assign(h->multi, fd, NULL);
		}
		return 0;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->h = h;
		s->fd = fd;
		ev_init(&s->io, on_io);
		curl_multi_assign(h->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	ev_io_stop(h->loop, &s->io);
	ev_io_set(&s->io, fd, ev);
	ev_io_start(h->loop, &s->io);
	return 0;
}

static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct http *h = userp;

	ev_timer_stop(h->loop, &h->timer);
	if (timeout_ms >= 0) {
		/* 0 means "as soon as possible": curl must not be re-entered
		 * from this callback, so let the loop call back. */
		ev_timer_set(&h->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

/* The target policy, on the address curl is about to connect to. */
static curl_socket_t
open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct http_req *r = clientp;
	const struct http_opts *o = &r->h->opts;
	enum addrpolicy_class c;

	c = addrpolicy_classify(&a->addr, a->addrlen);
	if (!addrpolicy_allowed(&a->addr, a->addrlen, o->allow_loopback,
	    o->allow_private)) {
		r->refused = 1;
		snprintf(r->refused_why, sizeof(r->refused_why),
		    "target refused by policy: %s address", addrpolicy_class_name(c));
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *r = arg;
	size_t len = size * n, room = ERRBODY_MAX - r->resp_len;

	if (room > 0) {
		if (len < room)
			room = len;
		memcpy(r->resp + r->resp_len, p, room);
		r->resp_len += room;
		r->resp[r->resp_len] = '\0';
	}
	return len;
}

static void
req_unlink(struct http *h, struct http_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		h->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	h->inflight--;
}

static void
req_free(struct http_req *r)
{
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

/* One printable line from the start of a response body. */
static void
body_excerpt(const struct http_req *r, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < r->resp_len && j + 1 < outlen; i++) {
		unsigned char ch = (unsigned char)r->resp[i];

		out[j++] = (ch < 0x20 || ch >= 0x7f) ? ' ' : (char)ch;
	}
	out[j] = '\0';
}

static void
finish(struct http *h, struct http_req *r, CURLcode code)
{
	struct http_result res;
	char msg[CURL_ERROR_SIZE + ERRBODY_MAX + 64], ex[ERRBODY_MAX + 1];
	curl_off_t ra = -1;
	long status = 0;

	memset(&res, 0, sizeof(res));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &res.seconds);
	if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
		ra = -1;
	res.status = code == CURLE_OK ? status : 0;
	res.curl_code = code;
	res.refused = r->refused;
	res.timed_out = code == CURLE_OPERATION_TIMEDOUT;
	/* The receiver chooses the number: bound it before scaling. */
	if (ra > RETRY_AFTER_MAX_S)
		ra = RETRY_AFTER_MAX_S;
	res.retry_after_ms = ra > 0 ? (int64_t)ra * 1000 : -1;
	if (r->refused)
		snprintf(msg, sizeof(msg), "%s", r->refused_why);
	else if (code != CURLE_OK)
		snprintf(msg, sizeof(msg), "%s", r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(code));
	else {
		body_excerpt(r, ex, sizeof(ex));
		snprintf(msg, sizeof(msg), "HTTP %ld%s%s", status,
		    ex[0] ? ": " : "", ex);
	}
	res.error = msg;
	req_unlink(h, r);
	r->done(r->arg, &res);
	req_free(r);
}

static void
check_done(struct http *h)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		struct http_req *r = NULL;
		CURL *e = m->easy_handle;
		CURLcode code = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
		curl_multi_remove_handle(h->multi, e);
		finish(h, r, code);
	}
}

struct http *
http_new(struct ev_loop *loop, const struct http_opts *o, char *err,
    size_t errlen)
{
	struct http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->loop = loop;
	h->opts = *o;
	if (h->opts.max_per_host <= 0)
		h->opts.max_per_host = 8;
	snprintf(h->user_agent, sizeof(h->user_agent), "%s",
	    o->user_agent ? o->user_agent : "codeq");
	if (o->user_agent == NULL)
		snprintf(h->user_agent, sizeof(h->user_agent), "codeq/%s",
		    codeq_version());
	h->opts.user_agent = h->user_agent;
	if ((h->multi = curl_multi_init()) == NULL) {
		free(h);
		snprintf(err, errlen, "curl_multi_init failed");
		return NULL;
	}
	ev_timer_init(&h->timer, on_timer, 0., 0.);
	h->timer.data = h;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)h->opts.max_per_host);
	/* Keep enough idle connections to reuse one per busy host. */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 64L);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	while (h->reqs) {
		struct http_req *r = h->reqs;

		curl_multi_remove_handle(h->multi, r->easy);
		finish(h, r, CURLE_ABORTED_BY_CALLBACK);
	}
	curl_multi_cleanup(h->multi);
	ev_timer_stop(h->loop, &h->timer);
	free(h);
}

size_t
http_inflight(const struct http *h)
{
	return h->inflight;
}

static int
req_setup(struct http_req *r, const char *url, size_t len)
{
	const struct http_opts *o = &r->h->opts;
	CURL *e = r->easy;
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500	/* 7.85: the string form */
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")
	    != CURLE_OK;
#else
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
	/* An empty proxy disables the *_proxy environment variables. */
	bad |= curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)len) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent)
	    != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)o->connect_timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms)
	    != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_cb)
	    != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, r) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb)
	    != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK;
	return bad ? -1 : 0;
}

int
http_post(struct http *h, const char *url, char *body, size_t len,
    struct curl_slist *headers, http_done_fn done, void *arg)
{
	struct http_req *r;
	struct curl_slist *t;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto fail;
	r->h = h;
	r->body = body;
	r->headers = headers;
	r->done = done;
	r->arg = arg;
	body = NULL;
	headers = NULL;
	/* No "Expect: 100-continue" round trip for large bodies. */
	if ((t = curl_slist_append(r->headers,
	    "Content-Type: application/json")) == NULL)
		goto fail;
	r->headers = t;
	if ((t = curl_slist_append(r->headers, "Expect:")) == NULL)
		goto fail;
	r->headers = t;
	if ((r->easy = curl_easy_init()) == NULL || req_setup(r, url, len) < 0)
		goto fail;
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto fail;
	r->next = h->reqs;
	if (h->reqs)
		h->reqs->prev = r;
	h->reqs = r;
	h->inflight++;
	return 0;
fail:
	if (r)
		req_free(r);
	else {
		free(body);
		curl_slist_free_all(headers);
	}
	return -1;
}

enum http_verdict
http_classify(const struct http_result *r)
{
	if (r->refused)
		return HTTP_PERMANENT;
	if (r->curl_code != CURLE_OK)
		return HTTP_RETRY;
	if (r->status >= 200 && r->status < 300)
		return HTTP_DELIVERED;
	if (r->status == 408 || r->status == 429 || r->status >= 500)
		return HTTP_RETRY;
	return HTTP_PERMANENT;
}

const char *
http_verdict_name(enum http_verdict v)
{
	switch (v) {
	case HTTP_DELIVERED: return "delivered";
	case HTTP_RETRY: return "retry";
	default: return "permanent";
	}
}
