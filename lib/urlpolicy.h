/*
 * urlpolicy.h - which webhook URLs codeq accepts.
 *
 * Checked when a subscription or a task's webhook is registered: the
 * URL's shape (scheme http or https, a host, an optional port, a bounded
 * length), without libcurl, which libcodeq does not link.  Where a
 * delivery may connect to is decided when sending, on the resolved
 * address, by codeq-webhooks (webhooks/addrpolicy.h).
 */
#ifndef CODEQ_URLPOLICY_H
#define CODEQ_URLPOLICY_H

#include <stddef.h>

#define URLPOLICY_URL_MAX 2048

/* Returns 0 when url is an acceptable target, else -1 with a reason. */
int urlpolicy_validate(const char *url, char *err, size_t errlen);

/* The parts of an accepted URL, as spans of the string parsed. */
struct urlpolicy_parts {
	const char *scheme;	/* "http" or "https", in any case */
	size_t scheme_len;
	const char *authority;	/* after "://" */
	const char *userinfo;	/* before "@"; NULL when none */
	size_t userinfo_len;
	const char *host;	/* a name, a.b.c.d or [IPv6], as written */
	size_t host_len;
	int port;		/* 1-65535; 0 when none is written */
	const char *rest;	/* path, query and fragment; may be "" */
};

/* urlpolicy_validate, telling the parts: what codeq-webhooks' tests
 * compare with libcurl's reading of the same URL. */
int urlpolicy_parse(const char *url, struct urlpolicy_parts *p, char *err,
    size_t errlen);

#endif
