/*
 * bulk.c - codeq enqueue QUEUE --bulk FILE|-: JSON Lines, one task object
 * per line, enqueued in pipelined chunks with codeq_enqueue_batch.
 *
 * A bad line (not JSON, an unknown field, a value out of range, or one the
 * store refuses) is reported by its number and skipped; every good line is
 * still enqueued, and the exit status says that some were not (65).  Lines
 * are read as they come, so a file of any length runs in constant memory.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BULK_CHUNK 1000		/* tasks per pipelined round */
#define BULK_REPORT_MAX 1000	/* bad lines reported one by one */
#define BULK_LINE_SLACK (64 * 1024)	/* a line's room beyond its payload */

struct bulk_item {
	codeq_task_spec spec;
	json_t *obj;		/* owns the strings spec points into */
	char *payload;		/* compact JSON text */
	long line;
};

/* A bad line found while tasks before it wait in the chunk: reported
 * after the chunk is sent, merged with the store's refusals, so that the
 * reports come out in line order. */
struct bad_report {
	long line;
	char msg[240];
};

struct bulk {
	struct cli *cli;
	struct bad_report held[BULK_CHUNK];
	size_t nheld;
	long shown;		/* reports printed, at most BULK_REPORT_MAX */
	const char *queue;
	struct bulk_item items[BULK_CHUNK];
	codeq_task_spec specs[BULK_CHUNK];
	codeq_enqueue_result results[BULK_CHUNK];
	size_t n;
	long lines, enqueued, duplicates, bad;
	/* progress bar (stderr is a terminal) */
	int progress;
	off_t total_bytes, done_bytes;
	struct timespec last_draw;
};

static void
progress_clear(struct bulk *b)
{
	if (b->progress)
		fputs("\r\033[K", stderr);
}

static void
progress_draw(struct bulk *b, int force)
{
	struct timespec now;
	int64_t ms;
	char bar[31];
	int pct, i;

	if (!b->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - b->last_draw.tv_sec) * 1000 +
	    (now.tv_nsec - b->last_draw.tv_nsec) / 1000000;
	if (!force && ms < 100)
		return;
	b->last_draw = now;
	if (b->total_bytes > 0) {
		pct = (int)(b->done_bytes * 100 / b->total_bytes);
		if (pct > 100)
			pct = 100;
		for (i = 0; i < 30; i++)
			bar[i] = i < pct * 30 / 100 ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r\033[Kenqueue [%s] %3d%%  %ld lines, %ld "
		    "enqueued, %ld bad", bar, pct, b->lines, b->enqueued, b->bad);
	} else
		fprintf(stderr, "\r\033[Kenqueue %ld lines, %ld enqueued, %ld bad",
		    b->lines, b->enqueued, b->bad);
}

static void
emit(struct bulk *b, long line, const char *msg)
{
	if (++b->shown > BULK_REPORT_MAX)
		return;
	progress_clear(b);
	fprintf(stderr, "codeq: enqueue: line %ld: %s\n", line, msg);
}

static void
bad_line(struct bulk *b, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bad_line(struct bulk *b, long line, const char *fmt, ...)
{
	struct bad_report *r;
	char msg[sizeof(r->msg)];
	va_list ap;

	b->bad++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->n == 0 || b->nheld == BULK_CHUNK) {
		emit(b, line, msg);
		return;
	}
	r = &b->held[b->nheld++];
	r->line = line;
	memcpy(r->msg, msg, sizeof(msg));
}

/* A duration: "30s" or a number of seconds. */
static int
json_duration(json_t *v, int64_t *out)
{
	if (json_is_string(v))
		return parse_duration_ms(json_string_value(v), out);
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= INT64_MAX / 1000) {
		*out = json_integer_value(v) * 1000;
		return 0;
	}
	return -1;
}

static int
json_time(json_t *v, int64_t *out)
{
	if (json_is_string(v))
		return parse_time_ms(json_string_value(v), out);
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= INT64_MAX / 1000) {
		*out = json_integer_value(v) * 1000;
		return 0;
	}
	return -1;
}

static const char *
json_str(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Fills it from one line; on a bad line reports it and returns -1. */
static int
parse_line(struct bulk *b, char *text, size_t len, long line,
    struct bulk_item *it)
{
	json_error_t jerr;
	const char *key;
	json_t *o, *v;

	memset(it, 0, sizeof(*it));
	it->line = line;
	it->spec.queue = b->queue;
	if ((o = json_loadb(text, len, 0, &jerr)) == NULL) {
		bad_line(b, line, "not valid JSON: %s (column %d)", jerr.text,
		    jerr.column);
		return -1;
	}
	it->obj = o;
	if (!json_is_object(o)) {
		bad_line(b, line, "must be a JSON object, one task per line");
		goto bad;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "payload") == 0) {
			it->payload = json_dumps(v, JSON_COMPACT |
			    JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
			if (it->payload == NULL) {
				bad_line(b, line, "payload: out of memory");
				goto bad;
			}
			it->spec.payload = it->payload;
		} else if (strcmp(key, "priority") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 9) {
				char *s = json_dumps(v, JSON_ENCODE_ANY);

				bad_line(b, line, "priority: must be 0-9, got %s",
				    s ? s : "?");
				free(s);
				goto bad;
			}
			it->spec.priority = (int)json_integer_value(v);
		} else if (strcmp(key, "delay") == 0) {
			if (json_duration(v, &it->spec.delay_ms) == -1) {
				bad_line(b, line, "delay: must be a duration like "
				    "\"30s\" or a number of seconds");
				goto bad;
			}
		} else if (strcmp(key, "at") == 0) {
			if (json_time(v, &it->spec.at_ms) == -1) {
				bad_line(b, line, "at: must be an RFC 3339 time "
				    "or epoch seconds");
				goto bad;
			}
		} else if (strcmp(key, "max_attempts") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 1000) {
				bad_line(b, line, "max_attempts: must be 1-1000");
				goto bad;
			}
			it->spec.max_attempts = (int)json_integer_value(v);
		} else if (strcmp(key, "idempotency_key") == 0 ||
		    strcmp(key, "webhook") == 0 ||
		    strcmp(key, "traceparent") == 0 ||
		    strcmp(key, "queue") == 0) {
			const char *s = json_str(v);

			if (s == NULL) {
				bad_line(b, line, "%s: must be a string", key);
				goto bad;
			}
			if (key[0] == 'i')
				it->spec.idempotency_key = s;
			else if (key[0] == 'w')
				it->spec.webhook = s;
			else if (key[0] == 't')
				it->spec.traceparent = s;
			else if (!codeq_queue_name_valid(s)) {
				bad_line(b, line, "queue: invalid queue name "
				    "'%.100s'", s);
				goto bad;
			} else
				it->spec.queue = s;
		} else {
			bad_line(b, line, "unknown field '%.60s' (known: payload, "
			    "priority, delay, at, max_attempts, idempotency_key, "
			    "webhook, traceparent, queue)", key);
			goto bad;
		}
	}
	if (it->spec.delay_ms > 0 && it->spec.at_ms > 0) {
		bad_line(b, line, "delay and at: give one");
		goto bad;
	}
	return 0;
bad:
	json_decref(it->obj);
	free(it->payload);
	it->obj = NULL;
	it->payload = NULL;
	return -1;
}

static void
items_free(struct bulk *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		json_decref(b->items[i].obj);
		free(b->items[i].payload);
	}
	b->n = 0;
}

/* Sends the chunk; returns 0, or the exit status when the store failed. */
static int
flush(struct bulk *b)
{
	codeq_error err;
	size_t i;
	int rc;

	size_t h = 0;

	if (b->n == 0)
		return 0;
	for (i = 0; i < b->n; i++)
		b->specs[i] = b->items[i].spec;
	rc = codeq_enqueue_batch(b->cli->c, b->specs, b->n, b->results, &err);
	for (i = 0; i < b->n; i++) {
		const codeq_enqueue_result *r = &b->results[i];

		while (h < b->nheld && b->held[h].line < b->items[i].line) {
			emit(b, b->held[h].line, b->held[h].msg);
			h++;
		}
		if (r->status == CODEQ_OK) {
			if (r->duplicate)
				b->duplicates++;
			else
				b->enqueued++;
		} else if (r->status != CODEQ_ESTORE) {
			b->bad++;
			emit(b, b->items[i].line, r->msg[0] ? r->msg :
			    codeq_strerror(r->status));
		}
	}
	for (; h < b->nheld; h++)
		emit(b, b->held[h].line, b->held[h].msg);
	b->nheld = 0;
	if (rc != CODEQ_OK) {
		progress_clear(b);
		cli_error(b->cli, 0, "lines %ld-%ld: outcome unknown: %s",
		    b->items[0].line, b->items[b->n - 1].line, err.msg);
		items_free(b);
		return cli_exit_status(rc);
	}
	items_free(b);
	return 0;
}

static int
summary(struct bulk *b)
{
	progress_clear(b);
	if (b->shown > BULK_REPORT_MAX)
		cli_error(b->cli, 0, "%ld more bad lines not shown",
		    b->shown - BULK_REPORT_MAX);
	if (b->cli->json)
		return print_json(json_pack("{s:I, s:I, s:I, s:I}", "lines",
		    (json_int_t)b->lines, "enqueued", (json_int_t)b->enqueued,
		    "duplicates", (json_int_t)b->duplicates, "bad",
		    (json_int_t)b->bad));
	printf("%ld enqueued, %ld duplicates, %ld bad lines (of %ld)\n",
	    b->enqueued, b->duplicates, b->bad, b->lines);
	return 0;
}

/*
 * Reads one line (the newline not kept) into *buf, keeping at most max
 * bytes: the rest of a longer line is read and dropped, and *too_long is
 * set, so that one endless line cannot take all memory.  Returns the
 * bytes the line took in the file (0 at the end).
 */
static size_t
read_line(FILE *f, char **buf, size_t *cap, size_t max, size_t *len,
    int *too_long)
{
	size_t n = 0, took = 0;
	int ch;

	*too_long = 0;
	*len = 0;
	if (*buf == NULL) {
		if ((*buf = malloc(4096)) == NULL)
			return 0;
		*cap = 4096;
	}
	while ((ch = getc_unlocked(f)) != EOF) {
		took++;
		if (ch == '\n')
			break;
		if (*too_long)
			continue;	/* dropping the rest of the line */
		if (n >= max) {
			*too_long = 1;
			continue;
		}
		if (n + 1 >= *cap) {
			size_t ncap = *cap * 2 > max + 1 ? max + 1 : *cap * 2;
			char *nb;

			/* No memory for this line: reported as too long. */
			if ((nb = realloc(*buf, ncap)) == NULL) {
				*too_long = 1;
				continue;
			}
			*buf = nb;
			*cap = ncap;
		}
		(*buf)[n++] = (char)ch;
	}
	(*buf)[n] = '\0';	/* n < *cap: room was made before each byte */
	*len = n;
	return took;
}

int
enqueue_bulk(struct cli *cli, const char *queue, const char *path)
{
	struct bulk *b;
	struct stat st;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, took, n, max;
	int status, too_long;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return cli_error(cli, EX_OSERR, "out of memory");
	b->cli = cli;
	b->queue = queue;
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		status = cli_error(cli, EX_NOINPUT, "--bulk: %s: %s", path,
		    strerror(errno));
		free(b);
		return status;
	}
	if ((status = cli_connect(cli)) != 0)
		goto out;
	b->progress = isatty(2);
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		b->total_bytes = st.st_size;
	/* A line holds a payload of at most max_payload (compacted: allow
	 * it twice for whitespace) and a few short fields. */
	max = cli->cfg.store.max_payload * 2 + BULK_LINE_SLACK;
	while ((took = read_line(f, &line, &cap, max, &n, &too_long)) > 0) {
		b->lines++;
		b->done_bytes += (off_t)took;
		while (n > 0 && line[n - 1] == '\r')
			n--;
		if (too_long)
			bad_line(b, b->lines, "longer than %zu bytes", max);
		else if (strspn(line, " \t") == n)
			continue;	/* blank lines are allowed */
		else if (parse_line(b, line, n, b->lines,
		    &b->items[b->n]) == 0)
			b->n++;
		/* A full chunk, or as many bad lines held as it has room. */
		if ((b->n == BULK_CHUNK || b->nheld == BULK_CHUNK) &&
		    (status = flush(b)) != 0)
			break;
		progress_draw(b, 0);
	}
	if (status == 0 && ferror(f))
		status = cli_error(cli, EX_IOERR, "--bulk: %s: read error", path);
	if (status == 0)
		status = flush(b);
	progress_draw(b, 1);
	summary(b);
	if (status == 0 && b->bad > 0)
		status = EX_DATAERR;
out:
	items_free(b);
	free(line);
	if (f != stdin)
		fclose(f);
	free(b);
	return status;
}
