/* url.c: parsing of the store URL redis://[[user]:password@]host[:port][/db]. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "url.h"

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Percent-decodes [s, s+n) into out (size outsz). */
static int
pct_decode(const char *s, size_t n, char *out, size_t outsz, codeq_error *err)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return cq_err(err, CODEQ_EINVAL,
				    "store URL: bad %%-escape in the password");
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return cq_err(err, CODEQ_EINVAL,
				    "store URL: bad %%-escape in the password");
			ch = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= outsz)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: password too long");
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return CODEQ_OK;
}

/* Parses a decimal number in [lo, hi] from [s, s+n). */
static int
parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_host(const char *s, size_t n, struct store_url *u, const char **rest,
    codeq_error *err)
{
	const char *end = s + n, *h = s, *hend;
	size_t i;

	if (n > 0 && *s == '[') {
		hend = memchr(s, ']', n);
		if (hend == NULL)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: missing ']' after the IPv6 address");
		h = s + 1;
		*rest = hend + 1;
		if (*rest < end && **rest != ':')
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: expected ':port' after ']'");
	} else {
		hend = memchr(s, ':', n);
		if (hend == NULL)
			hend = end;
		*rest = hend;
		for (i = 0; h + i < hend; i++) {
			int ch = (unsigned char)h[i];
			if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
				return cq_err(err, CODEQ_EINVAL,
				    "store URL: bad character '%c' in the host",
				    ch);
		}
	}
	if (hend == h)
		return cq_err(err, CODEQ_EINVAL, "store URL: the host is empty");
	if ((size_t)(hend - h) >= sizeof(u->host))
		return cq_err(err, CODEQ_EINVAL, "store URL: host too long");
	memcpy(u->host, h, hend - h);
	u->host[hend - h] = '\0';
	return CODEQ_OK;
}

void
store_url_redact(const char *url, char *out, size_t outlen)
{
	const char *auth = strstr(url, "://"), *at, *end;

	if (auth == NULL) {
		/* No authority: a password may still follow the first ':'
		 * of a malformed URL ("redis:/:pw@h"); an '@' shows it. */
		if ((at = strrchr(url, '@')) != NULL) {
			snprintf(out, outlen, "***%s", at);
			return;
		}
		snprintf(out, outlen, "%s", url);
		return;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (at = NULL; auth < end; auth++)
		if (*auth == '@')
			at = auth;
	if (at == NULL)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s***%s", (int)(strstr(url, "://") + 3 -
		    url), url, at);
}

int
store_url_parse(const char *url, struct store_url *u, codeq_error *err)
{
	static const char scheme[] = "redis://";
	const char *p, *auth_end, *path, *hostport, *rest = NULL;
	long v;
	int rc;

	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (url == NULL || *url == '\0')
		return cq_err(err, CODEQ_EINVAL, "store URL: empty");
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		char shown[48];

		/* A mistyped scheme must not print the password. */
		store_url_redact(url, shown, sizeof(shown));
		return cq_err(err, CODEQ_EINVAL,
		    "store URL: must start with redis://, got '%.40s'", shown);
	}
	p = url + sizeof(scheme) - 1;
	path = strchr(p, '/');
	if (path == NULL)
		path = p + strlen(p);
	if (memchr(p, '?', path - p) || memchr(p, '#', path - p) ||
	    strchr(path, '?') || strchr(path, '#'))
		return cq_err(err, CODEQ_EINVAL,
		    "store URL: query strings and fragments are not supported");

	/* userinfo: the last '@' before the path. */
	auth_end = NULL;
	for (const char *q = p; q < path; q++)
		if (*q == '@')
			auth_end = q;
	hostport = p;
	if (auth_end != NULL) {
		const char *colon = memchr(p, ':', auth_end - p);
		if (colon == NULL)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: expected ':password@' before the host");
		if (colon != p && !(colon - p == 7 &&
		    strncmp(p, "default", 7) == 0))
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: user names are not supported, use "
			    "redis://:password@host");
		rc = pct_decode(colon + 1, auth_end - colon - 1, u->password,
		    sizeof(u->password), err);
		if (rc != CODEQ_OK)
			return rc;
		hostport = auth_end + 1;
	}

	rc = parse_host(hostport, path - hostport, u, &rest, err);
	if (rc != CODEQ_OK)
		return rc;
	if (rest < path) {	/* ":port" */
		if (parse_num(rest + 1, path - rest - 1, 1, 65535, &v) != 0)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: port must be 1-65535, got '%.*s'",
			    (int)(path - rest - 1), rest + 1);
		u->port = (int)v;
	}
	if (*path == '/' && path[1] != '\0') {
		if (parse_num(path + 1, strlen(path + 1), 0, INT_MAX, &v) != 0)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: database must be a number, got '%.20s'",
			    path + 1);
		u->db = (int)v;
	}
	return CODEQ_OK;
}
