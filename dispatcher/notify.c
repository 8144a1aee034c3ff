/*
 * notify.c - the systemd notification protocol (sd_notify(3)).
 *
 * The protocol is one datagram of "KEY=VALUE\n..." text to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace).  It is small and stable, so it is spoken directly here
 * rather than through libsystemd: one code path on every system, and the
 * test suite checks it against a real datagram socket.  The socket name
 * and WATCHDOG_USEC are read once and removed from the environment, so
 * children and handlers never see them (only the dispatcher talks to
 * systemd).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeqd.h"
#include "log.h"

static struct sockaddr_un addr;
static socklen_t addrlen;
static int64_t watchdog_usec;
static int sock = -1;

void
notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET"), *w = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");
	size_t n;

	if (w != NULL && (wpid == NULL || atol(wpid) == (long)getpid()))
		watchdog_usec = atoll(w);
	if (s != NULL && (s[0] == '/' || s[0] == '@') &&
	    (n = strlen(s)) < sizeof(addr.sun_path)) {
		memset(&addr, 0, sizeof(addr));
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, s, n);
		if (s[0] == '@')
			addr.sun_path[0] = '\0';
		addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int64_t
notify_watchdog_usec(void)
{
	return sock >= 0 ? watchdog_usec : 0;
}

int
notify_send(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	if (sock < 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	if (sendto(sock, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&addr,
	    addrlen) < 0) {
		log_debug("sd_notify failed", "error", strerror(errno));
		return -1;
	}
	return 1;
}
