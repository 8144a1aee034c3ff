/*
 * urlpolicy.h - which webhook URLs codeq accepts.
 *
 * Checked when a subscription or a task's webhook is registered: the
 * URL's shape (scheme http or https, a host, a bounded length).  Where a
 * delivery may connect to is decided when sending, on the resolved
 * address, by codeq-webhooks (webhooks/addrpolicy.h).
 */
#ifndef CODEQ_URLPOLICY_H
#define CODEQ_URLPOLICY_H

#include <stddef.h>

#define URLPOLICY_URL_MAX 2048

/* Returns 0 when url is an acceptable target, else -1 with a reason. */
int urlpolicy_validate(const char *url, char *err, size_t errlen);

#endif
