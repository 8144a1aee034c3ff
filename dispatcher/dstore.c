/*
 * dstore.c - the dispatcher's own link to the store: one synchronous
 * libcodeq connection (reconnect_attempts -1: one connect attempt per
 * call, no sleeps) used by the tick's duties, the promote timer, the
 * heartbeats and the give-backs.  When a call finds the store gone, the
 * link backs off (100 ms doubling to 5 s) and dstore_get() answers NULL
 * until the backoff ends, so a dead store costs the loop at most one
 * timeout per backoff period instead of one per duty.
 */
#include "config.h"

#include "backoff.h"
#include "codeq_metrics.h"
#include "codeqd.h"
#include "log.h"

#define STORE_BACKOFF_MIN_MS 100
#define STORE_BACKOFF_MAX_MS 5000

static void
dstore_backoff(void)
{
	D.store_retry_at = ev_now(D.loop) + backoff_ms(D.store_fails,
	    STORE_BACKOFF_MIN_MS, STORE_BACKOFF_MAX_MS) / 1000.;
}

codeq_t *
dstore_get(void)
{
	codeq_error err;

	if (ev_now(D.loop) < D.store_retry_at)
		return NULL;
	if (D.store != NULL)
		return D.store;
	if (codeq_connect(D.cfg->store.url, &D.so.o, &D.store, &err) == CODEQ_OK) {
		if (D.store_fails > 0) {
			log_notice("store reachable again");
			cqm_store_reconnect("dispatcher");
		}
		D.store_fails = 0;
		D.store_refused = 0;
		return D.store;
	}
	D.store = NULL;
	D.store_refused = err.code == CODEQ_EAUTH;
	dstore_lost(&err);
	return NULL;
}

/* Whether the store lets codeqd tell systemd READY: it accepted us, or
 * it is only unreachable (codeqd works once it is back).  A refused
 * password is a configuration error, not a passing outage. */
int
dstore_lets_ready(void)
{
	return D.store != NULL || (D.store_fails > 0 && !D.store_refused);
}

/* A call failed with CODEQ_ESTORE: back off (the connection object
 * reconnects by itself on its next use). */
void
dstore_lost(const codeq_error *err)
{
	cqm_store_error("dispatcher");
	if (D.store_fails++ == 0 || D.store_fails % 50 == 0) {
		if (D.store_refused)
			log_error("the store refused the password, retrying "
			    "with backoff", "error", err ? err->msg : "");
		else
			log_warning("store unreachable, retrying with backoff",
			    "error", err ? err->msg : "");
	}
	dstore_backoff();
}

int
dstore_ok(int rc, const codeq_error *err)
{
	if (rc == CODEQ_ESTORE) {
		dstore_lost(err);
		return 0;
	}
	if (D.store_fails > 0) {
		log_notice("store reachable again");
		cqm_store_reconnect("dispatcher");
		D.store_fails = 0;
	}
	return 1;
}

