/*
 * parse.c - value parsers shared by the configuration and the CLI:
 * durations, sizes, booleans, points in time.  Each one accepts the whole
 * string or nothing: trailing garbage, signs and overflow are errors, so
 * "5 m", "-1s" or "99999999999999999999" never turn into a surprise value.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"

/* Reads a run of decimal digits; -1 when there is none or it overflows. */
static int
read_digits(const char **sp, int64_t *out)
{
	const char *s = *sp;
	int64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		int d = *s - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

static int
mul_add(int64_t *acc, int64_t v, int64_t unit)
{
	if (v > INT64_MAX / unit)
		return -1;
	v *= unit;
	if (*acc > INT64_MAX - v)
		return -1;
	*acc += v;
	return 0;
}

/*
 * "250ms", "30s", "5m", "2h", "7d", combinations such as "1h30m", or a bare
 * number of seconds ("30").
 */
int
parse_duration_ms(const char *s, int64_t *out)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 },
	};
	int64_t total = 0, v;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	if (read_digits(&p, &v) == 0 && *p == '\0') {
		if (mul_add(&total, v, 1000) == -1)
			return -1;
		*out = total;
		return 0;
	}
	/* Not a bare number: a list of NUMBER UNIT parts. */
	for (p = s; *p != '\0';) {
		size_t i, ulen = 0;

		if (read_digits(&p, &v) == -1)
			return -1;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen &&
			    strncmp(units[i].name, p, ulen) == 0)
				break;
		if (ulen == 0 || i == sizeof(units) / sizeof(units[0]))
			return -1;
		if (mul_add(&total, v, units[i].ms) == -1)
			return -1;
		p += ulen;
	}
	*out = total;
	return 0;
}

/* "512", "512B", "64K", "64KiB", "1M", "1MiB", "2G", "2GiB" (1024-based). */
int
parse_size(const char *s, size_t *out)
{
	static const struct { const char *name; int shift; } units[] = {
		{ "", 0 }, { "b", 0 }, { "k", 10 }, { "kib", 10 }, { "m", 20 },
		{ "mib", 20 }, { "g", 30 }, { "gib", 30 },
	};
	int64_t v;
	size_t i;

	if (s == NULL || read_digits(&s, &v) == -1)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(s, units[i].name) != 0)
			continue;
		if (v > (INT64_MAX >> units[i].shift) ||
		    (uint64_t)(v << units[i].shift) > SIZE_MAX)
			return -1;
		*out = (size_t)(v << units[i].shift);
		return 0;
	}
	return -1;
}

int
parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* Reads exactly n digits as an int. */
static int
fixed_digits(const char **sp, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*sp)++) {
		if (!isdigit((unsigned char)**sp))
			return -1;
		v = v * 10 + (**sp - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* RFC 3339: 2026-11-23T18:00:00Z, ...T18:00:00.250+01:00 ('t', ' ', 'z' too). */
static int
parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh, om, sign;
	int64_t ms = 0, t;

	if (fixed_digits(&s, 4, &y) || *s++ != '-' || fixed_digits(&s, 2, &mo) ||
	    *s++ != '-' || fixed_digits(&s, 2, &d))
		return -1;
	if (*s != 'T' && *s != 't' && *s != ' ')
		return -1;
	s++;
	if (fixed_digits(&s, 2, &h) || *s++ != ':' || fixed_digits(&s, 2, &mi) ||
	    *s++ != ':' || fixed_digits(&s, 2, &sec))
		return -1;
	if (*s == '.') {
		int64_t scale = 100;

		s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			ms += (*s - '0') * scale;	/* digits past ms drop out */
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
		sign = 0, oh = om = 0;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (fixed_digits(&s, 2, &oh) || *s++ != ':' ||
		    fixed_digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;	/* a leap second is its :59 */
	t = (int64_t)timegm(&tm);
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*out = t * 1000 + ms;
	return 0;
}

/* RFC 3339, or epoch seconds ("1795000000", "1795000000.5"). */
int
parse_time_ms(const char *s, int64_t *out)
{
	const char *p = s;
	int64_t v, ms = 0;

	if (s == NULL || *s == '\0')
		return -1;
	if (read_digits(&p, &v) == 0 && (*p == '\0' || *p == '.')) {
		if (*p == '.') {
			int64_t scale = 100;

			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			for (; isdigit((unsigned char)*p); p++, scale /= 10)
				ms += (*p - '0') * scale;
			if (*p != '\0')
				return -1;
		}
		if (v > INT64_MAX / 1000 - 1)
			return -1;
		*out = v * 1000 + ms;
		return 0;
	}
	return parse_rfc3339(s, out);
}

void
format_rfc3339_ms(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

/* The shortest exact spelling: 90000 -> "1m30s", 250 -> "250ms". */
void
format_duration(int64_t ms, char *buf, size_t len)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	size_t i, off = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms <= 0) {
		snprintf(buf, len, "%s", ms == 0 ? "0s" : "negative");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && ms > 0; i++) {
		int n;

		if (ms < units[i].ms)
			continue;
		n = snprintf(buf + off, len - off, "%" PRId64 "%s",
		    ms / units[i].ms, units[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
		ms %= units[i].ms;
	}
}

/* "1MiB" for exact multiples, else the number of bytes. */
void
format_size(size_t n, char *buf, size_t len)
{
	if (n != 0 && n % (1024 * 1024 * 1024) == 0)
		snprintf(buf, len, "%zuGiB", n >> 30);
	else if (n != 0 && n % (1024 * 1024) == 0)
		snprintf(buf, len, "%zuMiB", n >> 20);
	else if (n != 0 && n % 1024 == 0)
		snprintf(buf, len, "%zuKiB", n >> 10);
	else
		snprintf(buf, len, "%zu", n);
}

/* The first line of a secret file (a store password), malloc()ed; NULL
 * with "path: reason" in err.  Shared by codeqd, codeq-worker, the
 * metrics server and the CLI so all read it the same way; the secret itself never reaches a message. */
char *
read_secret_line(const char *path, char *err, size_t errlen)
{
	char buf[1024], *s;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	s = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return s;
}

/* Wipe and free what read_secret_line returned (NULL is fine). */
void
free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
