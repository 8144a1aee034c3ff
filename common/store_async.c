/*
 * store_async.c: opening an asynchronous store connection with its
 * AUTH and SELECT queued first (see store_async.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/adapters/libev.h>

#include "store_async.h"

/* AUTH and SELECT, queued before the caller's commands. */
static int
handshake(redisAsyncContext *ac, const struct store_async *a, int *queued,
    char *why, size_t whylen)
{
	int rc;

	if ((rc = store_url_auth_async(ac, a->url, a->password, a->on_auth,
	    a->priv)) < 0) {
		snprintf(why, whylen, "cannot queue AUTH");
		return -1;
	}
	*queued += rc;
	if (!a->select_db || a->url->db == 0)
		return 0;
	if (redisAsyncCommand(ac, a->on_select, a->priv, "SELECT %d",
	    a->url->db) != REDIS_OK) {
		snprintf(why, whylen, "cannot queue SELECT");
		return -1;
	}
	(*queued)++;
	return 0;
}

redisAsyncContext *
store_async_connect(const struct store_async *a, int *queued, char *why,
    size_t whylen)
{
	redisAsyncContext *ac = store_url_connect_async(a->url);
	int n = 0;

	if (queued != NULL)
		*queued = 0;
	if (ac == NULL || ac->err) {
		snprintf(why, whylen, "%s", ac ? ac->errstr : "out of memory");
		goto fail;
	}
	/* hiredis opens its socket without SOCK_CLOEXEC (see store.c). */
	if (fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(why, whylen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	if (redisLibevAttach(a->loop, ac) != REDIS_OK) {
		snprintf(why, whylen, "cannot attach to the event loop");
		goto fail;
	}
	ac->data = a->data;
	redisAsyncSetConnectCallback(ac, a->on_connect);
	redisAsyncSetDisconnectCallback(ac, a->on_disconnect);
	/* On failure, freeing calls back with NULL what was queued. */
	if (handshake(ac, a, &n, why, whylen) < 0)
		goto fail;
	if (queued != NULL)
		*queued = n;
	return ac;
fail:
	if (ac != NULL)
		redisAsyncFree(ac);
	return NULL;
}
