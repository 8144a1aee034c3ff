/*
 * url.h - the store URL:
 *   redis://[[user][:password]@]host[:port][/db]
 *   unix://[[user][:password]@]/path/to/socket[?db=N&password=P]
 *   (redis+unix:// is the same as unix://)
 *
 * host is a name, an IPv4 address or a bracketed IPv6 address; the port
 * defaults to 6379 and the database to 0.  user is a Redis 6 ACL user
 * ("default", or none, is the default user: AUTH password).  User and
 * password may be percent-encoded.  Parsing never logs the password.
 */
#ifndef CODEQ_URL_H
#define CODEQ_URL_H

#include <sys/time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "codeq.h"

struct store_url {
	char host[256];		/* TCP */
	int port;		/* TCP; 0 for a socket */
	char path[108];		/* unix socket path; "" for TCP */
	int db;
	char user[128];		/* ACL user; "" for the default user */
	char password[256];	/* "" when none */
	char where[300];	/* host:port or the socket path, for messages */
};

int store_url_parse(const char *url, struct store_url *out, codeq_error *err);
/* url for a message: the userinfo (where a password is) replaced by three
 * asterisks, anything else as it is, cut to fit outlen. */
void store_url_redact(const char *url, char *out, size_t outlen);

/* The one place connections to the store are opened (TCP or socket). */
redisContext *store_url_connect(const struct store_url *u, struct timeval tv);
redisAsyncContext *store_url_connect_async(const struct store_url *u);
/* Queues AUTH [user] password on ac, the caller's password if it has
 * one (a password file), else the URL's: 1 queued, 0 none needed, -1
 * failed.  fn/priv as redisAsyncCommand (fn may be NULL). */
int store_url_auth_async(redisAsyncContext *ac, const struct store_url *u,
    const char *password, redisCallbackFn *fn, void *priv);

#endif
