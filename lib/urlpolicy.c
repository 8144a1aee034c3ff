/*
 * urlpolicy.c - target URL validation: a small RFC 3986 parser of the
 * absolute http and https URLs codeq accepts as webhook targets.
 *
 * It is strict about what decides where a delivery goes (scheme,
 * authority) and accepts every URL libcurl sends unchanged to the same
 * place; tests/unit/webhooks.c checks that against libcurl's own parser.
 * The path, query and fragment are the receiver's business: libcurl sends
 * them as they are written, so any printable character is accepted there.
 * Character classes are ASCII only, never <ctype.h>, whose answers for
 * bytes over 0x7f depend on the locale.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "urlpolicy.h"

#define HOST_MAX 253		/* a DNS name, without its final dot */
#define LABEL_MAX 63

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
static int
is_unreserved(int c)
{
	return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("-._~", c));
}

static int
is_subdelim(int c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static int
fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

static int
invalid(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "URL is not valid: %s", why);
	return -1;
}

/* The checks on the whole string, made before it is cut into parts. */
static int
check_string(const char *url, char *err, size_t errlen)
{
	size_t len;

	if (url == NULL || *url == '\0')
		return fail(err, errlen, "URL is empty");
	if ((len = strlen(url)) > URLPOLICY_URL_MAX) {
		snprintf(err, errlen, "URL is longer than %d characters",
		    URLPOLICY_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];

		if (ch <= 0x20 || ch == 0x7f)
			return fail(err, errlen, "URL contains a blank or a "
			    "control character");
	}
	return 0;
}

/* scheme "://", the scheme http or https in any case (RFC 3986 3.1);
 * sets p->authority to what follows. */
static int
parse_scheme(const char *url, struct urlpolicy_parts *p, char *err,
    size_t errlen)
{
	size_t n = strcspn(url, ":/?#");

	if (url[n] != ':' || !((n == 4 && strncasecmp(url, "http", 4) == 0) ||
	    (n == 5 && strncasecmp(url, "https", 5) == 0)))
		return fail(err, errlen, "URL scheme must be http or https");
	p->scheme = url;
	p->scheme_len = n;
	/* libcurl takes 1 to 3 slashes ("http:/x" and "http:///x" go to x);
	 * codeq takes the one spelling every client reads alike. */
	if (strncmp(url + n, "://", 3) != 0)
		return invalid(err, errlen, "the scheme must be followed by "
		    "\"//\"");
	p->authority = url + n + 3;
	return 0;
}

/* userinfo = *( unreserved / pct-encoded / sub-delims / ":" ).  The
 * messages never quote it: it is where a password is. */
static int
check_userinfo(const char *s, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (i + 2 >= n || !is_hex(s[i + 1]) ||
			    !is_hex(s[i + 2]))
				return invalid(err, errlen, "bad %-escape in "
				    "the user info");
			i += 2;
		} else if (!is_unreserved(s[i]) && !is_subdelim(s[i]) &&
		    s[i] != ':')
			return invalid(err, errlen, "bad character in the "
			    "user info");
	}
	return 0;
}

/* port = 1*5DIGIT, 1 to 65535; empty means the scheme's default (0). */
static int
parse_port(const char *s, size_t n, struct urlpolicy_parts *p, char *err,
    size_t errlen)
{
	int port = 0;

	if (n > 5)
		return invalid(err, errlen, "port must be a number from 1 to "
		    "65535");
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return invalid(err, errlen, "port must be a number "
			    "from 1 to 65535");
		port = port * 10 + (s[i] - '0');
	}
	if (n > 0 && (port < 1 || port > 65535))
		return invalid(err, errlen, "port must be a number from 1 to "
		    "65535");
	p->port = port;
	return 0;
}

/* The zone of a link-local literal, RFC 6874: "%25" 1*unreserved. */
static int
check_zone(const char *s, size_t n)
{
	if (n < 4 || strncmp(s, "%25", 3) != 0)
		return -1;
	for (size_t i = 3; i < n; i++)
		if (!is_unreserved(s[i]))
			return -1;
	return 0;
}

/* "[" IPv6address [ zone ] "]", the n bytes at s; no IPvFuture. */
static int
check_ipv6(const char *s, size_t n, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;
	const char *zone;
	size_t alen;

	zone = memchr(s + 1, '%', n - 2);
	alen = (zone ? (size_t)(zone - s) : n - 1) - 1;
	if (alen == 0 || alen >= sizeof(buf) ||
	    (zone && check_zone(zone, (size_t)(s + n - 1 - zone)) < 0))
		return invalid(err, errlen, "bad IPv6 address");
	memcpy(buf, s + 1, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return invalid(err, errlen, "bad IPv6 address");
	return 0;
}

/* Whether a label is a number (decimal, or 0x hexadecimal), as the
 * WHATWG URL standard reads it. */
static int
label_is_number(const char *s, size_t n)
{
	int hex = n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');

	if (n == 0)
		return 0;
	for (size_t i = hex ? 2 : 0; i < n; i++)
		if (!(hex ? is_hex(s[i]) : is_digit(s[i])))
			return 0;
	return 1;
}

/* A host whose last label is a number is an IPv4 address (as WHATWG
 * and libcurl read it), and then it must be in dotted decimal: "127.1",
 * "0x7f.1", "2130706433" or "010.0.0.1" (8.0.0.1 to libcurl, 10.0.0.1
 * to others) mean different targets to different readers, and a webhook
 * URL should mean one target to the operator, the logs and the client.
 * The address policy judges the address connected to in any case. */
static int
check_numeric(const char *s, size_t n, char *err, size_t errlen)
{
	char buf[HOST_MAX + 2];
	struct in_addr a;
	size_t end = n > 1 && s[n - 1] == '.' ? n - 1 : n, last = end;

	while (last > 0 && s[last - 1] != '.')
		last--;
	if (!label_is_number(s + last, end - last))
		return 0;
	/* All of it, so that "1.2.3.4." (a name to libcurl) is refused. */
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return invalid(err, errlen, "a numeric host must be an IPv4 "
		    "address a.b.c.d in decimal");
	return 0;
}

/* A name: labels of letters, digits, '-', '_' and '~' (RFC 3986's
 * unreserved, which libcurl accepts too), 1 to 63 of them each, at most
 * 253 in all, one final dot allowed.  No %-escapes and no bytes over
 * 0x7f: an international name is written in its xn-- form. */
static int
check_name(const char *s, size_t n, char *err, size_t errlen)
{
	size_t end = n > 1 && s[n - 1] == '.' ? n - 1 : n, label = 0;

	if (end > HOST_MAX)
		return invalid(err, errlen, "the host is longer than 253 "
		    "characters");
	for (size_t i = 0; i <= end; i++) {
		if (i == end || s[i] == '.') {
			if (label == 0)
				return invalid(err, errlen, "the host has an "
				    "empty label");
			if (label > LABEL_MAX)
				return invalid(err, errlen, "a label of the "
				    "host is longer than 63 characters");
			label = 0;
		} else if (!is_unreserved(s[i]))
			return invalid(err, errlen, "the host may hold only "
			    "letters, digits and '-._~' (an international "
			    "name in its xn-- form)");
		else
			label++;
	}
	return check_numeric(s, n, err, errlen);
}

/* The length of the host in host [ ":" port ], the n bytes at s: up
 * to the first ':', or for an IPv6 literal, whose address holds ':',
 * up to its ']'. */
static int
host_length(const char *s, size_t n, size_t *hlen, char *err, size_t errlen)
{
	const char *end;

	if (n == 0 || s[0] != '[') {
		end = memchr(s, ':', n);
		*hlen = end ? (size_t)(end - s) : n;
		return 0;
	}
	if ((end = memchr(s, ']', n)) == NULL)
		return invalid(err, errlen, "bad IPv6 address");
	*hlen = (size_t)(end - s) + 1;
	if (*hlen < n && s[*hlen] != ':')
		return invalid(err, errlen, "port must be a number from 1 to "
		    "65535");
	return 0;
}

/* host [ ":" port ], the n bytes at s after any userinfo. */
static int
parse_hostport(const char *s, size_t n, struct urlpolicy_parts *p,
    char *err, size_t errlen)
{
	size_t hlen;

	if (host_length(s, n, &hlen, err, errlen) < 0)
		return -1;
	if (hlen == 0)
		return fail(err, errlen, "URL has no host");
	p->host = s;
	p->host_len = hlen;
	if (hlen < n && parse_port(s + hlen + 1, n - hlen - 1, p, err,
	    errlen) < 0)
		return -1;
	if (s[0] == '[')
		return check_ipv6(s, hlen, err, errlen);
	return check_name(s, hlen, err, errlen);
}

/* authority = [ userinfo "@" ] host [ ":" port ], up to the first of
 * "/?#"; sets p->rest to what follows. */
static int
parse_authority(struct urlpolicy_parts *p, char *err, size_t errlen)
{
	const char *a = p->authority, *at = NULL;
	size_t n = strcspn(a, "/?#");

	if (n == 0 && a[0] == '\0')
		return invalid(err, errlen, "it ends after the scheme");
	p->rest = a + n;
	for (size_t i = 0; i < n; i++)
		if (a[i] == '@')
			at = a + i;
	if (at != NULL) {
		p->userinfo = a;
		p->userinfo_len = (size_t)(at - a);
		if (check_userinfo(a, p->userinfo_len, err, errlen) < 0)
			return -1;
		n -= p->userinfo_len + 1;
		a = at + 1;
	}
	return parse_hostport(a, n, p, err, errlen);
}

int
urlpolicy_parse(const char *url, struct urlpolicy_parts *p, char *err,
    size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (check_string(url, err, errlen) < 0 ||
	    parse_scheme(url, p, err, errlen) < 0)
		return -1;
	return parse_authority(p, err, errlen);
}

int
urlpolicy_validate(const char *url, char *err, size_t errlen)
{
	struct urlpolicy_parts p;

	return urlpolicy_parse(url, &p, err, errlen);
}
