/*
 * top.c - codeq top [QUEUE...]: a live view of the queues, refreshed in
 * place: depths by state, the age of the oldest ready task, and rates
 * (enqueued, completed, failed, retried, dead-lettered per second) from
 * the growth of the store's per-queue counters between two refreshes.
 *
 * On a terminal each frame is redrawn over the previous one (cursor home,
 * every line cleared to its end, the rest of the screen cleared), so
 * there is no flicker; elsewhere (a pipe, a file) frames follow each
 * other, separated by a blank line, without escape sequences.  --json
 * prints one JSON object per frame (JSON Lines).  The store's counters
 * and depths are cluster-wide: every host's work shows.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define TOP_MAX_QUEUES	200

int cmd_top(struct cli *, int, char **);	/* in the table of cli/main.c */

static const char top_help[] =
"usage: codeq top [QUEUE...] [--interval DURATION] [--iterations N] [--json]\n"
"\n"
"A live view of the queues (every known queue, or the QUEUEs given):\n"
"ready, delayed, leased and dead-lettered tasks, the age of the oldest\n"
"ready task, result callbacks waiting, and per-second rates of enqueued,\n"
"completed, failed, retried and dead-lettered tasks, refreshed in place.\n"
"Ctrl-C quits.\n"
"  --interval D    time between refreshes (default 1s, at least 100ms)\n"
"  --iterations N  stop after N refreshes (default: until interrupted)\n"
"  --json          one JSON object per refresh, one per line\n";

struct qrow {
	char *name;
	codeq_stats s;
	int ok;
	int have_prev;
	codeq_stats prev;
	double rate[5];		/* enqueued completed failed retried dead */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = 1;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps up to seconds; a signal ends it early. */
static void
nap(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (!stop && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
age_text(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", ms / 60000,
		    ms / 1000 % 60);
	else
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", ms / 3600000,
		    ms / 60000 % 60);
}

static void
rate_text(const struct qrow *r, int i, char *buf, size_t len)
{
	if (!r->have_prev)
		snprintf(buf, len, "-");
	else if (r->rate[i] >= 100)
		snprintf(buf, len, "%.0f", r->rate[i]);
	else
		snprintf(buf, len, "%.1f", r->rate[i]);
}

static int
cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct qrow *)a)->name,
	    ((const struct qrow *)b)->name);
}

/* Makes rows match names (sorted), keeping the previous sample of queues
 * that stay.  0, or -1 when out of memory. */
static int
rows_sync(struct qrow **rows, size_t *nrows, char **names, size_t n)
{
	struct qrow *nr;
	size_t i, k;

	if ((nr = calloc(n + 1, sizeof(*nr))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		for (k = 0; k < *nrows; k++)
			if ((*rows)[k].name != NULL &&
			    strcmp((*rows)[k].name, names[i]) == 0)
				break;
		if (k < *nrows) {
			nr[i] = (*rows)[k];
			(*rows)[k].name = NULL;
		} else if ((nr[i].name = strdup(names[i])) == NULL) {
			while (i-- > 0)
				free(nr[i].name);
			free(nr);
			return -1;
		}
	}
	for (k = 0; k < *nrows; k++)
		free((*rows)[k].name);
	free(*rows);
	qsort(nr, n, sizeof(*nr), cmp_row);
	*rows = nr;
	*nrows = n;
	return 0;
}

/* Reads every row's stats; rates from the previous sample dt seconds ago.
 * Returns the first error's message in err (the other rows still read). */
static int
sample(struct cli *cli, struct qrow *rows, size_t n, double dt,
    codeq_error *err)
{
	codeq_error e;
	size_t i;
	int rc, first = CODEQ_OK;

	for (i = 0; i < n; i++) {
		struct qrow *r = &rows[i];

		r->prev = r->s;
		r->have_prev = r->ok && dt > 0;
		rc = codeq_stats_get(cli->c, r->name, &r->s, &e);
		r->ok = rc == CODEQ_OK;
		if (!r->ok) {
			r->have_prev = 0;
			if (first == CODEQ_OK) {
				first = rc;
				*err = e;
			}
			continue;
		}
		if (!r->have_prev)
			continue;
#define RATE(k, f) r->rate[k] = r->s.f >= r->prev.f ? \
	(double)(r->s.f - r->prev.f) / dt : 0
		RATE(0, enqueued);
		RATE(1, completed);
		RATE(2, failed);
		RATE(3, retried);
		RATE(4, dead_lettered);
#undef RATE
	}
	return first;
}

static int
terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 0;
}

/* One line; on a terminal, cleared to its end. */
static void
line_end(int tty)
{
	fputs(tty ? "\033[K\n" : "\n", stdout);
}

static void
draw(const struct qrow *rows, size_t n, size_t total, int tty,
    const char *problem)
{
	char now[40], age[24], rt[5][16];
	int64_t sum[5] = { 0 };
	size_t i, shown = n;
	int height = tty ? terminal_rows() : 0;
	int k;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	format_time((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now,
	    sizeof(now));
	if (tty)
		fputs("\033[H", stdout);
	for (i = 0; i < n; i++) {
		sum[0] += rows[i].s.ready_total;
		sum[1] += rows[i].s.delayed;
		sum[2] += rows[i].s.leased;
		sum[3] += rows[i].s.dlq;
		sum[4] += rows[i].s.outbox;
	}
	printf("codeq top - %s - %zu queue%s - ready %" PRId64 " delayed %"
	    PRId64 " leased %" PRId64 " dead %" PRId64 " callbacks %" PRId64,
	    now, total, total == 1 ? "" : "s", sum[0], sum[1], sum[2], sum[3],
	    sum[4]);
	line_end(tty);
	if (problem != NULL)
		printf("error: %s", problem);
	line_end(tty);
	printf("%-20s %8s %8s %8s %8s %8s %7s %7s %7s %7s %7s %7s",
	    "QUEUE", "READY", "DELAYED", "LEASED", "DLQ", "OLDEST", "ENQ/s",
	    "DONE/s", "FAIL/s", "RETRY/s", "DEAD/s", "CB");
	line_end(tty);
	/* Keep the frame on one screen: three header lines, one spare. */
	if (height > 4 && n > (size_t)(height - 4))
		shown = (size_t)(height - 5);
	for (i = 0; i < shown; i++) {
		const struct qrow *r = &rows[i];

		if (!r->ok) {
			printf("%-20.20s %8s", r->name, "?");
			line_end(tty);
			continue;
		}
		age_text(r->s.oldest_ready_ms, age, sizeof(age));
		for (k = 0; k < 5; k++)
			rate_text(r, k, rt[k], sizeof(rt[k]));
		printf("%-20.20s %8" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64
		    " %8s %7s %7s %7s %7s %7s %7" PRId64, r->name,
		    r->s.ready_total, r->s.delayed, r->s.leased, r->s.dlq, age,
		    rt[0], rt[1], rt[2], rt[3], rt[4], r->s.outbox);
		line_end(tty);
	}
	if (shown < n) {
		printf("... %zu more (codeq top QUEUE... to choose)", n - shown);
		line_end(tty);
	}
	if (total > n && shown == n) {
		printf("... %zu queues not shown (at most %d)", total - n,
		    TOP_MAX_QUEUES);
		line_end(tty);
	}
	if (tty)
		fputs("\033[J", stdout);
	else
		putchar('\n');
	fflush(stdout);
}

static json_t *
frame_json(const struct qrow *rows, size_t n, const char *problem)
{
	static const char *const names[5] = { "enqueued", "completed", "failed",
	    "retried", "dead_lettered" };
	json_t *o, *arr, *q, *rates;
	struct timespec ts;
	size_t i;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct qrow *r = &rows[i];

		if (!r->ok)
			continue;
		q = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "queue", r->name,
		    "ready", (json_int_t)r->s.ready_total,
		    "delayed", (json_int_t)r->s.delayed,
		    "leased", (json_int_t)r->s.leased,
		    "dlq", (json_int_t)r->s.dlq,
		    "oldest_ready_ms", (json_int_t)r->s.oldest_ready_ms,
		    "outbox", (json_int_t)r->s.outbox,
		    "callbacks_dlq", (json_int_t)r->s.callbacks_dlq);
		if (q == NULL)
			continue;
		if (r->have_prev && (rates = json_object()) != NULL) {
			for (k = 0; k < 5; k++)
				json_object_set_new(rates, names[k],
				    json_real(r->rate[k]));
			json_object_set_new(q, "rates", rates);
		}
		json_array_append_new(arr, q);
	}
	o = json_pack("{s:I, s:o}", "time_ms",
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "queues", arr);
	if (o != NULL && problem != NULL)
		json_object_set_new(o, "error", json_string(problem));
	return o;
}

/* The queues to show: those given, or every known queue (bounded). */
static int
queue_names(struct cli *cli, char **given, size_t ngiven, char ***names,
    size_t *n, size_t *total, codeq_error *err)
{
	int rc;

	if (ngiven > 0) {
		*names = given;
		*n = *total = ngiven;
		return CODEQ_OK;
	}
	if ((rc = codeq_queues(cli->c, names, n, err)) != CODEQ_OK)
		return rc;
	*total = *n;
	return CODEQ_OK;
}

static int
top_loop(struct cli *cli, char **given, size_t ngiven, double interval,
    long iterations)
{
	struct qrow *rows = NULL;
	size_t nrows = 0, n, total, i;
	char **names;
	codeq_error err;
	double last = 0, now;
	long frame = 0;
	int tty = !cli->json && isatty(STDOUT_FILENO);
	int rc, status = 0;

	if (tty)
		fputs("\033[?25l\033[H\033[2J", stdout);	/* hide cursor, clear */
	while (!stop && (iterations == 0 || frame < iterations)) {
		const char *problem = NULL;

		if (frame > 0)
			nap(interval - (mono_s() - last));
		if (stop)
			break;
		now = mono_s();
		rc = queue_names(cli, given, ngiven, &names, &n, &total, &err);
		if (rc == CODEQ_OK) {
			size_t keep = n < TOP_MAX_QUEUES ? n : TOP_MAX_QUEUES;
			char **sorted = names;

			if (rows_sync(&rows, &nrows, sorted, keep) != 0) {
				if (names != given)
					codeq_strv_free(names, n);
				status = cli_error(cli, EX_OSERR, "out of memory");
				break;
			}
			if (names != given)
				codeq_strv_free(names, n);
			if (sample(cli, rows, nrows, last > 0 ? now - last : 0,
			    &err) != CODEQ_OK)
				problem = err.msg;
		} else {
			/* Keep the last rows on screen; say what is wrong. */
			problem = err.msg;
			total = nrows;
		}
		last = now;
		if (cli->json) {
			if ((status = print_json(frame_json(rows, nrows,
			    problem))) != 0)
				break;
			fflush(stdout);
		} else
			draw(rows, nrows, total, tty, problem);
		frame++;
	}
	if (tty)
		fputs("\033[?25h", stdout);		/* cursor back */
	fflush(stdout);
	for (i = 0; i < nrows; i++)
		free(rows[i].name);
	free(rows);
	return status;
}

int
cmd_top(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct sigaction sa;
	int64_t interval_ms = 1000;
	long iterations = 0;
	int ch, done = 0, status, i;

	while ((ch = cli_getopt(cli, argc, argv, "i:n:", longopts, top_help,
	    &done)) != -1) {
		switch (ch) {
		case 'i':
			if (arg_duration(cli, "--interval", optarg,
			    &interval_ms) == -1)
				return EX_USAGE;
			if (interval_ms < 100)
				return cli_usage(cli, "--interval: at least 100ms");
			break;
		case 'n':
			if (arg_long(cli, "--iterations", optarg, 1, 1000000000,
			    &iterations) == -1)
				return EX_USAGE;
			break;
		default:
			return EX_USAGE;
		}
	}
	if (done)
		return EX_OK;
	for (i = optind; i < argc; i++)
		if (arg_queue(cli, "QUEUE", argv[i]) == -1)
			return EX_USAGE;
	if (argc - optind > TOP_MAX_QUEUES)
		return cli_usage(cli, "at most %d queues", TOP_MAX_QUEUES);
	if ((status = cli_connect(cli)) != 0)
		return status;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: the nap ends */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return top_loop(cli, argv + optind, (size_t)(argc - optind),
	    interval_ms / 1000.0, iterations);
}
