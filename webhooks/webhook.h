/*
 * webhook.h - what the notifier and the callbacks process share besides
 * the HTTP engine: the child-process plumbing (libev loop, the link to
 * codeqd of common/child.h watched by the loop, counters about once a
 * second), the webhook secret, and the headers every request carries
 * (docs/webhooks.md).
 */
#ifndef CODEQ_WEBHOOK_H
#define CODEQ_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <ev.h>

#include "child.h"
#include "conf.h"
#include "sign.h"

struct wh_proc {
	struct ev_loop *loop;
	const char *name;		/* "notifier" or "callbacks" */
	struct child_link link;		/* to codeqd, when linked */
	int linked;			/* 0: run on its own (tests) */
	ev_io ipc_w;
	ev_signal sigterm, sigint;	/* only when not linked */
	ev_timer counters_t;
	int stopping;
	/* Called once when the process is asked to stop (SHUTDOWN or ABORT,
	 * the link's end; SIGTERM or SIGINT when not linked): stop the
	 * watchers so that ev_run returns. */
	void (*on_stop)(struct wh_proc *p);
	void *data;
};

/* Sets up the loop's watchers: the link to codeqd on ipc_fd (child.h),
 * or with ipc_fd -1, SIGTERM and SIGINT.  SIGPIPE ignored.  0, or -1. */
int wh_proc_init(struct wh_proc *p, const char *name, int ipc_fd);
/* Stops the plumbing's own watchers. */
void wh_proc_fini(struct wh_proc *p);
/* Tells codeqd the process is up (IPC_READY). */
void wh_proc_ready(struct wh_proc *p);

/* Counts one request's outcome: kind "work_available" or "result",
 * verdict from http_classify().  Also kept for the periodic IPC report. */
void wh_count(const char *kind, int verdict, double seconds);

/* The [webhooks] secret (secret_file, else secret_env).  *have is 0 when
 * neither is configured.  Never logs the secret. */
int wh_secret_load(const struct webhook_policy *w, struct sign_key *k,
    int *have, char *err, size_t errlen);

/* Headers of a delivery: webhook-id/-timestamp always, both signatures
 * when k is not NULL, traceparent when given.  NULL when out of memory. */
struct curl_slist *wh_headers(const struct sign_key *k, const char *msg_id,
    const char *body, size_t len, const char *traceparent);

/* Connects to the store of cfg ([store] url, password_file), trying once:
 * the caller retries on its own schedule, so the loop never sleeps in
 * hiredis' reconnect backoff. */
struct codeq;
int wh_store_connect(const struct codeq_config *cfg, struct codeq **out,
    char *err, size_t errlen);

/* The synchronous store connection of a webhook process.  Connected on
 * first use; after a failure no call is tried for a while, 0.5 s doubling
 * up to 8 s while failures follow each other: a call to a dead store
 * blocks the loop up to the connect or command timeout, so a long outage
 * must not take most of the loop's time.  The transitions down and up are
 * logged once each and counted (codeq_store_errors_total and
 * codeq_store_reconnects_total, label proc). */
struct wh_store {
	const struct codeq_config *cfg;
	const char *proc;		/* "notifier" or "callbacks" */
	struct codeq *c;		/* NULL until connected */
	int down;
	int64_t wait_until;		/* no store calls before (after errors) */
	int fails;			/* failures in a row */
	int64_t backoff_ms;		/* the current wait after a failure */
};

void wh_store_init(struct wh_store *s, const struct codeq_config *cfg,
    const char *proc);
/* 0 when s->c may be used now (connecting if needed), else -1. */
int wh_store_ready(struct wh_store *s);

/* A call failed (why: its message): wait a little before the next. */
void wh_store_failed(struct wh_store *s, const char *why);
/* A call succeeded: ends an outage. */
void wh_store_ok(struct wh_store *s);
void wh_store_close(struct wh_store *s);

/* The HTTP engine of a webhook process, with the [webhooks] policy, and
 * the process' secret (*have_key 0 when none is configured).  NULL after
 * logging why (a secret that cannot be read refuses to send unsigned). */
struct http;
struct http *wh_http_setup(struct ev_loop *loop,
    const struct webhook_policy *w, struct sign_key *key, int *have_key);

/* "msg_" + 26 random base32 characters. */
void wh_random_id(const char *prefix, char *out, size_t outlen);

int64_t wh_now_ms(void);

#endif
