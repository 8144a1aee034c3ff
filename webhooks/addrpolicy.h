/*
 * addrpolicy.h - which addresses codeq-webhooks may connect to.
 *
 * Checked on the address actually connected to, after name resolution,
 * when sending (libcurl's CURLOPT_OPENSOCKETFUNCTION hands it over, see
 * http.c).  Checking the resolved address is what stops a public name
 * that resolves to 127.0.0.1 or 10.x from reaching an internal service;
 * the URL's shape was checked when it was registered (lib/urlpolicy.h).
 */
#ifndef CODEQ_ADDRPOLICY_H
#define CODEQ_ADDRPOLICY_H

#include <sys/socket.h>

enum addrpolicy_class {
	ADDRPOLICY_PUBLIC = 0,
	ADDRPOLICY_LOOPBACK,	/* 127.0.0.0/8, ::1 */
	ADDRPOLICY_PRIVATE,	/* RFC 1918, CGNAT, link-local, fc00::/7, fe80::/10 */
	ADDRPOLICY_NEVER,	/* unspecified, multicast, broadcast, reserved */
};

enum addrpolicy_class addrpolicy_classify(const struct sockaddr *sa,
    socklen_t len);
const char *addrpolicy_class_name(enum addrpolicy_class c);

/* Non-zero when a connection to sa is allowed under the policy. */
int addrpolicy_allowed(const struct sockaddr *sa, socklen_t len,
    int allow_loopback, int allow_private);

#endif
