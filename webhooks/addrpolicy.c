/*
 * addrpolicy.c - the address policy: the class of a resolved address and
 * whether codeq-webhooks may connect to it.
 */
#include "config.h"

#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addrpolicy.h"

static enum addrpolicy_class
classify4(uint32_t a)
{
	if ((a >> 24) == 127)
		return ADDRPOLICY_LOOPBACK;
	if ((a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) ||
	    (a >> 16) == (192u << 8 | 168) ||
	    (a >> 16) == (169u << 8 | 254) ||	/* link-local */
	    (a >> 22) == (100u << 2 | 1))	/* 100.64.0.0/10 CGNAT */
		return ADDRPOLICY_PRIVATE;
	if ((a >> 24) == 0 || (a >> 28) >= 14)	/* 0/8, multicast, 240/4 */
		return ADDRPOLICY_NEVER;
	return ADDRPOLICY_PUBLIC;
}

enum addrpolicy_class
addrpolicy_classify(const struct sockaddr *sa, socklen_t len)
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
				return a ? ADDRPOLICY_LOOPBACK : ADDRPOLICY_NEVER;
			return classify4(a);
		}
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return ADDRPOLICY_LOOPBACK;
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&s6->sin6_addr))
			return ADDRPOLICY_NEVER;
		if ((b[0] & 0xfe) == 0xfc || IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)
		    || IN6_IS_ADDR_SITELOCAL(&s6->sin6_addr))
			return ADDRPOLICY_PRIVATE;
		/* NAT64 (64:ff9b::/96) can embed anything: refuse it. */
		if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
			return ADDRPOLICY_NEVER;
		return ADDRPOLICY_PUBLIC;
	}
	return ADDRPOLICY_NEVER;
}

const char *
addrpolicy_class_name(enum addrpolicy_class c)
{
	switch (c) {
	case ADDRPOLICY_PUBLIC: return "public";
	case ADDRPOLICY_LOOPBACK: return "loopback";
	case ADDRPOLICY_PRIVATE: return "private";
	default: return "reserved";
	}
}

int
addrpolicy_allowed(const struct sockaddr *sa, socklen_t len,
    int allow_loopback, int allow_private)
{
	switch (addrpolicy_classify(sa, len)) {
	case ADDRPOLICY_PUBLIC: return 1;
	case ADDRPOLICY_LOOPBACK: return allow_loopback;
	case ADDRPOLICY_PRIVATE: return allow_private;
	default: return 0;
	}
}
