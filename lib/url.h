/*
 * url.h - the store URL: redis://[[user]:password@]host[:port][/db]
 *
 * host is a name, an IPv4 address or a bracketed IPv6 address; the port
 * defaults to 6379 and the database to 0.  The password may be
 * percent-encoded.  Parsing never logs the password.
 */
#ifndef CODEQ_URL_H
#define CODEQ_URL_H

#include "codeq.h"

struct store_url {
	char host[256];
	int port;
	int db;
	char password[256];	/* "" when none */
};

int store_url_parse(const char *url, struct store_url *out, codeq_error *err);
/* url for a message: the userinfo (where a password is) replaced by three
 * asterisks, anything else as it is, cut to fit outlen. */
void store_url_redact(const char *url, char *out, size_t outlen);

#endif
