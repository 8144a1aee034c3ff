/*
 * store_async.h - the one way codeq's daemons open an asynchronous
 * connection to the store (hiredis on a libev loop): codeqd's work
 * notifications and metrics, codeq-webhooks' subscriber, depth reader
 * and callbacks outbox.
 *
 * The connection is opened non-blocking, marked close-on-exec (nothing a
 * daemon starts inherits an authenticated link), attached to the loop,
 * and AUTH and SELECT are queued before anything else: hiredis sends
 * them first once the socket is up, so the caller may queue its own
 * commands at once.
 */
#ifndef CODEQ_STORE_ASYNC_H
#define CODEQ_STORE_ASYNC_H

#include <stddef.h>

#include <ev.h>
#include <hiredis/async.h>

#include "url.h"

struct store_async {
	struct ev_loop *loop;
	const struct store_url *url;
	/* The password (a password_file's): NULL or "" for the URL's own. */
	const char *password;
	/* SELECT the URL's database; 0 for a pub/sub link (channels are
	 * not per database). */
	int select_db;
	void *data;			/* becomes ac->data */
	redisConnectCallback *on_connect;
	redisDisconnectCallback *on_disconnect;
	/* Called with the replies of AUTH and SELECT (NULL: not read),
	 * with priv. */
	redisCallbackFn *on_auth;
	redisCallbackFn *on_select;
	void *priv;
};

/* Opens the connection a describes.  *queued (may be NULL) receives how
 * many of AUTH and SELECT were queued, each of whose callbacks will be
 * called once.  NULL when it cannot even start, the reason in why (if
 * hiredis ran out of memory queueing SELECT, AUTH's callback has been
 * called with NULL by then). */
redisAsyncContext *store_async_connect(const struct store_async *a,
    int *queued, char *why, size_t whylen);

#endif
