/*
 * urlpolicy.c - target URL validation.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

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
