/*
 * util.c - what every codeq command shares: one-line messages naming the
 * command and the field, the map from libcodeq statuses to sysexits, and
 * the checks of option values.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void
vmessage(struct cli *cli, const char *fmt, va_list ap)
{
	fputs("codeq: ", stderr);
	if (cli->cmd != NULL)
		fprintf(stderr, "%s: ", cli->cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
cli_error(struct cli *cli, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
	return status;
}

int
cli_usage(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
	if (cli->cmd != NULL)
		fprintf(stderr, "Try 'codeq %s --help'.\n", cli->cmd);
	else
		fputs("Try 'codeq --help'.\n", stderr);
	return EX_USAGE;
}

int
cli_exit_status(int code)
{
	switch (code) {
	case CODEQ_OK:
		return EX_OK;
	case CODEQ_EINVAL:
	case CODEQ_ETOOBIG:
		return EX_DATAERR;
	case CODEQ_ENOTFOUND:
		return EX_NOINPUT;
	case CODEQ_ESTALE:
	case CODEQ_ESTATE:
	case CODEQ_EAUTH:
		return EX_NOPERM;
	case CODEQ_EEMPTY:
	case CODEQ_ETIMEDOUT:
		return EX_TEMPFAIL;
	case CODEQ_ESTORE:
		return EX_UNAVAILABLE;
	case CODEQ_EPROTO:
		return EX_PROTOCOL;
	case CODEQ_ENOMEM:
		return EX_OSERR;
	default:
		return EX_SOFTWARE;
	}
}

int
cli_lib_error(struct cli *cli, int rc, const codeq_error *err)
{
	const char *msg = err != NULL && err->msg[0] != '\0' ? err->msg :
	    codeq_strerror(rc);

	/* Scripts answer tersely ("task q:9"): say what is wrong with it. */
	if (rc == CODEQ_ENOTFOUND && strstr(msg, "not found") == NULL)
		return cli_error(cli, cli_exit_status(rc), "%s: not found",
		    msg);
	return cli_error(cli, cli_exit_status(rc), "%s", msg);
}

int
cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
    const struct option *longopts, const char *help, int *done)
{
	char opts[64];
	int ch;

	/* ':' first: a missing value is reported as ':', not as '?'. */
	snprintf(opts, sizeof(opts), ":hj%s", shortopts);
	opterr = 0;
	ch = getopt_long(argc, argv, opts, longopts, NULL);
	switch (ch) {
	case 'h':
		fputs(help, stdout);
		*done = 1;
		return -1;
	case 'j':
		cli->json = 1;
		return cli_getopt(cli, argc, argv, shortopts, longopts, help,
		    done);
	case CLI_OPT_REDIS:
		cli->redis_url = optarg;
		return cli_getopt(cli, argc, argv, shortopts, longopts, help,
		    done);
	case CLI_OPT_CONFIG:
		cli->config_path = optarg;
		cli->config_explicit = 1;
		return cli_getopt(cli, argc, argv, shortopts, longopts, help,
		    done);
	case ':':
		cli_usage(cli, "%s: needs a value", argv[optind - 1]);
		return '?';
	case '?':
		if (optopt != 0)
			cli_usage(cli, "-%c: unknown option", optopt);
		else
			cli_usage(cli, "%s: unknown option", argv[optind - 1]);
		return '?';
	default:
		return ch;
	}
}

int
arg_count(struct cli *cli, int have, int min, int max, const char *what)
{
	if (have < min) {
		cli_usage(cli, "missing %s", what);
		return -1;
	}
	if (max >= 0 && have > max) {
		cli_usage(cli, "too many arguments (expected %s)", what);
		return -1;
	}
	return 0;
}

int
arg_one_task_id(struct cli *cli, int argc, char **argv)
{
	if (arg_count(cli, argc - optind, 1, 1, "ID") == -1 ||
	    arg_task_id(cli, argv[optind]) == -1)
		return -1;
	return 0;
}

int
arg_subcommand(struct cli *cli, const char *sub, const char *const *names)
{
	char list[128];
	size_t i, n = 0, len = 0;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(sub, names[i]) == 0)
			return 0;
	n = i;
	list[0] = '\0';
	for (i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	cli_usage(cli, "%s: unknown (%s)", sub, list);
	return -1;
}

int
cli_list_options(struct cli *cli, int argc, char **argv, const char *help,
    long *offset, long *limit, int *done)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "offset", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*offset = 0;
	*limit = -1;
	while ((ch = cli_getopt(cli, argc, argv, "o:l:", longopts, help,
	    done)) != -1) {
		if (ch == 'o') {
			if (arg_long(cli, "--offset", optarg, 0, 1000000000,
			    offset) == -1)
				return EX_USAGE;
		} else if (ch == 'l') {
			if (arg_long(cli, "--limit", optarg, 1, 1000000000,
			    limit) == -1)
				return EX_USAGE;
		} else
			return EX_USAGE;
	}
	return 0;
}

int
arg_long(struct cli *cli, const char *opt, const char *s, long min, long max,
    long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
		cli_error(cli, EX_USAGE, "%s: must be %ld-%ld, got %s", opt, min,
		    max, s);
		return -1;
	}
	*out = v;
	return 0;
}

int
arg_duration(struct cli *cli, const char *opt, const char *s, int64_t *out)
{
	if (parse_duration_ms(s, out) == 0)
		return 0;
	cli_error(cli, EX_USAGE, "%s: must be a duration like 250ms, 30s, 5m, "
	    "2h, 7d or a number of seconds, got '%s'", opt, s);
	return -1;
}

int
arg_time(struct cli *cli, const char *opt, const char *s, int64_t *out)
{
	if (parse_time_ms(s, out) == 0)
		return 0;
	cli_error(cli, EX_USAGE, "%s: must be an RFC 3339 time like "
	    "2026-11-23T18:00:00Z or epoch seconds, got '%s'", opt, s);
	return -1;
}

int
arg_queue(struct cli *cli, const char *opt, const char *s)
{
	if (codeq_queue_name_valid(s))
		return 0;
	cli_error(cli, EX_USAGE, "%s: invalid queue name '%s' (1-100 "
	    "characters of A-Z a-z 0-9 _ . -)", opt, s);
	return -1;
}

/* Ids are QUEUE:SEQ; the store says whether one exists. */
int
arg_task_id(struct cli *cli, const char *s)
{
	const char *colon = strrchr(s, ':');
	char q[CODEQ_ID_MAX];

	if (colon != NULL && colon != s && colon[1] != '\0' &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    (size_t)(colon - s) < sizeof(q)) {
		memcpy(q, s, (size_t)(colon - s));
		q[colon - s] = '\0';
		if (codeq_queue_name_valid(q))
			return 0;
	}
	cli_error(cli, EX_USAGE, "ID: not a task id (QUEUE:NUMBER), got '%s'",
	    s);
	return -1;
}

int
arg_json(struct cli *cli, const char *opt, const char *s, size_t limit)
{
	json_error_t jerr;
	json_t *j;
	size_t n = strlen(s);
	char lim[32];

	if (n > limit) {
		format_size(limit, lim, sizeof(lim));
		return cli_error(cli, EX_DATAERR, "%s: %zu bytes, over the "
		    "limit of %s (max_payload)", opt, n, lim);
	}
	if ((j = json_loadb(s, n, JSON_DECODE_ANY, &jerr)) == NULL)
		return cli_error(cli, EX_DATAERR, "%s: not valid JSON: %s "
		    "(line %d, column %d)", opt, jerr.text, jerr.line,
		    jerr.column);
	json_decref(j);
	return 0;
}

int
arg_file(struct cli *cli, const char *opt, const char *path, size_t limit,
    char **out)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf = NULL, lim[32];
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return cli_error(cli, EX_NOINPUT, "%s: %s: %s", opt, path,
		    strerror(errno));
	for (;;) {
		if (len + 1 >= cap) {
			char *nb;

			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				if (f != stdin)
					fclose(f);
				return cli_error(cli, EX_OSERR, "out of memory");
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (len > limit)
			break;
		if (n == 0)
			break;
	}
	if (ferror(f) || len > limit) {
		int bad = ferror(f);

		free(buf);
		if (f != stdin)
			fclose(f);
		if (bad)
			return cli_error(cli, EX_IOERR, "%s: %s: read error",
			    opt, path);
		format_size(limit, lim, sizeof(lim));
		return cli_error(cli, EX_DATAERR, "%s: %s: over the limit of %s "
		    "(max_payload)", opt, path, lim);
	}
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	*out = buf;
	return 0;
}
