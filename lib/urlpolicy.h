/*
 * urlpolicy.h - which webhook targets codeq may call.
 *
 * Two checks: the URL's shape when a subscription or a task's webhook is
 * registered (scheme http or https, a host, a bounded length), and the
 * address actually connected to, after name resolution, when sending
 * (libcurl's CURLOPT_OPENSOCKETFUNCTION hands it over).  Checking the
 * resolved address is what stops a public name that resolves to
 * 127.0.0.1 or 10.x from reaching an internal service.
 */
#ifndef CODEQ_URLPOLICY_H
#define CODEQ_URLPOLICY_H

#include <stddef.h>
#include <sys/socket.h>

#define URLPOLICY_URL_MAX 2048

/* Returns 0 when url is an acceptable target, else -1 with a reason. */
int urlpolicy_validate(const char *url, char *err, size_t errlen);

enum urlpolicy_class {
	URLPOLICY_PUBLIC = 0,
	URLPOLICY_LOOPBACK,	/* 127.0.0.0/8, ::1 */
	URLPOLICY_PRIVATE,	/* RFC 1918, CGNAT, link-local, fc00::/7, fe80::/10 */
	URLPOLICY_NEVER,	/* unspecified, multicast, broadcast, reserved */
};

enum urlpolicy_class urlpolicy_classify(const struct sockaddr *sa,
    socklen_t len);
const char *urlpolicy_class_name(enum urlpolicy_class c);

/* Non-zero when a connection to sa is allowed under the policy. */
int urlpolicy_addr_allowed(const struct sockaddr *sa, socklen_t len,
    int allow_loopback, int allow_private);

#endif
