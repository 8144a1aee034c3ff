/* url.c: the store URL (TCP or unix socket, ACL user, password) and the
 * connections every process opens from it. */
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

/* Percent-decodes [s, s+n), the URL's `what`, into out (size outsz). */
static int
pct_decode(const char *s, size_t n, char *out, size_t outsz, const char *what,
    codeq_error *err)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int ch = (unsigned char)s[i];
		if (ch == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return cq_err(err, CODEQ_EINVAL,
				    "store URL: bad %%-escape in the %s", what);
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return cq_err(err, CODEQ_EINVAL,
				    "store URL: bad %%-escape in the %s", what);
			ch = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= outsz)
			return cq_err(err, CODEQ_EINVAL,
			    "store URL: %s too long", what);
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

/* [p, end): "user:password", ":password" or "user" ("default" is the
 * default user, as no user). */
static int
parse_userinfo(const char *p, const char *end, struct store_url *u,
    codeq_error *err)
{
	const char *colon = memchr(p, ':', end - p);
	int rc;

	if (colon == NULL)
		colon = end;
	if ((rc = pct_decode(p, colon - p, u->user, sizeof(u->user), "user",
	    err)) != CODEQ_OK)
		return rc;
	if (strcmp(u->user, "default") == 0)
		u->user[0] = '\0';
	if (colon == end)
		return CODEQ_OK;
	return pct_decode(colon + 1, end - colon - 1, u->password,
	    sizeof(u->password), "password", err);
}

/* An unknown scheme; the password is never shown. */
static int
bad_scheme(const char *url, codeq_error *err)
{
	char shown[48];

	store_url_redact(url, shown, sizeof(shown));
	return cq_err(err, CODEQ_EINVAL, "store URL: must start with redis://, "
	    "unix:// or redis+unix://, got '%.40s'", shown);
}

/* One "name=value" of a socket URL's query. */
static int
parse_param(const char *s, size_t n, struct store_url *u, codeq_error *err)
{
	const char *eq = memchr(s, '=', n);
	long v;

	if (eq != NULL && eq - s == 2 && strncmp(s, "db", 2) == 0) {
		if (parse_num(eq + 1, s + n - eq - 1, 0, INT_MAX, &v) != 0)
			return cq_err(err, CODEQ_EINVAL, "store URL: database "
			    "must be a number, got '%.*s'",
			    (int)(s + n - eq - 1 > 20 ? 20 : s + n - eq - 1), eq + 1);
		u->db = (int)v;
		return CODEQ_OK;
	}
	if (eq != NULL && eq - s == 8 && strncmp(s, "password", 8) == 0)
		return pct_decode(eq + 1, s + n - eq - 1, u->password,
		    sizeof(u->password), "password", err);
	return cq_err(err, CODEQ_EINVAL, "store URL: unknown parameter "
	    "'%.*s' (a socket URL takes db= and password=)",
	    (int)((eq ? eq - s : (long)n) > 20 ? 20 : (eq ? eq - s : (long)n)), s);
}

/* unix://[[user][:password]@]/path[?db=N&password=P] */
static int
parse_unix(const char *p, struct store_url *u, codeq_error *err)
{
	const char *path = strchr(p, '/'), *q, *amp;
	size_t n;
	int rc;

	if (path == NULL)
		return cq_err(err, CODEQ_EINVAL,
		    "store URL: a socket URL needs an absolute path");
	if (path > p) {
		if (path[-1] != '@')
			return cq_err(err, CODEQ_EINVAL, "store URL: a socket URL "
			    "has no host: unix:///path or unix://:password@/path");
		if ((rc = parse_userinfo(p, path - 1, u, err)) != CODEQ_OK)
			return rc;
	}
	q = strchr(path, '?');
	n = q ? (size_t)(q - path) : strlen(path);
	if (n < 2 || n >= sizeof(u->path))
		return cq_err(err, CODEQ_EINVAL, "store URL: the socket path "
		    "must be 2-%zu characters", sizeof(u->path) - 1);
	memcpy(u->path, path, n);
	u->path[n] = '\0';
	for (; q != NULL; q = amp) {
		q++;
		amp = strchr(q, '&');
		if ((rc = parse_param(q, amp ? (size_t)(amp - q) : strlen(q), u,
		    err)) != CODEQ_OK)
			return rc;
	}
	u->port = 0;
	snprintf(u->where, sizeof(u->where), "%s", u->path);
	return CODEQ_OK;
}

/* redis://[[user][:password]@]host[:port][/db] */
static int
parse_tcp(const char *p, struct store_url *u, codeq_error *err)
{
	const char *auth_end, *path, *hostport, *rest = NULL;
	long v;
	int rc;

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
		if ((rc = parse_userinfo(p, auth_end, u, err)) != CODEQ_OK)
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
	snprintf(u->where, sizeof(u->where), strchr(u->host, ':') ?
	    "[%s]:%d" : "%s:%d", u->host, u->port);
	return CODEQ_OK;
}

int
store_url_parse(const char *url, struct store_url *u, codeq_error *err)
{
	static const char *const unix_schemes[] = { "unix://", "redis+unix://" };
	size_t i, n;
	int rc;

	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (url == NULL || *url == '\0')
		return cq_err(err, CODEQ_EINVAL, "store URL: empty");
	if (strncmp(url, "redis://", 8) == 0)
		rc = parse_tcp(url + 8, u, err);
	else {
		for (i = 0; i < 2; i++) {
			n = strlen(unix_schemes[i]);
			if (strncmp(url, unix_schemes[i], n) == 0)
				break;
		}
		if (i == 2)
			return bad_scheme(url, err);
		rc = parse_unix(url + n, u, err);
	}
	if (rc != CODEQ_OK)
		explicit_bzero(u->password, sizeof(u->password));
	return rc;
}

redisContext *
store_url_connect(const struct store_url *u, struct timeval tv)
{
	if (u->path[0] != '\0')
		return redisConnectUnixWithTimeout(u->path, tv);
	return redisConnectWithTimeout(u->host, u->port, tv);
}

redisAsyncContext *
store_url_connect_async(const struct store_url *u)
{
	if (u->path[0] != '\0')
		return redisAsyncConnectUnix(u->path);
	return redisAsyncConnect(u->host, u->port);
}

int
store_url_auth_async(redisAsyncContext *ac, const struct store_url *u,
    const char *password, redisCallbackFn *fn, void *priv)
{
	const char *pw = password != NULL && *password != '\0' ? password :
	    u->password;

	if (*pw == '\0')
		return 0;
	if (u->user[0] != '\0')
		return redisAsyncCommand(ac, fn, priv, "AUTH %s %s", u->user,
		    pw) == REDIS_OK ? 1 : -1;
	return redisAsyncCommand(ac, fn, priv, "AUTH %s", pw) == REDIS_OK ?
	    1 : -1;
}
