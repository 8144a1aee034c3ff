/*
 * notifier.c - the notifier process (see notifier.h).
 *
 * Signals: the task scripts PUBLISH "Q N" on codeq:ready (CODEQ_CH_READY
 * of keys.h) when N tasks of queue Q became ready (enqueue, promotion of
 * a delayed task, requeue).
 * A subscription to that channel on every store (common/subscriber.c:
 * each queue publishes on the store holding it); the signalled queues
 * collect for [notifier] coalesce
 * (50 ms), then their ready depth is read and each queue is assigned to
 * its subscribers (route.c): one POST per subscriber carries every queue
 * with work for it.  The depths are read over an asynchronous connection
 * of their own (depth.c), so the loop goes on sending and reading
 * signals meanwhile; the signals of the windows that close during a read
 * go together in the next.  Short synchronous calls on a third
 * connection read the subscriptions (every second).
 *
 * Signals are advisory and get lost while a subscription's link is
 * down: after every (re)connect, and every [notifier] scan_interval, a
 * depth scan assigns the non-empty queues nobody was told about during
 * the last interval.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/async.h>

#include "clock.h"
#include "codeq.h"
#include "conf.h"
#include "notifier_depth.h"
#include "http.h"
#include "keys.h"
#include "jsonbuf.h"
#include "log.h"
#include "notifier.h"
#include "notifier_route.h"
#include "store.h"
#include "subscriber.h"
#include "webhook.h"

#define SUBS_REFRESH_MS 1000
#define RETRY_MAX_S 64.0	/* longest wait before a retry (2^6 s) */

struct notifier {
	struct wh_proc proc;
	const struct codeq_config *cfg;
	struct wh_store store;
	struct subscriber *sub;
	struct http *http;
	struct sign_key key;
	int have_key;
	struct route *route;
	struct depth_reader *depth;
	int64_t subs_at;
	ev_timer coalesce, sends, scan, refresh;
	struct strset signalled;	/* queues signalled this window */
	struct strset told;		/* queues assigned lately, */
	int64_t *told_at;		/* when (parallel to told.keys) */
	size_t told_cap;
	char at_text[40];		/* at_ms as RFC 3339: entries of one */
	int64_t at_ms;			/* window share their time */
	/* Requests in flight per target host (scheme://host:port), at most
	 * [webhooks] max_per_host each: the others' batches wait here, and
	 * keep collecting, rather than in the HTTP engine's queue, whose
	 * every step costs more with a thousand requests in it. */
	struct strset hosts;
	int *host_busy;			/* parallel to hosts.keys */
	size_t host_cap;
	int max_per_host;
	size_t send_from;		/* schedule_sends' round-robin start */
	char claim_url[600];		/* codeq-api's, "" when it is off */
};

struct send {
	struct notifier *n;
	char *sub_id;
	char *url;
	char *body;
	size_t len;
	char id[48];
	struct sign_key key;
	int have_key;
	int retries_left;
	int attempt;
	long host;			/* index in n->hosts, or -1 */
	ev_timer retry;
};

static void schedule_sends(struct notifier *n);

/* ---- small helpers ----------------------------------------------- */

/* Notes that queue was assigned at `at`. */
static void
told_mark(struct notifier *n, const char *queue, int64_t at)
{
	size_t pos;

	/* Room first: told_at stays parallel to told.keys. */
	if (n->told.n == n->told_cap) {
		size_t cap = n->told_cap ? n->told_cap * 2 : 64;
		int64_t *t = realloc(n->told_at, cap * sizeof(*t));

		if (t == NULL)
			return;		/* the scan looks again: harmless */
		n->told_at = t;
		n->told_cap = cap;
	}
	if (strset_add(&n->told, queue, &pos) >= 0)
		n->told_at[pos] = at;
}

static int64_t
told_when(const struct notifier *n, const char *queue)
{
	long pos = strset_find(&n->told, queue);

	return pos >= 0 ? n->told_at[pos] : 0;
}

/* Forgets the queues told about before `since`: the scan treats them
 * like queues never told about, and the set stays the size of the queues
 * with recent work. */
static void
told_prune(struct notifier *n, int64_t since)
{
	struct strset keep;
	int64_t *at;
	size_t i, pos;

	if (n->told.n == 0 ||
	    (at = malloc(n->told_cap * sizeof(*at))) == NULL)
		return;		/* keep everything: it only costs memory */
	memset(&keep, 0, sizeof(keep));
	for (i = 0; i < n->told.n; i++) {
		if (n->told_at[i] < since)
			continue;
		if (strset_add_h(&keep, n->told.keys[i], n->told.hashes[i],
		    &pos) < 0) {
			strset_free(&keep);
			free(at);
			return;
		}
		at[pos] = n->told_at[i];
	}
	strset_free(&n->told);
	free(n->told_at);
	n->told = keep;
	n->told_at = at;
}

/* ---- target hosts ------------------------------------------------ */

/* The index of url's scheme://host:port in n->hosts (added when new), or
 * -1 when it cannot be told (the request is then not counted). */
static long
host_index(struct notifier *n, const char *url)
{
	const char *p = strstr(url, "://"), *end, *at, *q;
	char key[512];
	size_t len, pos;

	if (p == NULL)
		return -1;
	end = p + 3 + strcspn(p + 3, "/?#");
	/* user:password@ is not part of the host. */
	for (at = q = p + 3; q < end; q++)
		if (*q == '@')
			at = q + 1;
	len = (size_t)(p + 3 - url) + (size_t)(end - at);
	if (len >= sizeof(key))
		return -1;
	memcpy(key, url, (size_t)(p + 3 - url));
	memcpy(key + (p + 3 - url), at, (size_t)(end - at));
	key[len] = '\0';
	/* Room first: host_busy stays parallel to hosts.keys. */
	if (n->hosts.n == n->host_cap) {
		size_t cap = n->host_cap ? n->host_cap * 2 : 8;
		int *b = realloc(n->host_busy, cap * sizeof(*b));

		if (b == NULL)
			return -1;
		memset(b + n->host_cap, 0, (cap - n->host_cap) * sizeof(*b));
		n->host_busy = b;
		n->host_cap = cap;
	}
	if (strset_add(&n->hosts, key, &pos) < 0)
		return -1;
	return (long)pos;
}

static int
host_full(const struct notifier *n, long host)
{
	return host >= 0 && n->host_busy[host] >= n->max_per_host;
}

/* ---- subscriptions ----------------------------------------------- */

static struct nsub *
nsub_from(struct notifier *n, const codeq_subscription *cs)
{
	struct nsub *s = calloc(1, sizeof(*s));
	redisReply *r;
	codeq_error e;
	char err[128], key[CODEQ_ID_MAX + 16];
	size_t i;

	if (s == NULL)
		return NULL;
	if (!(s->id = strdup(cs->id)) || !(s->url = strdup(cs->url)) ||
	    !(s->group = strdup(cs->group ? cs->group : "")) ||
	    !(s->queues = calloc(cs->nqueues + 1, sizeof(char *))))
		goto fail;
	for (i = 0; i < cs->nqueues; i++)
		if ((s->queues[s->nqueues++] = strdup(cs->queues[i])) == NULL)
			goto fail;
	s->mode = cs->mode;
	s->min_interval_ms = cs->min_interval_ms;
	s->expires_at = cs->expires_at;
	s->host = host_index(n, s->url);
	if (cs->has_secret) {
		/* An id too long for key (not written by libcodeq) finds
		 * no secret: said below. */
		(void)key_sub(key, sizeof(key), cs->id);
		r = store_command(n->store.c, &e, "HGET %s secret", key);
		if (r && r->type == REDIS_REPLY_STRING &&
		    sign_key_parse(r->str, &s->key, err, sizeof(err)) == 0)
			s->has_key = 1;
		else
			log_warning("subscription secret unusable: its "
			    "requests are signed with the daemon's secret",
			    "subscription", cs->id);
		if (r)
			freeReplyObject(r);
	}
	return s;
fail:
	nsub_free(s);
	return NULL;
}

static void
refresh_subs(struct notifier *n)
{
	codeq_subscription **cs;
	struct nsub **v;
	codeq_error e;
	size_t ncs, i, k = 0;

	if (wh_store_ready(&n->store) < 0)
		return;
	if (codeq_subscription_list(n->store.c, &cs, &ncs, &e) != CODEQ_OK) {
		wh_store_failed(&n->store, e.msg);
		return;
	}
	wh_store_ok(&n->store);
	if ((v = calloc(ncs + 1, sizeof(*v))) == NULL) {
		codeq_subscriptions_free(cs, ncs);
		return;
	}
	for (i = 0; i < ncs; i++)
		if ((v[k] = nsub_from(n, cs[i])) != NULL)
			k++;
	codeq_subscriptions_free(cs, ncs);
	if (k != route_count(n->route)) {
		char cnt[24];

		snprintf(cnt, sizeof(cnt), "%zu", k);
		log_info("subscriptions changed", "count", cnt);
	}
	route_replace(n->route, v, k);
	n->subs_at = wh_now_ms();
}

static void
on_refresh(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notifier *n = w->data;

	refresh_subs(n);
	schedule_sends(n);
}

/* ---- depth and assignment ---------------------------------------- */

/* Assigns each queue with work to its subscribers; depth[i] is queue i's
 * ready depth, -1 where unknown (store trouble: still worth telling, a
 * notification is only advisory), NULL for all unknown.  An emptied queue
 * is not worth a notification. */
static void
assign(struct notifier *n, char *const *queues, const int64_t *depth,
    size_t nq)
{
	int64_t now = wh_now_ms(), d;
	size_t i;

	for (i = 0; i < nq; i++) {
		d = depth ? depth[i] : -1;
		if (d == 0)
			continue;
		if (route_assign(n->route, queues[i], d < 0 ? 0 : d, now))
			told_mark(n, queues[i], now);
	}
	schedule_sends(n);
}

static void
on_depths(void *arg, char *const *queues, const int64_t *depth, size_t nq,
    const char *error)
{
	struct notifier *n = arg;

	if (error != NULL)
		wh_store_failed(&n->store, error);
	else
		wh_store_ok(&n->store);
	assign(n, queues, depth, nq);
}

/* Reads the depth of queues[0..nq-1], then assigns them (on_depths);
 * with the store down, at once with their depth unknown. */
static void
want_depths(struct notifier *n, char *const *queues, size_t nq)
{
	size_t i;

	if (nq == 0)
		return;
	if (wh_store_ready(&n->store) < 0 || (n->depth == NULL &&
	    (n->depth = depth_reader_new(n->proc.loop, n->cfg, on_depths,
	    n)) == NULL)) {
		assign(n, queues, NULL, nq);
		return;
	}
	for (i = 0; i < nq; i++)
		if (depth_want(n->depth, queues[i]) < 0)
			assign(n, queues + i, NULL, 1);
	depth_read(n->depth);
}

static void
on_coalesce(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct notifier *n = w->data;

	want_depths(n, n->signalled.keys, n->signalled.n);
	strset_clear(&n->signalled);
}

/* The periodic depth scan: queues with ready work that nobody was told
 * about for a scan interval (lost signals, or work nobody took). */
static void
scan(struct notifier *n)
{
	int64_t now = wh_now_ms(), iv = n->cfg->notifier.scan_interval_ms;
	char **names, **want;
	codeq_error e;
	size_t nn, i, k = 0;

	if (route_count(n->route) == 0 || wh_store_ready(&n->store) < 0)
		return;
	if (codeq_queues(n->store.c, &names, &nn, &e) != CODEQ_OK) {
		wh_store_failed(&n->store, e.msg);
		return;
	}
	wh_store_ok(&n->store);
	told_prune(n, now - iv);
	if ((want = calloc(nn + 1, sizeof(*want))) != NULL) {
		for (i = 0; i < nn; i++)
			if (route_wants(n->route, names[i]) &&
			    now - told_when(n, names[i]) >= iv)
				want[k++] = names[i];
		want_depths(n, want, k);
		free(want);
	}
	codeq_strv_free(names, nn);
}

static void
on_scan(struct ev_loop *loop, ev_timer *w, int revents)
{
	scan(w->data);
}

/* ---- sending ----------------------------------------------------- */

/* RFC 3339 text of ms; the entries of one window share one time, so the
 * last one is kept. */
static const char *
at_text(struct notifier *n, int64_t ms)
{
	if (ms != n->at_ms || n->at_text[0] == '\0') {
		format_rfc3339_ms(ms, n->at_text, sizeof(n->at_text));
		n->at_ms = ms;
	}
	return n->at_text;
}

/* The WORK_AVAILABLE body of s's batch (docs/webhooks.md), written
 * directly: at a thousand queues per batch and a batch per subscriber per
 * window, a jansson object per entry (several allocations each, then the
 * dump) costs several times more. */
static char *
body_for(struct notifier *n, const struct nsub *s, const char *id,
    int64_t now, size_t *len)
{
	struct jsonbuf b = { NULL, 0, 0, 0 };
	char at[40];
	size_t i;

	format_rfc3339_ms(now, at, sizeof(at));
	JB_LIT(&b, "{\"eventType\":\"WORK_AVAILABLE\",\"notificationId\":");
	jb_string(&b, id);
	JB_LIT(&b, ",\"subscriptionId\":");
	jb_string(&b, s->id);
	JB_LIT(&b, ",\"time\":");
	jb_string(&b, at);
	if (n->claim_url[0] != '\0') {
		JB_LIT(&b, ",\"claimUrl\":");
		jb_string(&b, n->claim_url);
	}
	JB_LIT(&b, ",\"queues\":[");
	for (i = 0; i < s->npending; i++) {
		if (i > 0)
			JB_LIT(&b, ",");
		JB_LIT(&b, "{\"queue\":");
		jb_string(&b, s->pending[i].queue);
		JB_LIT(&b, ",\"ready\":");
		jb_int(&b, s->pending[i].ready);
		JB_LIT(&b, ",\"time\":");
		jb_string(&b, at_text(n, s->pending[i].at_ms));
		JB_LIT(&b, "}");
	}
	JB_LIT(&b, "]}");
	return jb_finish(&b, len);
}

static void
send_free(struct send *x)
{
	free(x->sub_id);
	free(x->url);
	free(x->body);
	sign_key_clear(&x->key);
	free(x);
}

static int post(struct send *x);

static void
on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct send *x = w->data;

	if (post(x) < 0) {
		struct nsub *s = route_find(x->n->route, x->sub_id);

		if (s)
			s->inflight = 0;
		send_free(x);
	}
}

static void
on_sent(void *arg, const struct http_result *r)
{
	struct send *x = arg;
	struct notifier *n = x->n;
	enum http_verdict v = http_classify(r);
	struct nsub *s;

	if (x->host >= 0 && n->host_busy[x->host] > 0)
		n->host_busy[x->host]--;
	if (r->curl_code == CURLE_ABORTED_BY_CALLBACK) {
		send_free(x);
		return;
	}
	wh_count("work_available", (int)v, r->seconds);
	if (v != HTTP_DELIVERED)
		log_notice("WORK_AVAILABLE delivery failed", "subscription",
		    x->sub_id, "webhook_id", x->id, "outcome",
		    http_verdict_name(v), "error", r->error);
	if (v == HTTP_RETRY && x->retries_left > 0 && !n->proc.stopping) {
		double d = (double)(1 << (x->attempt < 6 ? x->attempt : 6));

		/* A subscriber's Retry-After is honoured up to our own
		 * longest wait: it holds this subscriber's next POSTs. */
		if (r->retry_after_ms >= 0)
			d = r->retry_after_ms / 1000.0;
		if (d > RETRY_MAX_S)
			d = RETRY_MAX_S;
		x->retries_left--;
		x->attempt++;
		ev_timer_init(&x->retry, on_retry, d, 0.);
		x->retry.data = x;
		ev_timer_start(n->proc.loop, &x->retry);
		return;
	}
	if ((s = route_find(n->route, x->sub_id)) != NULL)
		s->inflight = 0;
	send_free(x);
	if (!n->proc.stopping)
		schedule_sends(n);
}

static int
post(struct send *x)
{
	struct curl_slist *h;
	char *body;

	if ((body = malloc(x->len + 1)) == NULL)
		return -1;
	memcpy(body, x->body, x->len + 1);
	if ((h = wh_headers(x->have_key ? &x->key : NULL, x->id, body, x->len,
	    NULL)) == NULL) {
		free(body);
		return -1;
	}
	if (http_post(x->n->http, x->url, body, x->len, h, on_sent, x) < 0)
		return -1;
	if (x->host >= 0)
		x->n->host_busy[x->host]++;
	return 0;
}

static void
send_now(struct notifier *n, struct nsub *s, int64_t now)
{
	struct send *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return;
	x->n = n;
	x->host = s->host;
	x->retries_left = n->cfg->notifier.retries;
	wh_random_id("ntf_", x->id, sizeof(x->id));
	if ((x->body = body_for(n, s, x->id, now, &x->len)) == NULL ||
	    (x->sub_id = strdup(s->id)) == NULL ||
	    (x->url = strdup(s->url)) == NULL) {
		send_free(x);
		return;
	}
	if (s->has_key) {
		x->key = s->key;
		x->have_key = 1;
	} else if (n->have_key) {
		x->key = n->key;
		x->have_key = 1;
	}
	route_sent(s, now);
	if (post(x) < 0) {
		log_warning("could not start a WORK_AVAILABLE request",
		    "subscription", s->id);
		send_free(x);
		return;
	}
	s->inflight = 1;
}

static void
schedule_sends(struct notifier *n)
{
	int64_t now = wh_now_ms(), next = INT64_MAX, t;
	size_t ns = route_count(n->route), k, i, last = SIZE_MAX;

	/* Round-robin from after the last subscriber served: when a host's
	 * requests are all taken, its subscribers get the slots in turn. */
	for (k = 0; k < ns; k++) {
		struct nsub *s = route_get(n->route, i = (n->send_from + k) % ns);

		if ((t = route_next_send(s, now)) == 0) {
			/* A request to that host ends soon: its on_sent
			 * schedules again. */
			if (host_full(n, s->host))
				continue;
			send_now(n, s, now);
			last = i;
		} else if (t < next)
			next = t;
	}
	if (last != SIZE_MAX)
		n->send_from = last + 1;
	ev_timer_stop(n->proc.loop, &n->sends);
	if (next != INT64_MAX) {
		ev_timer_set(&n->sends, (double)(next - now) / 1000.0, 0.);
		ev_timer_start(n->proc.loop, &n->sends);
	}
}

static void
on_sends(struct ev_loop *loop, ev_timer *w, int revents)
{
	schedule_sends(w->data);
}

/* ---- the subscriptions ------------------------------------------ */

static void
on_subscribed(void *priv, const char *channel, size_t store)
{
	struct notifier *n = priv;

	(void)store;
	log_info("listening", "channel", channel);
	/* Signals sent while we were away are lost: look. */
	scan(n);
}

static void
on_message(void *priv, const char *channel, const char *queue, long long cnt)
{
	struct notifier *n = priv;

	(void)channel;
	(void)cnt;
	if (!route_wants(n->route, queue))
		return;
	if (strset_add(&n->signalled, queue, NULL) < 0)
		return;		/* advisory: the depth scan finds it */
	if (!ev_is_active(&n->coalesce)) {
		ev_timer_set(&n->coalesce,
		    n->cfg->notifier.coalesce_ms / 1000.0, 0.);
		ev_timer_start(n->proc.loop, &n->coalesce);
	}
}

/* On every store: a queue's scripts publish on the one holding it. */
static int
subscribe(struct notifier *n)
{
	static const char *const channels[] = { CODEQ_CH_READY };
	static const struct subscriber_cbs cbs = { on_subscribed, on_message };
	char err[256];

	n->sub = subscriber_start(n->proc.loop, n->cfg, channels, 1, &cbs, n,
	    "work notifications", err, sizeof(err));
	if (n->sub == NULL)
		log_error("notifier: cannot subscribe", "error", err);
	return n->sub == NULL ? -1 : 0;
}

/* ---- the process ------------------------------------------------- */

static void
on_stop(struct wh_proc *p)
{
	struct notifier *n = p->data;

	ev_timer_stop(p->loop, &n->coalesce);
	ev_timer_stop(p->loop, &n->sends);
	ev_timer_stop(p->loop, &n->scan);
	subscriber_stop(n->sub);	/* no callback after this */
	n->sub = NULL;
	ev_timer_stop(p->loop, &n->refresh);
	/* WORK_AVAILABLE is advisory: nothing in flight is worth waiting
	 * for at shutdown. */
	ev_break(p->loop, EVBREAK_ALL);
}

static int
setup(struct notifier *n, const struct codeq_config *cfg)
{
	double scan_s;

	n->cfg = cfg;
	config_api_claim_url(cfg, n->claim_url, sizeof(n->claim_url));
	/* The HTTP engine's own limit, default included. */
	n->max_per_host = cfg->webhooks.max_per_host > 0 ?
	    cfg->webhooks.max_per_host : 8;
	wh_store_init(&n->store, cfg, "notifier");
	if ((n->http = wh_http_setup(n->proc.loop, &cfg->webhooks, &n->key,
	    &n->have_key)) == NULL)
		return -1;
	if ((n->route = route_new()) == NULL) {
		log_error("notifier setup failed", "error", "out of memory");
		return -1;
	}
	scan_s = (cfg->notifier.scan_interval_ms > 0 ?
	    cfg->notifier.scan_interval_ms : 5000) / 1000.0;
	ev_timer_init(&n->coalesce, on_coalesce, 0., 0.);
	ev_timer_init(&n->sends, on_sends, 0., 0.);
	ev_timer_init(&n->scan, on_scan, scan_s, scan_s);
	ev_timer_init(&n->refresh, on_refresh, 0., SUBS_REFRESH_MS / 1000.0);
	n->coalesce.data = n->sends.data = n->scan.data = n;
	n->refresh.data = n;
	return 0;
}

static void
notifier_free(struct notifier *n)
{
	subscriber_stop(n->sub);
	depth_reader_free(n->depth);
	http_free(n->http);
	route_free(n->route);
	strset_free(&n->signalled);
	strset_free(&n->hosts);
	free(n->host_busy);
	strset_free(&n->told);
	free(n->told_at);
	wh_store_close(&n->store);
	sign_key_clear(&n->key);
	wh_proc_fini(&n->proc);
}

int
notifier_main(const struct codeq_config *cfg, int ipc_fd)
{
	struct notifier n;

	memset(&n, 0, sizeof(n));
	log_set_proc("notifier");
	n.proc.on_stop = on_stop;
	n.proc.data = &n;
	if (wh_proc_init(&n.proc, "notifier", ipc_fd) < 0)
		return 1;
	if (setup(&n, cfg) < 0) {
		http_free(n.http);
		route_free(n.route);
		sign_key_clear(&n.key);
		wh_proc_fini(&n.proc);
		return 1;
	}
	if (cfg->notifier.enabled) {
		refresh_subs(&n);
		ev_timer_start(n.proc.loop, &n.refresh);
		ev_timer_start(n.proc.loop, &n.scan);
		if (subscribe(&n) < 0) {
			notifier_free(&n);
			return 1;
		}
	}
	wh_proc_ready(&n.proc);
	log_info("notifier started", "enabled",
	    cfg->notifier.enabled ? "yes" : "no", "signed",
	    n.have_key ? "yes" : "no");
	ev_run(n.proc.loop, 0);
	notifier_free(&n);
	return 0;
}
