/*
 * log.c - one line per event, key=value ("logfmt"), written with a single
 * write(2) so that lines of the dispatcher and its children, which share
 * stderr, never interleave (a line is at most LOG_LINE_MAX bytes, below
 * PIPE_BUF).  Under systemd, when stderr is the journal, the line starts
 * with the sd-daemon "<N>" priority instead of a timestamp: journald keeps
 * its own time and maps N to the entry's priority.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4000	/* < PIPE_BUF (4096) with the newline */

static struct {
	char proc[32];
	enum log_level min;
	int journal;
	int fd;
} lg = { "codeq", LOG_L_INFO, 0, 2 };

static const struct {
	const char *name;
	int syslog;		/* sd-daemon priority */
} levels[] = {
	[LOG_L_DEBUG] = { "debug", 7 },
	[LOG_L_INFO] = { "info", 6 },
	[LOG_L_NOTICE] = { "notice", 5 },
	[LOG_L_WARNING] = { "warning", 4 },
	[LOG_L_ERROR] = { "error", 3 },
};

/* JOURNAL_STREAM=DEV:INO names the stream systemd connected to the
 * journal; it is ours only if stderr is still that very file. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *proc, enum log_level min)
{
	log_set_proc(proc);
	lg.min = min;
	lg.journal = stderr_is_journal();
}

void
log_set_proc(const char *proc)
{
	snprintf(lg.proc, sizeof(lg.proc), "%s", proc ? proc : "codeq");
}

void
log_set_fd(int fd)
{
	lg.fd = fd;
}

void
log_set_journal(int on)
{
	lg.journal = on;
}

enum log_level
log_get_level(void)
{
	return lg.min;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(s, levels[i].name) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	if (strcasecmp(s, "warn") == 0)
		return *out = LOG_L_WARNING, 0;
	if (strcasecmp(s, "err") == 0)
		return *out = LOG_L_ERROR, 0;
	return -1;
}

struct line {
	char *buf;
	size_t cap, len;
	int cut;
};

static void
put(struct line *l, const char *s, size_t n)
{
	if (l->cut)
		return;
	if (l->len + n >= l->cap) {
		n = l->cap - 1 - l->len;
		l->cut = 1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static int
needs_quotes(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	if (*p == '\0')
		return 1;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p == 0x7f)
			return 1;
	return 0;
}

/* A value: bare when it can be, else in double quotes with \" \\ \n \r
 * \t and \xHH for other control bytes, so one event stays one line. */
static void
put_value(struct line *l, const char *v)
{
	const unsigned char *p;
	char esc[8];

	if (v == NULL)
		v = "";
	if (!needs_quotes(v)) {
		puts_(l, v);
		return;
	}
	put(l, "\"", 1);
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		switch (*p) {
		case '"': puts_(l, "\\\""); break;
		case '\\': puts_(l, "\\\\"); break;
		case '\n': puts_(l, "\\n"); break;
		case '\r': puts_(l, "\\r"); break;
		case '\t': puts_(l, "\\t"); break;
		default:
			if (*p < ' ' || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
				puts_(l, esc);
			} else
				put(l, (const char *)p, 1);
		}
	}
	put(l, "\"", 1);
}

/* Keys come from the code, but a stray blank or '=' must not break the
 * line's grammar. */
static void
put_key(struct line *l, const char *k)
{
	for (; *k != '\0'; k++) {
		char c = *k;

		if (c <= ' ' || c == '=' || c == '"' || c == 0x7f)
			c = '_';
		put(l, &c, 1);
	}
}

size_t
log_vformat(char *buf, size_t cap, enum log_level lvl, const char *msg,
    va_list ap)
{
	struct line l = { buf, cap, 0, 0 };
	const char *k, *v;
	char tmp[64];

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	if ((unsigned)lvl > LOG_L_ERROR)
		lvl = LOG_L_ERROR;
	if (lg.journal) {
		snprintf(tmp, sizeof(tmp), "<%d>", levels[lvl].syslog);
		puts_(&l, tmp);
	} else {
		struct timespec ts;
		struct tm tm;
		size_t n;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(tmp, sizeof(tmp), "ts=%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(tmp + n, sizeof(tmp) - n, ".%03ldZ ",
		    (long)(ts.tv_nsec / 1000000));
		puts_(&l, tmp);
	}
	puts_(&l, "level=");
	puts_(&l, levels[lvl].name);
	puts_(&l, " proc=");
	put_value(&l, lg.proc);
	snprintf(tmp, sizeof(tmp), " pid=%ld msg=", (long)getpid());
	puts_(&l, tmp);
	put_value(&l, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		put(&l, " ", 1);
		put_key(&l, k);
		put(&l, "=", 1);
		put_value(&l, v);
	}
	if (l.cut && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
	return strlen(buf);
}

size_t
log_format(char *buf, size_t cap, enum log_level lvl, const char *msg, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, msg);
	n = log_vformat(buf, cap, lvl, msg, ap);
	va_end(ap);
	return n;
}

void
log_kv(enum log_level lvl, const char *msg, ...)
{
	char buf[LOG_LINE_MAX + 1];
	va_list ap;
	size_t n, off = 0;
	int saved = errno;	/* callers log, then report errno */

	if (lvl < lg.min)
		return;
	va_start(ap, msg);
	n = log_vformat(buf, sizeof(buf) - 1, lvl, msg, ap);
	va_end(ap);
	buf[n++] = '\n';
	while (off < n) {
		ssize_t w = write(lg.fd, buf + off, n - off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}
