/*
 * urlpolicy.c - target URL validation and the address policy.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "urlpolicy.h"

int
urlpolicy_validate(const char *url, char *err, size_t errlen)
{
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL;
	int rc = -1;
	size_t len;

	if (url == NULL || *url == '\0') {
		snprintf(err, errlen, "URL is empty");
		return -1;
	}
	if ((len = strlen(url)) > URLPOLICY_URL_MAX) {
		snprintf(err, errlen, "URL is longer than %d characters",
		    URLPOLICY_URL_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)url[i];

		if (ch <= 0x20 || ch == 0x7f) {
			snprintf(err, errlen, "URL contains a blank or a "
			    "control character");
			return -1;
		}
	}
	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* No CURLU_GUESS_SCHEME: the scheme must be written out. */
	if ((uc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		snprintf(err, errlen, "URL is not valid: %s",
		    curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(err, errlen, "URL scheme must be http or https");
		goto out;
	}
	/* libcurl forgives "http:///x" (taking "x" as the host): refuse
	 * it, the host must be written where it belongs.  Only the scheme's
	 * own "://" counts: a query may hold another URL ("?u=file:///"). */
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    host[0] == '\0' || strncmp(url + strlen(scheme), ":///", 4) == 0) {
		snprintf(err, errlen, "URL has no host");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static enum urlpolicy_class
classify4(uint32_t a)
{
	if ((a >> 24) == 127)
		return URLPOLICY_LOOPBACK;
	if ((a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) ||
	    (a >> 16) == (192u << 8 | 168) ||
	    (a >> 16) == (169u << 8 | 254) ||	/* link-local */
	    (a >> 22) == (100u << 2 | 1))	/* 100.64.0.0/10 CGNAT */
		return URLPOLICY_PRIVATE;
	if ((a >> 24) == 0 || (a >> 28) >= 14)	/* 0/8, multicast, 240/4 */
		return URLPOLICY_NEVER;
	return URLPOLICY_PUBLIC;
}

enum urlpolicy_class
urlpolicy_classify(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)sa;

		return classify4(ntohl(s4->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		const uint8_t *b = s6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_V4COMPAT(&s6->sin6_addr)) {
			uint32_t a = (uint32_t)b[12] << 24 |
			    (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];

			if (IN6_IS_ADDR_V4COMPAT(&s6->sin6_addr) && a <= 1)
				return a ? URLPOLICY_LOOPBACK : URLPOLICY_NEVER;
			return classify4(a);
		}
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return URLPOLICY_LOOPBACK;
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&s6->sin6_addr))
			return URLPOLICY_NEVER;
		if ((b[0] & 0xfe) == 0xfc || IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)
		    || IN6_IS_ADDR_SITELOCAL(&s6->sin6_addr))
			return URLPOLICY_PRIVATE;
		/* NAT64 (64:ff9b::/96) can embed anything: refuse it. */
		if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
			return URLPOLICY_NEVER;
		return URLPOLICY_PUBLIC;
	}
	return URLPOLICY_NEVER;
}

const char *
urlpolicy_class_name(enum urlpolicy_class c)
{
	switch (c) {
	case URLPOLICY_PUBLIC: return "public";
	case URLPOLICY_LOOPBACK: return "loopback";
	case URLPOLICY_PRIVATE: return "private";
	default: return "reserved";
	}
}

int
urlpolicy_addr_allowed(const struct sockaddr *sa, socklen_t len,
    int allow_loopback, int allow_private)
{
	switch (urlpolicy_classify(sa, len)) {
	case URLPOLICY_PUBLIC: return 1;
	case URLPOLICY_LOOPBACK: return allow_loopback;
	case URLPOLICY_PRIVATE: return allow_private;
	default: return 0;
	}
}
