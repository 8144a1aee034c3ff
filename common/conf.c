/*
 * conf.c - reads and validates the codeq configuration file (INI, with
 * inih).  Documented in codeq.conf(5).
 *
 * Two phases.  First inih splits the file into sections and key = value
 * pairs; our reader feeds it one line at a time, so it knows the line
 * number of every pair, sees section headers that have no keys (an empty
 * [pool x] is still an error) and catches lines too long for inih's fixed
 * buffer instead of letting them be cut silently.  Then every section and
 * key is checked against the tables below, and the first problem is
 * reported as "FILE:LINE: key: what is wrong".  Nothing in *cfg changes
 * unless the whole file is valid, so a reload with a bad file keeps the
 * running configuration.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pwd.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "log.h"
#include "url.h"
#include "urlpolicy.h"

/* inih reads lines into a fixed buffer of this many bytes (compiled into
 * the Debian library): the content of a line must leave room for the
 * newline and the NUL. */
#define INI_LINE_MAX 200

#define POOL_NAME_MAX 64
#define QUEUE_NAME_MAX 100

struct raw_entry {
	size_t section;
	char *key;
	char *value;
	int line;
};

struct raw_section {
	char *name;		/* between the brackets, trimmed */
	int line;
};

struct reader {
	FILE *fp;
	char *buf;
	size_t bufcap;
	int lineno;
	int long_line;		/* first line over INI_LINE_MAX, or 0 */
	int indented;		/* current line starts with a blank */
	int have_prev;		/* a key was read in the current section */
	int oom;
	struct raw_section *secs;
	size_t nsecs;
	struct raw_entry *ents;
	size_t nents;
};

/* ---- Phase 1: lines -> sections and entries ------------------------ */

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
add_section(struct reader *r, const char *start, int line)
{
	struct raw_section *n;
	const char *end = strchr(start, ']');
	char *name;

	if (end == NULL)
		return 0;	/* inih reports the missing ']' */
	n = realloc(r->secs, (r->nsecs + 1) * sizeof(*n));
	if (n == NULL)
		return -1;
	r->secs = n;
	if ((name = strndup(start, (size_t)(end - start))) == NULL)
		return -1;
	start = trim(name);
	memmove(name, start, strlen(start) + 1);
	r->secs[r->nsecs].name = name;
	r->secs[r->nsecs].line = line;
	r->nsecs++;
	r->have_prev = 0;
	return 0;
}

/* An fgets() for inih that counts lines and notes section headers. */
static char *
conf_reader(char *str, int num, void *arg)
{
	struct reader *r = arg;
	ssize_t n;
	size_t len;
	const char *s, *start;

	if ((n = getline(&r->buf, &r->bufcap, r->fp)) <= 0)
		return NULL;
	len = (size_t)n;
	r->lineno++;
	while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r'))
		len--;
	r->buf[len] = '\0';
	if (num > INI_LINE_MAX)
		num = INI_LINE_MAX;
	if (len + 2 > (size_t)num) {
		if (r->long_line == 0)
			r->long_line = r->lineno;
		len = (size_t)num - 2;
	}
	memcpy(str, r->buf, len);
	str[len] = '\n';
	str[len + 1] = '\0';

	/* Mirror inih's reading of the line: comments first, then indented
	 * continuation lines (while a key is open), then section headers. */
	start = r->buf;
	if (r->lineno == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;	/* a UTF-8 BOM, which inih skips too */
	for (s = start; isspace((unsigned char)*s); s++)
		;
	r->indented = s > start && *s != '\0';
	if (*s == ';' || *s == '#' || *s == '\0')
		return str;
	if (r->indented && r->have_prev)
		return str;
	if (*s == '[' && add_section(r, s + 1, r->lineno) == -1)
		r->oom = 1;
	return str;
}

static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct reader *r = arg;
	struct raw_entry *e, *n;
	size_t sec = r->nsecs;	/* nsecs: before any section */

	(void)section;		/* ours has no length limit; inih's has */
	if (r->nsecs > 0)
		sec = r->nsecs - 1;
	if (r->indented && r->have_prev && r->nents > 0) {
		/* A continuation line: joined to the value with one blank. */
		char *v;

		e = &r->ents[r->nents - 1];
		if (asprintf(&v, "%s %s", e->value, value) == -1)
			goto oom;
		free(e->value);
		e->value = v;
		return 1;
	}
	n = realloc(r->ents, (r->nents + 1) * sizeof(*n));
	if (n == NULL)
		goto oom;
	r->ents = n;
	e = &r->ents[r->nents];
	e->section = sec;
	e->line = r->lineno;
	e->key = strdup(name);
	e->value = strdup(value);
	if (e->key == NULL || e->value == NULL) {
		free(e->key);
		free(e->value);
		goto oom;
	}
	r->nents++;
	r->have_prev = 1;
	return 1;
oom:
	r->oom = 1;
	return 0;
}

static void
reader_free(struct reader *r)
{
	size_t i;

	for (i = 0; i < r->nsecs; i++)
		free(r->secs[i].name);
	for (i = 0; i < r->nents; i++) {
		free(r->ents[i].key);
		free(r->ents[i].value);
	}
	free(r->secs);
	free(r->ents);
	free(r->buf);
}

/* ---- Phase 2: checking sections and keys ----------------------------- */

struct loader {
	const char *path;
	struct codeq_config *cfg;
	char *err;
	size_t errlen;
	/* Lines where the current pool's keys were set, for cross-checks. */
	int handler_line;
	const char *handler_key;
	int backoff_base_line, backoff_max_line;
};

static int
lerr(struct loader *l, int line, const char *key, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(l->err, l->errlen, "%s:%d: %s: %s", l->path, line,
		    key, what);
	else
		snprintf(l->err, l->errlen, "%s: %s: %s", l->path, key, what);
	return -1;
}

enum key_type {
	K_STRING,	/* any text, may be empty */
	K_PATH,		/* non-empty text */
	K_BOOL,
	K_INT,
	K_DURATION,
	K_SIZE,
	K_LOGLEVEL,
	K_URL,
	K_WEBURL,	/* an http(s) URL, as webhook targets are checked */
	K_LISTEN,
	K_ENVNAME,
	K_QUEUES,	/* pool only */
	K_PATTERNS,	/* shard only: queue names or globs */
	K_EXEC,
	K_COMMAND,
	K_SO,
};

struct key_spec {
	const char *name;
	enum key_type type;
	size_t off;		/* in the section's struct */
	int64_t min, max;	/* K_INT, K_DURATION (ms), K_SIZE (bytes) */
};

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define KIB 1024LL
#define MIB (1024 * KIB)

#define S(f) offsetof(struct store_config, f)
static const struct key_spec store_keys[] = {
	{ "url", K_URL, S(url), 0, 0 },
	{ "password_file", K_PATH, S(password_file), 0, 0 },
	{ "connect_timeout", K_DURATION, S(connect_timeout_ms), 1, 5 * MIN },
	{ "command_timeout", K_DURATION, S(command_timeout_ms), 1, HOUR },
	{ "max_payload", K_SIZE, S(max_payload), 1, 512 * MIB },
	{ "retention", K_DURATION, S(retention_ms), SEC, 3650 * DAY },
	{ "shard_hash", K_BOOL, S(shard_hash), 0, 0 },
	{ "cluster", K_BOOL, S(cluster), 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};
#undef S

#define H(f) offsetof(struct shard_config, f)
static const struct key_spec shard_keys[] = {
	{ "url", K_URL, H(url), 0, 0 },
	{ "password_file", K_PATH, H(password_file), 0, 0 },
	{ "queues", K_PATTERNS, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};
#undef H

#define D(f) offsetof(struct daemon_config, f)
static const struct key_spec daemon_keys[] = {
	{ "shutdown_timeout", K_DURATION, D(shutdown_timeout_ms), 0, DAY },
	{ "tick", K_DURATION, D(tick_ms), 10, 10 * SEC },
	{ "reap_interval", K_DURATION, D(reap_interval_ms), 100, HOUR },
	{ "log_level", K_LOGLEVEL, D(log_level), 0, 0 },
	{ "pidfile", K_PATH, D(pidfile), 0, 0 },
	{ "restart_backoff_max", K_DURATION, D(restart_backoff_max_ms), 100, HOUR },
	{ NULL, 0, 0, 0, 0 }
};
#undef D

#define P(f) offsetof(struct pool_config, f)
static const struct key_spec pool_keys[] = {
	{ "queues", K_QUEUES, 0, 0, 0 },
	{ "exec", K_EXEC, 0, 0, 0 },
	{ "command", K_COMMAND, 0, 0, 0 },
	{ "so", K_SO, 0, 0, 0 },
	{ "handler_config", K_STRING, P(handler_config), 0, 0 },
	{ "processes", K_INT, P(processes), 1, 1024 },
	{ "prefetch", K_INT, P(prefetch), 1, 1000 },
	{ "lease", K_DURATION, P(lease_ms), SEC, DAY },
	{ "timeout", K_DURATION, P(timeout_ms), 1, 7 * DAY },
	{ "max_attempts", K_INT, P(max_attempts), 1, 1000 },
	{ "backoff_base", K_DURATION, P(backoff_base_ms), 1, DAY },
	{ "backoff_max", K_DURATION, P(backoff_max_ms), 1, 7 * DAY },
	{ "backoff_jitter", K_INT, P(backoff_jitter_pct), 0, 100 },
	{ "max_output", K_SIZE, P(max_output), KIB, 256 * MIB },
	{ "user", K_PATH, P(user), 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};
#undef P

#define W(f) offsetof(struct webhook_policy, f)
static const struct key_spec webhook_keys[] = {
	{ "allow_loopback", K_BOOL, W(allow_loopback), 0, 0 },
	{ "allow_private", K_BOOL, W(allow_private), 0, 0 },
	{ "max_per_host", K_INT, W(max_per_host), 1, 1024 },
	{ "connect_timeout", K_DURATION, W(connect_timeout_ms), 1, 5 * MIN },
	{ "timeout", K_DURATION, W(timeout_ms), 1, HOUR },
	{ "secret_file", K_PATH, W(secret_file), 0, 0 },
	{ "secret_env", K_ENVNAME, W(secret_env), 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};
#undef W

#define N(f) offsetof(struct notifier_config, f)
static const struct key_spec notifier_keys[] = {
	{ "enabled", K_BOOL, N(enabled), 0, 0 },
	{ "coalesce", K_DURATION, N(coalesce_ms), 0, 10 * SEC },
	{ "scan_interval", K_DURATION, N(scan_interval_ms), 100, HOUR },
	{ "retries", K_INT, N(retries), 0, 10 },
	{ NULL, 0, 0, 0, 0 }
};
#undef N

#define C(f) offsetof(struct callbacks_config, f)
static const struct key_spec callbacks_keys[] = {
	{ "enabled", K_BOOL, C(enabled), 0, 0 },
	{ "max_attempts", K_INT, C(max_attempts), 1, 100 },
	{ "backoff_base", K_DURATION, C(backoff_base_ms), 1, DAY },
	{ "backoff_max", K_DURATION, C(backoff_max_ms), 1, 7 * DAY },
	{ "batch_window", K_DURATION, C(batch_window_ms), 0, 10 * SEC },
	{ "batch_max", K_INT, C(batch_max), 1, 10000 },
	{ "visibility", K_DURATION, C(visibility_ms), SEC, HOUR },
	{ NULL, 0, 0, 0, 0 }
};
#undef C

static const struct key_spec metrics_keys[] = {
	{ "listen", K_LISTEN, offsetof(struct metrics_config, listen), 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};

#define A(f) offsetof(struct api_config, f)
static const struct key_spec api_keys[] = {
	{ "enabled", K_BOOL, A(enabled), 0, 0 },
	{ "listen", K_LISTEN, A(listen), 0, 0 },
	{ "tokens_file", K_PATH, A(tokens_file), 0, 0 },
	{ "jwks_file", K_PATH, A(jwks_file), 0, 0 },
	/* K_PATH: any text, but not empty (which would read as "any"). */
	{ "jwt_issuer", K_PATH, A(jwt_issuer), 0, 0 },
	{ "jwt_audience", K_PATH, A(jwt_audience), 0, 0 },
	{ "jwt_leeway", K_DURATION, A(jwt_leeway_ms), 0, HOUR },
	{ "max_connections", K_INT, A(max_connections), 1, 65536 },
	{ "request_timeout", K_DURATION, A(request_timeout_ms), SEC, HOUR },
	{ "max_body", K_SIZE, A(max_body), KIB, 512 * MIB },
	{ "rate_limit", K_INT, A(rate_limit), 0, 1000000 },
	{ "rate_burst", K_INT, A(rate_burst), 0, 1000000 },
	{ "tls_cert", K_PATH, A(tls_cert), 0, 0 },
	{ "tls_key", K_PATH, A(tls_key), 0, 0 },
	{ "public_url", K_WEBURL, A(public_url), 0, 0 },
	{ NULL, 0, 0, 0, 0 }
};
#undef A

static int
name_chars_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == n;
}

/*
 * The store URL, parsed as libcodeq parses it when it connects, so that a
 * typo is a configuration error with a line number instead of a failure
 * at start.  NULL, or what is wrong (in buf, without the value).
 */
static const char *
url_problem(const char *url, char *buf, size_t len)
{
	struct store_url u;
	codeq_error err;
	const char *why;
	char *got;

	if (store_url_parse(url, &u, &err) == CODEQ_OK) {
		explicit_bzero(&u, sizeof(u));
		return NULL;
	}
	why = strncmp(err.msg, "store URL: ", 11) == 0 ? err.msg + 11 : err.msg;
	snprintf(buf, len, "%s", why);
	if ((got = strstr(buf, ", got '")) != NULL)
		*got = '\0';
	return buf;
}

/* HOST:PORT, [IPV6]:PORT or :PORT (all addresses). */
static const char *
listen_problem(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *ep;
	long v;

	if (colon == NULL)
		return "must be HOST:PORT, [IPV6]:PORT or off";
	if (*s == '[' && (colon == s || colon[-1] != ']'))
		return "IPv6 address must be in brackets, as [::1]:9464";
	errno = 0;
	v = strtol(colon + 1, &ep, 10);
	/* Port 0: the kernel picks one (codeqd logs it); tests use that. */
	if (ep == colon + 1 || *ep != '\0' || errno != 0 || v < 0 || v > 65535)
		return "port must be 0-65535";
	return NULL;
}

/*
 * Splits an exec line into argv: words are separated by blanks; double
 * quotes group words ("a b"), and inside them \" and \\ stand for " and \.
 * No other shell syntax: there is no shell.
 */
static int
split_argv(const char *s, char ***argvp, size_t *argcp, const char **why)
{
	char **argv = NULL, **n, *word = NULL;
	size_t argc = 0, wlen;
	int fail = 0;

	*why = NULL;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		if ((word = malloc(strlen(s) + 1)) == NULL)
			goto oom;
		wlen = 0;
		while (*s != '\0' && *s != ' ' && *s != '\t') {
			if (*s != '"') {
				word[wlen++] = *s++;
				continue;
			}
			for (s++; *s != '"'; s++) {
				if (*s == '\0') {
					*why = "unterminated double quote";
					goto bad;
				}
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				word[wlen++] = *s;
			}
			s++;
		}
		word[wlen] = '\0';
		if ((n = realloc(argv, (argc + 2) * sizeof(*argv))) == NULL)
			goto oom;
		argv = n;
		argv[argc++] = word;
		argv[argc] = NULL;
		word = NULL;
	}
	if (argc == 0) {
		*why = "needs a program (and its arguments)";
		goto bad;
	}
	*argvp = argv;
	*argcp = argc;
	return 0;
oom:
	*why = "out of memory";
bad:
	fail = -1;
	free(word);
	while (argc > 0)
		free(argv[--argc]);
	free(argv);
	return fail;
}

/* A glob of queue names: their characters and fnmatch's * ? [ ] !. */
static int
pattern_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > QUEUE_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-*?[]!", *s) == NULL)
			return 0;
	return 1;
}

/* queues = a, b c: claimed in that order (a pool's), or the queues a
 * shard holds (globs allowed).  Commas and blanks separate. */
static int
set_queues(struct loader *l, char ***v, size_t *nv, const struct raw_entry *e,
    int globs)
{
	char *copy, *tok, *save = NULL;
	size_t i;

	if ((copy = strdup(e->value)) == NULL)
		return lerr(l, e->line, e->key, "out of memory");
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		char **n;

		if (globs ? !pattern_ok(tok) : !name_chars_ok(tok, QUEUE_NAME_MAX)) {
			lerr(l, e->line, e->key, "invalid queue name '%s' "
			    "(1-%d characters of A-Z a-z 0-9 _ . -%s)", tok,
			    QUEUE_NAME_MAX, globs ? ", or a glob of them with "
			    "* ? [ ]" : "");
			goto fail;
		}
		for (i = 0; i < *nv; i++)
			if (strcmp((*v)[i], tok) == 0) {
				lerr(l, e->line, e->key, "queue '%s' listed twice",
				    tok);
				goto fail;
			}
		if ((n = realloc(*v, (*nv + 1) * sizeof(*n))) == NULL)
			goto oom;
		*v = n;
		if ((n[*nv] = strdup(tok)) == NULL)
			goto oom;
		(*nv)++;
	}
	free(copy);
	if (*nv == 0)
		return lerr(l, e->line, e->key, "needs at least one queue name");
	return 0;
oom:
	lerr(l, e->line, e->key, "out of memory");
fail:
	free(copy);
	return -1;
}

static int
set_handler(struct loader *l, struct pool_config *p, const struct raw_entry *e,
    enum key_type t)
{
	const char *why;

	if (p->kind != 0)
		return lerr(l, e->line, e->key, "pool '%s' already has a handler "
		    "(%s at line %d); set only one of exec, command, so",
		    p->name, l->handler_key, l->handler_line);
	if (*e->value == '\0')
		return lerr(l, e->line, e->key, "must not be empty");
	switch (t) {
	case K_EXEC:
		if (split_argv(e->value, &p->argv, &p->argc, &why) == -1)
			return lerr(l, e->line, e->key, "%s", why);
		p->kind = HANDLER_EXEC;
		break;
	case K_COMMAND:
		if ((p->command = strdup(e->value)) == NULL)
			return lerr(l, e->line, e->key, "out of memory");
		p->kind = HANDLER_EXEC;
		break;
	default:
		if ((p->so_path = strdup(e->value)) == NULL)
			return lerr(l, e->line, e->key, "out of memory");
		p->kind = HANDLER_SO;
		break;
	}
	l->handler_line = p->handler_line = e->line;
	l->handler_key = e->key;
	return 0;
}

static int
set_string(struct loader *l, char **field, const struct raw_entry *e)
{
	char *v = strdup(e->value);

	if (v == NULL)
		return lerr(l, e->line, e->key, "out of memory");
	free(*field);
	*field = v;
	return 0;
}

static int
range_error(struct loader *l, const struct raw_entry *e,
    const struct key_spec *k)
{
	char lo[32], hi[32];

	if (k->type == K_DURATION) {
		format_duration(k->min, lo, sizeof(lo));
		format_duration(k->max, hi, sizeof(hi));
	} else if (k->type == K_SIZE) {
		format_size((size_t)k->min, lo, sizeof(lo));
		format_size((size_t)k->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%" PRId64, k->min);
		snprintf(hi, sizeof(hi), "%" PRId64, k->max);
	}
	return lerr(l, e->line, e->key, "must be %s-%s, got %s", lo, hi,
	    e->value);
}

/* Applies one key = value to the struct at base. */
static int
set_key(struct loader *l, void *base, const struct key_spec *k,
    const struct raw_entry *e)
{
	char *field = (char *)base + k->off;
	const char *why;
	int64_t v;
	size_t sz;
	int b;
	enum log_level lvl;

	switch (k->type) {
	case K_PATH:
		if (*e->value == '\0')
			return lerr(l, e->line, e->key, "must not be empty");
		/* FALLTHROUGH */
	case K_STRING:
		return set_string(l, (char **)field, e);
	case K_BOOL:
		if (parse_bool(e->value, &b) == -1)
			return lerr(l, e->line, e->key, "must be yes or no, "
			    "got '%s'", e->value);
		*(int *)field = b;
		return 0;
	case K_INT: {
		char *ep;
		long long n;

		errno = 0;
		n = strtoll(e->value, &ep, 10);
		if (ep == e->value || *ep != '\0' || errno != 0)
			return lerr(l, e->line, e->key, "must be a whole "
			    "number, got '%s'", e->value);
		if (n < k->min || n > k->max)
			return range_error(l, e, k);
		*(int *)field = (int)n;
		return 0;
	}
	case K_DURATION:
		if (parse_duration_ms(e->value, &v) == -1)
			return lerr(l, e->line, e->key, "must be a duration "
			    "like 250ms, 30s, 5m, 2h, 7d or a number of "
			    "seconds, got '%s'", e->value);
		if (v < k->min || v > k->max)
			return range_error(l, e, k);
		*(int64_t *)field = v;
		return 0;
	case K_SIZE:
		if (parse_size(e->value, &sz) == -1)
			return lerr(l, e->line, e->key, "must be a size like "
			    "4096, 64KiB, 1MiB, got '%s'", e->value);
		if ((int64_t)sz < k->min || (int64_t)sz > k->max)
			return range_error(l, e, k);
		*(size_t *)field = sz;
		return 0;
	case K_LOGLEVEL:
		if (log_level_parse(e->value, &lvl) == -1)
			return lerr(l, e->line, e->key, "must be debug, info, "
			    "notice, warning or error, got '%s'", e->value);
		return set_string(l, (char **)field, e);
	case K_WEBURL: {
		char bad[256];

		if (urlpolicy_validate(e->value, bad, sizeof(bad)) < 0)
			return lerr(l, e->line, e->key, "%s, got '%s'", bad,
			    e->value);
		return set_string(l, (char **)field, e);
	}
	case K_URL: {
		char buf[256];

		if ((why = url_problem(e->value, buf, sizeof(buf))) != NULL) {
			char shown[512];

			/* The value may hold the store's password. */
			store_url_redact(e->value, shown, sizeof(shown));
			return lerr(l, e->line, e->key, "%s (expected "
			    "redis://[[user][:password]@]host[:port][/db] or "
			    "unix://[[user][:password]@]/path[?db=N]), got '%s'",
			    why, shown);
		}
		return set_string(l, (char **)field, e);
	}
	case K_LISTEN:
		if (*e->value == '\0' || strcasecmp(e->value, "off") == 0) {
			free(*(char **)field);
			*(char **)field = NULL;
			return 0;
		}
		if ((why = listen_problem(e->value)) != NULL)
			return lerr(l, e->line, e->key, "%s, got '%s'", why,
			    e->value);
		return set_string(l, (char **)field, e);
	case K_ENVNAME:
		if (*e->value == '\0' || isdigit((unsigned char)*e->value) ||
		    strspn(e->value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(e->value))
			return lerr(l, e->line, e->key, "must be an environment "
			    "variable name, got '%s'", e->value);
		return set_string(l, (char **)field, e);
	default:
		return lerr(l, e->line, e->key, "internal error: bad key type");
	}
}

static const struct key_spec *
find_key(const struct key_spec *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

/* Applies every entry of section sec, refusing unknown and repeated keys. */
static int
apply_section(struct loader *l, const struct reader *r, size_t sec,
    const char *label, const struct key_spec *keys, void *base,
    struct pool_config *pool)
{
	size_t i, j;

	for (i = 0; i < r->nents; i++) {
		const struct raw_entry *e = &r->ents[i];
		const struct key_spec *k;

		if (e->section != sec)
			continue;
		if ((k = find_key(keys, e->key)) == NULL)
			return lerr(l, e->line, e->key, "unknown key in %s",
			    label);
		for (j = 0; j < i; j++)
			if (r->ents[j].section == sec &&
			    strcmp(r->ents[j].key, e->key) == 0)
				return lerr(l, e->line, e->key, "set twice in "
				    "%s (first at line %d)", label,
				    r->ents[j].line);
		if (pool != NULL && k->type == K_QUEUES) {
			if (set_queues(l, &pool->queues, &pool->nqueues, e, 0) == -1)
				return -1;
		} else if (k->type == K_PATTERNS) {
			struct shard_config *sh = base;

			if (set_queues(l, &sh->queues, &sh->nqueues, e, 1) == -1)
				return -1;
		} else if (pool != NULL && (k->type == K_EXEC ||
		    k->type == K_COMMAND || k->type == K_SO)) {
			if (set_handler(l, pool, e, k->type) == -1)
				return -1;
		} else if (set_key(l, base, k, e) == -1)
			return -1;
		if (pool != NULL && strcmp(e->key, "user") == 0)
			pool->user_line = e->line;
		if (strcmp(e->key, "backoff_base") == 0)
			l->backoff_base_line = e->line;
		if (strcmp(e->key, "backoff_max") == 0)
			l->backoff_max_line = e->line;
	}
	return 0;
}

static void
pool_defaults(struct pool_config *p)
{
	memset(p, 0, sizeof(*p));
	p->processes = 2;
	p->prefetch = 1;
	p->lease_ms = 30 * SEC;
	p->timeout_ms = 25 * SEC;
	p->max_attempts = 0;	/* none: the task's own */
	p->backoff_base_ms = 1 * SEC;
	p->backoff_max_ms = 1 * HOUR;
	p->backoff_jitter_pct = 20;
	p->max_output = 1 * MIB;
}

static void
pool_free(struct pool_config *p)
{
	size_t i;

	free(p->name);
	for (i = 0; i < p->nqueues; i++)
		free(p->queues[i]);
	free(p->queues);
	free(p->command);
	for (i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->so_path);
	free(p->handler_config);
	free(p->user);
}

static int
backoff_check(struct loader *l, int64_t base, int64_t max, int line)
{
	char b[32], m[32];

	if (max >= base)
		return 0;
	format_duration(base, b, sizeof(b));
	format_duration(max, m, sizeof(m));
	return lerr(l, line, l->backoff_max_line ? "backoff_max" : "backoff_base",
	    "backoff_max (%s) must not be below backoff_base (%s)", m, b);
}

static int
load_pool(struct loader *l, const struct reader *r, size_t sec,
    const char *name)
{
	struct codeq_config *cfg = l->cfg;
	const struct raw_section *s = &r->secs[sec];
	struct pool_config *p, *n;
	char label[POOL_NAME_MAX + 16];
	size_t i;

	if (!name_chars_ok(name, POOL_NAME_MAX))
		return lerr(l, s->line, "[pool]", "invalid pool name '%s' "
		    "(1-%d characters of A-Z a-z 0-9 _ . -)", name,
		    POOL_NAME_MAX);
	for (i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return lerr(l, s->line, "[pool]", "duplicate pool '%s' "
			    "(first at line %d)", name, cfg->pools[i].line);
	if ((n = realloc(cfg->pools, (cfg->npools + 1) * sizeof(*n))) == NULL)
		return lerr(l, s->line, "[pool]", "out of memory");
	cfg->pools = n;
	p = &cfg->pools[cfg->npools++];
	pool_defaults(p);
	p->line = s->line;
	if ((p->name = strdup(name)) == NULL)
		return lerr(l, s->line, "[pool]", "out of memory");
	snprintf(label, sizeof(label), "[pool %s]", name);
	l->handler_line = 0;
	l->backoff_base_line = l->backoff_max_line = 0;
	if (apply_section(l, r, sec, label, pool_keys, p, p) == -1)
		return -1;
	if (p->kind == 0)
		return lerr(l, s->line, label, "no handler: set one of exec, "
		    "command or so");
	if (p->nqueues == 0)
		return lerr(l, s->line, label, "no queues: set queues = NAME...");
	return backoff_check(l, p->backoff_base_ms, p->backoff_max_ms,
	    l->backoff_max_line > l->backoff_base_line ? l->backoff_max_line :
	    l->backoff_base_line);
}

static void
shard_free(struct shard_config *sh)
{
	size_t i;

	free(sh->name);
	free(sh->url);
	free(sh->password_file);
	for (i = 0; i < sh->nqueues; i++)
		free(sh->queues[i]);
	free(sh->queues);
}

static int entry_line(const struct reader *r, size_t sec, const char *key);

static int
load_shard(struct loader *l, const struct reader *r, size_t sec,
    const char *name)
{
	struct codeq_config *cfg = l->cfg;
	const struct raw_section *s = &r->secs[sec];
	struct shard_config *sh, *n;
	char label[POOL_NAME_MAX + 16];
	size_t i;

	if (!name_chars_ok(name, POOL_NAME_MAX) || strcmp(name, "home") == 0)
		return lerr(l, s->line, "[shard]", "invalid shard name '%s' "
		    "(1-%d characters of A-Z a-z 0-9 _ . -; \"home\" is "
		    "[store])", name, POOL_NAME_MAX);
	for (i = 0; i < cfg->nshards; i++)
		if (strcmp(cfg->shards[i].name, name) == 0)
			return lerr(l, s->line, "[shard]", "duplicate shard '%s' "
			    "(first at line %d)", name, cfg->shards[i].line);
	if ((n = realloc(cfg->shards, (cfg->nshards + 1) * sizeof(*n))) == NULL)
		return lerr(l, s->line, "[shard]", "out of memory");
	cfg->shards = n;
	sh = &cfg->shards[cfg->nshards++];
	memset(sh, 0, sizeof(*sh));
	sh->line = s->line;
	sh->password_file_line = entry_line(r, sec, "password_file");
	if ((sh->name = strdup(name)) == NULL)
		return lerr(l, s->line, "[shard]", "out of memory");
	snprintf(label, sizeof(label), "[shard %s]", name);
	if (apply_section(l, r, sec, label, shard_keys, sh, NULL) == -1)
		return -1;
	if (sh->url == NULL)
		return lerr(l, s->line, label, "no store: set url = redis://...");
	return 0;
}

/* Two stores cannot hold one queue: a queue name (not a glob) listed by
 * two shards, or two sections naming the same store, is refused. */
static int
shards_check(struct loader *l)
{
	const struct codeq_config *cfg = l->cfg;
	size_t i, j, a, b;

	/* A cluster routes by slot itself: a [shard] beside it would split
	 * the registry's view of the queues from where they live. */
	if (cfg->store.cluster && cfg->nshards > 0)
		return lerr(l, cfg->shards[0].line, "[shard]", "[shard %s]: "
		    "[store] cluster = yes (line %d) routes every queue by "
		    "its slot: remove the [shard] sections or set cluster = no",
		    cfg->shards[0].name, cfg->store.cluster_line);
	for (i = 0; i < cfg->nshards; i++) {
		const struct shard_config *x = &cfg->shards[i];

		if (strcmp(x->url, cfg->store.url) == 0)
			return lerr(l, x->line, "url", "[shard %s] is the store "
			    "of [store]: one store, two names", x->name);
		for (j = 0; j < i; j++) {
			const struct shard_config *y = &cfg->shards[j];

			if (strcmp(x->url, y->url) == 0)
				return lerr(l, x->line, "url", "[shard %s] is "
				    "the store of [shard %s] (line %d)", x->name,
				    y->name, y->line);
			for (a = 0; a < x->nqueues; a++)
				for (b = 0; b < y->nqueues; b++)
					if (strcmp(x->queues[a], y->queues[b]) == 0 &&
					    strpbrk(x->queues[a], "*?[") == NULL)
						return lerr(l, x->line, "queues",
						    "queue '%s' is claimed by [shard "
						    "%s] and [shard %s] (line %d)",
						    x->queues[a], x->name, y->name,
						    y->line);
		}
	}
	return 0;
}

struct section_spec {
	const char *name;
	const struct key_spec *keys;
	size_t off;		/* of its struct in codeq_config */
};

static const struct section_spec sections[] = {
	{ "store", store_keys, offsetof(struct codeq_config, store) },
	{ "codeqd", daemon_keys, offsetof(struct codeq_config, daemon) },
	{ "webhooks", webhook_keys, offsetof(struct codeq_config, webhooks) },
	{ "notifier", notifier_keys, offsetof(struct codeq_config, notifier) },
	{ "callbacks", callbacks_keys, offsetof(struct codeq_config, callbacks) },
	{ "metrics", metrics_keys, offsetof(struct codeq_config, metrics) },
	{ "api", api_keys, offsetof(struct codeq_config, api) },
	{ NULL, NULL, 0 }
};

/* The line of key in section sec, or 0. */
static int
entry_line(const struct reader *r, size_t sec, const char *key)
{
	size_t i;

	for (i = 0; i < r->nents; i++)
		if (r->ents[i].section == sec &&
		    strcmp(r->ents[i].key, key) == 0)
			return r->ents[i].line;
	return 0;
}

static void
api_lines(struct api_config *a, const struct reader *r, size_t sec)
{
	a->line = r->secs[sec].line;
	a->tokens_file_line = entry_line(r, sec, "tokens_file");
	a->tls_cert_line = entry_line(r, sec, "tls_cert");
	a->tls_key_line = entry_line(r, sec, "tls_key");
	a->rate_burst_line = entry_line(r, sec, "rate_burst");
	a->jwks_file_line = entry_line(r, sec, "jwks_file");
	a->jwt_issuer_line = entry_line(r, sec, "jwt_issuer");
	a->jwt_audience_line = entry_line(r, sec, "jwt_audience");
}

void
config_api_claim_url(const struct codeq_config *cfg, char *buf, size_t len)
{
	const struct api_config *a = &cfg->api;
	const char *base = a->public_url;
	char dflt[300];
	size_t n;

	if (!a->enabled || a->listen == NULL) {
		snprintf(buf, len, "%s", "");
		return;
	}
	if (base == NULL) {
		snprintf(dflt, sizeof(dflt), "%s://%s",
		    a->tls_cert ? "https" : "http", a->listen);
		base = dflt;
	}
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	snprintf(buf, len, "%.*s/v1/codeq/tasks/claim", (int)n, base);
}

/* What the keys of [api] must agree on. */
static int
api_check(struct loader *l)
{
	const struct api_config *a = &l->cfg->api;

	if ((a->tls_cert == NULL) != (a->tls_key == NULL))
		return lerr(l, a->tls_cert ? a->tls_cert_line : a->tls_key_line,
		    a->tls_cert ? "tls_cert" : "tls_key",
		    "tls_cert and tls_key go together: set both or neither");
	if (a->enabled && a->listen == NULL)
		return lerr(l, a->line, "[api]", "enabled, but listen is off");
	if (a->enabled && a->tokens_file == NULL && a->jwks_file == NULL)
		return lerr(l, a->line, "[api]", "enabled without tokens_file "
		    "or jwks_file: no request could be authorized");
	if (a->jwks_file == NULL && (a->jwt_issuer || a->jwt_audience))
		return lerr(l, a->jwt_issuer ? a->jwt_issuer_line :
		    a->jwt_audience_line, a->jwt_issuer ? "jwt_issuer" :
		    "jwt_audience", "needs jwks_file (the keys of the JWTs)");
	if (a->rate_burst > 0 && a->rate_limit == 0)
		return lerr(l, a->rate_burst_line, "rate_burst",
		    "needs rate_limit (requests/s per token)");
	return 0;
}

/* "pool NAME" with kind "pool": NAME ("" when missing); NULL when the
 * section is not of that kind. */
static const char *
section_name(const char *name, const char *kind)
{
	size_t n = strlen(kind);

	if (strncmp(name, kind, n) != 0 ||
	    (name[n] != '\0' && !isspace((unsigned char)name[n])))
		return NULL;
	for (name += n; isspace((unsigned char)*name); name++)
		;
	return name;
}

static int
load_sections(struct loader *l, const struct reader *r)
{
	size_t i, j;

	for (i = 0; i < r->nents; i++)
		if (r->ents[i].section == r->nsecs)
			return lerr(l, r->ents[i].line, r->ents[i].key,
			    "key outside any section (put it under [store], "
			    "[codeqd], [pool NAME], ...)");
	for (i = 0; i < r->nsecs; i++) {
		const char *name = r->secs[i].name, *pn;
		const struct section_spec *ss;
		char label[80];

		if (strcmp(name, "store") == 0) {
			l->cfg->store.password_file_line = entry_line(r, i,
			    "password_file");
			l->cfg->store.cluster_line = entry_line(r, i, "cluster");
		}
		if (strcmp(name, "webhooks") == 0)
			l->cfg->webhooks.secret_file_line = entry_line(r, i,
			    "secret_file");
		if (strcmp(name, "api") == 0)
			api_lines(&l->cfg->api, r, i);

		if ((pn = section_name(name, "pool")) != NULL) {
			if (*pn == '\0')
				return lerr(l, r->secs[i].line, "[pool]",
				    "needs a name: [pool NAME]");
			if (load_pool(l, r, i, pn) == -1)
				return -1;
			continue;
		}
		if ((pn = section_name(name, "shard")) != NULL) {
			if (*pn == '\0')
				return lerr(l, r->secs[i].line, "[shard]",
				    "needs a name: [shard NAME]");
			if (load_shard(l, r, i, pn) == -1)
				return -1;
			continue;
		}
		for (ss = sections; ss->name != NULL; ss++)
			if (strcmp(ss->name, name) == 0)
				break;
		snprintf(label, sizeof(label), "[%.60s]", name);
		if (ss->name == NULL)
			return lerr(l, r->secs[i].line, label, "unknown section "
			    "(known: store, codeqd, pool NAME, shard NAME, "
			    "webhooks, notifier, callbacks, metrics, api)");
		for (j = 0; j < i; j++)
			if (strcmp(r->secs[j].name, name) == 0)
				return lerr(l, r->secs[i].line, label,
				    "section repeated (first at line %d)",
				    r->secs[j].line);
		l->backoff_base_line = l->backoff_max_line = 0;
		if (apply_section(l, r, i, label, ss->keys,
		    (char *)l->cfg + ss->off, NULL) == -1)
			return -1;
		if (ss->keys == api_keys && api_check(l) == -1)
			return -1;
		if (ss->keys == callbacks_keys &&
		    backoff_check(l, l->cfg->callbacks.backoff_base_ms,
		    l->cfg->callbacks.backoff_max_ms, l->backoff_max_line >
		    l->backoff_base_line ? l->backoff_max_line :
		    l->backoff_base_line) == -1)
			return -1;
	}
	return 0;
}

/* ---- Public interface ---------------------------------------------------- */

void
config_defaults(struct codeq_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->store.url = strdup("redis://127.0.0.1:6379/0");
	cfg->store.connect_timeout_ms = 2 * SEC;
	cfg->store.command_timeout_ms = 5 * SEC;
	cfg->store.max_payload = 1 * MIB;
	cfg->store.retention_ms = 7 * DAY;
	cfg->daemon.shutdown_timeout_ms = 30 * SEC;
	cfg->daemon.tick_ms = 100;
	cfg->daemon.reap_interval_ms = 1 * SEC;
	cfg->daemon.log_level = strdup("info");
	cfg->daemon.restart_backoff_max_ms = 30 * SEC;
	cfg->webhooks.max_per_host = 8;
	cfg->webhooks.connect_timeout_ms = 2 * SEC;
	cfg->webhooks.timeout_ms = 10 * SEC;
	cfg->notifier.enabled = 1;
	cfg->notifier.coalesce_ms = 50;
	cfg->notifier.scan_interval_ms = 5 * SEC;
	cfg->callbacks.enabled = 1;
	cfg->callbacks.max_attempts = 5;
	cfg->callbacks.backoff_base_ms = 2 * SEC;
	cfg->callbacks.backoff_max_ms = 60 * SEC;
	cfg->callbacks.batch_window_ms = 50;
	cfg->callbacks.batch_max = 100;
	cfg->callbacks.visibility_ms = 30 * SEC;
	cfg->metrics.listen = strdup("127.0.0.1:9464");
	cfg->api.listen = strdup("127.0.0.1:8080");
	cfg->api.max_connections = 256;
	cfg->api.request_timeout_ms = 30 * SEC;
	cfg->api.jwt_leeway_ms = 60 * SEC;
}

void
config_free(struct codeq_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->store.url);
	free(cfg->store.password_file);
	free(cfg->daemon.log_level);
	free(cfg->daemon.pidfile);
	free(cfg->webhooks.secret_file);
	free(cfg->webhooks.secret_env);
	free(cfg->metrics.listen);
	free(cfg->api.listen);
	free(cfg->api.tokens_file);
	free(cfg->api.jwks_file);
	free(cfg->api.jwt_issuer);
	free(cfg->api.jwt_audience);
	free(cfg->api.tls_cert);
	free(cfg->api.tls_key);
	free(cfg->api.public_url);
	for (i = 0; i < cfg->npools; i++)
		pool_free(&cfg->pools[i]);
	free(cfg->pools);
	for (i = 0; i < cfg->nshards; i++)
		shard_free(&cfg->shards[i]);
	free(cfg->shards);
	memset(cfg, 0, sizeof(*cfg));
}

/* Parses what fp holds; messages and cfg->path name path.  Closes fp. */
static int
load_stream(FILE *fp, const char *path, struct codeq_config *out, char *err,
    size_t errlen)
{
	struct codeq_config cfg;
	struct reader r;
	struct loader l;
	int rc, bad;

	memset(&r, 0, sizeof(r));
	memset(&l, 0, sizeof(l));
	r.fp = fp;
	l.path = path;
	l.cfg = &cfg;
	l.err = err;
	l.errlen = errlen;
	config_defaults(&cfg);
	if (cfg.store.url == NULL || cfg.daemon.log_level == NULL ||
	    cfg.metrics.listen == NULL || cfg.api.listen == NULL ||
	    (cfg.path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(r.fp);
		goto fail;
	}
	rc = ini_parse_stream(conf_reader, &r, conf_handler, &r);
	bad = ferror(r.fp);
	fclose(r.fp);
	if (r.oom || rc == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	/* Report whichever problem comes first in the file. */
	if (r.long_line != 0 && (rc <= 0 || r.long_line <= rc)) {
		snprintf(err, errlen, "%s:%d: line too long (at most %d "
		    "characters; continue a long value on indented lines)",
		    path, r.long_line, INI_LINE_MAX - 2);
		goto fail;
	}
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error: expected "
		    "'key = value', '[section]' or a comment", path, rc);
		goto fail;
	}
	if (load_sections(&l, &r) == -1 || shards_check(&l) == -1)
		goto fail;
	reader_free(&r);
	*out = cfg;
	return 0;
fail:
	reader_free(&r);
	config_free(&cfg);
	return -1;
}

int
config_load(const char *path, struct codeq_config *out, char *err,
    size_t errlen)
{
	FILE *fp;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	return load_stream(fp, path, out, err, errlen);
}

int
config_load_fd(int fd, const char *name, struct codeq_config *out,
    char *err, size_t errlen)
{
	FILE *fp;
	int copy;

	/* A copy of fd, read from the start: fd stays the caller's. */
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    lseek(copy, 0, SEEK_SET) < 0 || (fp = fdopen(copy, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", name,
		    strerror(errno));
		if (copy >= 0)
			close(copy);
		return -1;
	}
	return load_stream(fp, name, out, err, errlen);
}

static int
shard_differs(const struct shard_config *a, const struct shard_config *b)
{
	size_t i;

	if (strcmp(a->name, b->name) != 0 || strcmp(a->url, b->url) != 0 ||
	    config_str_differs(a->password_file, b->password_file) ||
	    a->nqueues != b->nqueues)
		return 1;
	for (i = 0; i < a->nqueues; i++)
		if (strcmp(a->queues[i], b->queues[i]) != 0)
			return 1;
	return 0;
}

int
config_stores_differ(const struct codeq_config *a, const struct codeq_config *b)
{
	size_t i;

	if (config_str_differs(a->store.url, b->store.url) ||
	    config_str_differs(a->store.password_file, b->store.password_file) ||
	    a->store.shard_hash != b->store.shard_hash ||
	    a->store.cluster != b->store.cluster ||
	    a->nshards != b->nshards)
		return 1;
	for (i = 0; i < a->nshards; i++)
		if (shard_differs(&a->shards[i], &b->shards[i]))
			return 1;
	return 0;
}

const struct pool_config *
config_find_pool(const struct codeq_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}

int
config_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
strv_differs(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 1;
	return 0;
}

int
pool_config_differs(const struct pool_config *a, const struct pool_config *b)
{
	return config_str_differs(a->name, b->name) ||
	    strv_differs(a->queues, a->nqueues, b->queues, b->nqueues) ||
	    a->kind != b->kind ||
	    config_str_differs(a->command, b->command) ||
	    strv_differs(a->argv, a->argc, b->argv, b->argc) ||
	    config_str_differs(a->so_path, b->so_path) ||
	    config_str_differs(a->handler_config, b->handler_config) ||
	    a->processes != b->processes || a->prefetch != b->prefetch ||
	    a->lease_ms != b->lease_ms || a->timeout_ms != b->timeout_ms ||
	    a->max_attempts != b->max_attempts ||
	    a->backoff_base_ms != b->backoff_base_ms ||
	    a->backoff_max_ms != b->backoff_max_ms ||
	    a->backoff_jitter_pct != b->backoff_jitter_pct ||
	    a->max_output != b->max_output ||
	    config_str_differs(a->user, b->user);
}

/* ---- What the file names must exist ------------------------------------- */

static int
readable(const char *path, const char *cfgpath, int line, const char *key,
    char *err, size_t errlen)
{
	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s: %s: %s", cfgpath, line, key,
		    path, strerror(errno));
	else
		snprintf(err, errlen, "%s: %s: %s: %s", cfgpath, key, path,
		    strerror(errno));
	return -1;
}

/* A program named without a slash is looked up in PATH, as execvp does. */
static int
program_found(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[4096];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		int n;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(end - p), p, prog);
		if (n > 0 && (size_t)n < sizeof(buf) && access(buf, X_OK) == 0)
			return 1;
		if (*end == '\0')
			return 0;
	}
}

int
config_check_environment(const struct codeq_config *cfg, char *err,
    size_t errlen)
{
	const char *path = cfg->path != NULL ? cfg->path : "(config)";
	size_t i;

	if (readable(cfg->store.password_file, path,
	    cfg->store.password_file_line, "password_file", err, errlen) == -1 ||
	    readable(cfg->webhooks.secret_file, path,
	    cfg->webhooks.secret_file_line, "secret_file", err, errlen) == -1)
		return -1;
	if (cfg->api.enabled && (readable(cfg->api.tokens_file, path,
	    cfg->api.tokens_file_line, "tokens_file", err, errlen) == -1 ||
	    readable(cfg->api.jwks_file, path, cfg->api.jwks_file_line,
	    "jwks_file", err, errlen) == -1 ||
	    readable(cfg->api.tls_cert, path, cfg->api.tls_cert_line,
	    "tls_cert", err, errlen) == -1 ||
	    readable(cfg->api.tls_key, path, cfg->api.tls_key_line,
	    "tls_key", err, errlen) == -1))
		return -1;
	for (i = 0; i < cfg->nshards; i++)
		if (readable(cfg->shards[i].password_file, path,
		    cfg->shards[i].password_file_line, "password_file", err,
		    errlen) == -1)
			return -1;
	for (i = 0; i < cfg->npools; i++) {
		const struct pool_config *p = &cfg->pools[i];
		int hl = p->handler_line ? p->handler_line : p->line;

		if (readable(p->so_path, path, hl, "so", err, errlen) == -1)
			return -1;
		if (p->argc > 0 && !program_found(p->argv[0])) {
			snprintf(err, errlen, "%s:%d: exec: %s: no such "
			    "executable program%s", path, hl, p->argv[0],
			    strchr(p->argv[0], '/') ? "" : " in PATH");
			return -1;
		}
		if (p->user != NULL && getpwnam(p->user) == NULL) {
			snprintf(err, errlen, "%s:%d: user: no such user '%s'",
			    path, p->user_line ? p->user_line : p->line,
			    p->user);
			return -1;
		}
	}
	return 0;
}
