/*
 * webhook.c - plumbing shared by the notifier and the callbacks process.
 */
#include "backoff.h"
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "child.h"
#include "clock.h"
#include "codeq.h"
#include "codeq_metrics.h"
#include "http.h"
#include "ipc.h"
#include "log.h"
#include "store_options.h"
#include "store.h"
#include "webhook.h"

void
wh_count(const char *kind, int verdict, double seconds)
{
	static const char *const outcome[] = { "success", "retry", "permanent" };

	/* In a child of codeqd this lands in the table sent to it below. */
	cqm_webhook(kind, outcome[verdict >= 0 && verdict <= 2 ? verdict : 2],
	    seconds);
}

/* Absolute values since start, about once a second (child.h). */
static void
send_counters(struct wh_proc *p)
{
	if (p->linked)
		child_link_counters(&p->link, 1);
}

static void
stop(struct wh_proc *p, const char *why)
{
	if (p->stopping)
		return;
	p->stopping = 1;
	log_info("stopping", "reason", why);
	send_counters(p);
	wh_proc_fini(p);
	if (p->on_stop)
		p->on_stop(p);
}

/* Only without a dispatcher (the tests run a process on its own): a
 * child of codeqd ignores the stop signals (child.h). */
static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	stop(w->data, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
on_ipc(struct ev_loop *loop, ev_io *w, int revents)
{
	struct wh_proc *p = w->data;
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
on_counters(struct ev_loop *loop, ev_timer *w, int revents)
{
	send_counters(w->data);
}

int
wh_proc_init(struct wh_proc *p, const char *name, int ipc_fd)
{
	p->loop = EV_DEFAULT;
	p->name = name;
	p->linked = ipc_fd >= 0;
	p->stopping = 0;
	ev_timer_init(&p->counters_t, on_counters, 1., 1.);
	p->counters_t.data = p;
	ev_timer_start(p->loop, &p->counters_t);
	if (p->linked) {
		child_link_init(&p->link, ipc_fd);
		ev_io_init(&p->ipc_w, on_ipc, ipc_fd, EV_READ);
		p->ipc_w.data = p;
		ev_io_start(p->loop, &p->ipc_w);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_signal_init(&p->sigterm, on_signal, SIGTERM);
	ev_signal_init(&p->sigint, on_signal, SIGINT);
	p->sigterm.data = p->sigint.data = p;
	ev_signal_start(p->loop, &p->sigterm);
	ev_signal_start(p->loop, &p->sigint);
	return 0;
}

void
wh_proc_fini(struct wh_proc *p)
{
	ev_timer_stop(p->loop, &p->counters_t);
	if (p->linked)
		ev_io_stop(p->loop, &p->ipc_w);
	else {
		ev_signal_stop(p->loop, &p->sigterm);
		ev_signal_stop(p->loop, &p->sigint);
	}
}

void
wh_proc_ready(struct wh_proc *p)
{
	if (p->linked)
		(void)child_link_ready(&p->link);
}

int
wh_secret_load(const struct webhook_policy *w, struct sign_key *k, int *have,
    char *err, size_t errlen)
{
	*have = 0;
	if (w->secret_file && *w->secret_file) {
		if (sign_key_from_file(w->secret_file, k, err, errlen) < 0)
			return -1;
		*have = 1;
	} else if (w->secret_env && *w->secret_env) {
		if (sign_key_from_env(w->secret_env, k, err, errlen) < 0)
			return -1;
		*have = 1;
	}
	return 0;
}

static int
add(struct curl_slist **h, const char *fmt, const char *a, const char *b)
{
	char line[512];
	struct curl_slist *t;

	snprintf(line, sizeof(line), fmt, a, b);
	if ((t = curl_slist_append(*h, line)) == NULL)
		return -1;
	*h = t;
	return 0;
}

struct curl_slist *
wh_headers(const struct sign_key *k, const char *msg_id, const char *body,
    size_t len, const char *traceparent)
{
	struct curl_slist *h = NULL;
	char ts[24], sig[SIGN_STD_MAX], hex[SIGN_HEX_MAX];
	long long now = (long long)time(NULL);
	int bad = 0;

	snprintf(ts, sizeof(ts), "%lld", now);
	bad |= add(&h, "webhook-id: %s%s", msg_id, "");
	bad |= add(&h, "webhook-timestamp: %s%s", ts, "");
	if (k) {
		if (sign_standard(k, msg_id, now, body, len, sig) < 0 ||
		    sign_codeq(k, now, body, len, hex) < 0)
			bad = 1;
		else {
			bad |= add(&h, "webhook-signature: %s%s", sig, "");
			bad |= add(&h, "X-CodeQ-Timestamp: %s%s", ts, "");
			bad |= add(&h, "X-CodeQ-Signature: %s%s", hex, "");
		}
	}
	/* Only a well-formed W3C value: the task's text must not be able
	 * to inject header lines. */
	if (traceparent && *traceparent && strlen(traceparent) < 128 &&
	    strspn(traceparent, "0123456789abcdef-") == strlen(traceparent))
		bad |= add(&h, "traceparent: %s%s", traceparent, "");
	if (bad) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

void
wh_random_id(const char *prefix, char *out, size_t outlen)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char r[26];
	char s[27];
	size_t i;

	if (RAND_bytes(r, sizeof(r)) != 1) {
		/* Uniqueness, not secrecy: time and pid suffice then. */
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(rand() ^ getpid() ^ time(NULL));
	}
	for (i = 0; i < sizeof(r); i++)
		s[i] = b32[r[i] & 31];
	s[sizeof(r)] = '\0';
	snprintf(out, outlen, "%s%s", prefix, s);
}

int64_t
wh_now_ms(void)
{
	return clock_wall_ms();
}

#define STORE_RETRY_MS 500	/* no store call this long after a failure, */
#define STORE_RETRY_MAX_MS 8000	/* doubling up to this while they go on */

void
wh_store_init(struct wh_store *s, const struct codeq_config *cfg,
    const char *proc)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->proc = proc;
}

void
wh_store_failed(struct wh_store *s, const char *why)
{
	if (!s->down)
		log_warning("store unavailable", "error", why);
	cqm_store_error(s->proc);
	s->down = 1;
	s->backoff_ms = backoff_ms(++s->fails, STORE_RETRY_MS,
	    STORE_RETRY_MAX_MS);
	s->wait_until = wh_now_ms() + s->backoff_ms;
}

void
wh_store_ok(struct wh_store *s)
{
	if (s->down) {
		log_info("store available again");
		cqm_store_reconnect(s->proc);
	}
	s->down = 0;
	s->fails = 0;
	s->backoff_ms = 0;
}

int
wh_store_ready(struct wh_store *s)
{
	char err[256];

	if (wh_now_ms() < s->wait_until)
		return -1;
	if (s->c == NULL &&
	    wh_store_connect(s->cfg, &s->c, err, sizeof(err)) < 0) {
		wh_store_failed(s, err);
		return -1;
	}
	return 0;
}

void
wh_store_close(struct wh_store *s)
{
	codeq_close(s->c);
	s->c = NULL;
}

struct http *
wh_http_setup(struct ev_loop *loop, const struct webhook_policy *w,
    struct sign_key *key, int *have_key)
{
	struct http_opts o = {
		.allow_loopback = w->allow_loopback,
		.allow_private = w->allow_private,
		.max_per_host = w->max_per_host,
		.connect_timeout_ms = w->connect_timeout_ms,
		.timeout_ms = w->timeout_ms,
	};
	struct http *h;
	char err[256];

	/* A secret that cannot be read is a configuration error codeqd
	 * checks before forking; refuse to send unsigned. */
	if (wh_secret_load(w, key, have_key, err, sizeof(err)) < 0) {
		log_error("webhook secret unavailable", "error", err);
		return NULL;
	}
	if ((h = http_new(loop, &o, err, sizeof(err))) == NULL) {
		log_error("HTTP engine", "error", err);
		sign_key_clear(key);
		*have_key = 0;
	}
	return h;
}

int
wh_store_connect(const struct codeq_config *cfg, struct codeq **out,
    char *err, size_t errlen)
{
	struct store_options so;
	codeq_error e;
	int rc;

	/* Read at each connect (codeqd and codeq-worker read them once at
	 * start): a rotated password is picked up by the next reconnect. */
	if (store_options_load(cfg, 0, &so, err, errlen) < 0)
		return -1;
	rc = codeq_connect(cfg->store.url, &so.o, out, &e);
	store_options_free(&so);
	if (rc != CODEQ_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	/* One try per call: a lost store is retried by our timers. */
	(*out)->reconnect_attempts = 0;
	return 0;
}
