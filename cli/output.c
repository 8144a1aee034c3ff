/*
 * output.c - how the codeq command shows tasks: "key: value" lines for
 * people, one compact JSON object per line with --json for programs.
 * Payloads and results are JSON, so --json embeds them as values, not as
 * strings; times are epoch milliseconds there and RFC 3339 for people.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "utf8.h"

void
format_time(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		snprintf(buf, len, "-");
	else
		format_rfc3339_ms(ms, buf, len);
}

json_t *
json_from_text(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

	return j != NULL ? j : json_string_lossy(text);
}

static void
set_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL && *v != '\0')
		json_object_set_new(o, k, json_string_lossy(v));
}

static void
set_time(json_t *o, const char *k, int64_t v)
{
	if (v > 0)
		json_object_set_new(o, k, json_integer(v));
}

json_t *
task_to_json(const codeq_task *t)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	set_str(o, "id", t->id);
	set_str(o, "queue", t->queue);
	json_object_set_new(o, "status",
	    json_string(codeq_status_name(t->status)));
	json_object_set_new(o, "priority", json_integer(t->priority));
	json_object_set_new(o, "attempts", json_integer(t->attempts));
	json_object_set_new(o, "max_attempts", json_integer(t->max_attempts));
	set_time(o, "created_at", t->created_at);
	set_time(o, "due_at", t->due_at);
	set_time(o, "completed_at", t->completed_at);
	set_str(o, "lease_token", t->lease_token);
	set_time(o, "lease_until", t->lease_until);
	set_str(o, "worker", t->worker);
	if (t->payload != NULL)
		json_object_set_new(o, "payload", json_from_text(t->payload));
	if (t->result != NULL && *t->result != '\0')
		json_object_set_new(o, "result", json_from_text(t->result));
	set_str(o, "error", t->error);
	set_str(o, "webhook", t->webhook);
	set_str(o, "traceparent", t->traceparent);
	set_str(o, "idempotency_key", t->idempotency_key);
	return o;
}

static void
line_str(FILE *f, const char *k, const char *v)
{
	if (v != NULL && *v != '\0')
		fprintf(f, "%-16s %s\n", k, v);
}

static void
line_time(FILE *f, const char *k, int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return;
	format_time(ms, buf, sizeof(buf));
	fprintf(f, "%-16s %s\n", k, buf);
}

void
print_task(FILE *f, const codeq_task *t)
{
	line_str(f, "id:", t->id);
	line_str(f, "queue:", t->queue);
	line_str(f, "status:", codeq_status_name(t->status));
	fprintf(f, "%-16s %d\n", "priority:", t->priority);
	fprintf(f, "%-16s %d of %d\n", "attempts:", t->attempts,
	    t->max_attempts);
	line_time(f, "created_at:", t->created_at);
	line_time(f, "due_at:", t->due_at);
	line_str(f, "lease_token:", t->lease_token);
	line_time(f, "lease_until:", t->lease_until);
	line_str(f, "worker:", t->worker);
	line_time(f, "completed_at:", t->completed_at);
	line_str(f, "webhook:", t->webhook);
	line_str(f, "traceparent:", t->traceparent);
	line_str(f, "idempotency_key:", t->idempotency_key);
	line_str(f, "payload:", t->payload);
	line_str(f, "result:", t->result);
	line_str(f, "error:", t->error);
}

int
print_json_array(const void *items, size_t n,
    json_t *(*to_json)(const void *items, size_t i))
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, to_json(items, i)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	return print_json(arr);
}

int
print_count(struct cli *cli, const char *queue, const char *what,
    size_t count)
{
	if (cli->json)
		return print_json(json_pack("{s:s, s:I}", "queue", queue, what,
		    (json_int_t)count));
	printf("%zu %s\n", count, what);
	return 0;
}

int
print_json(json_t *j)
{
	char *s;

	if (j == NULL) {
		fputs("codeq: out of memory\n", stderr);
		return EX_OSERR;
	}
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL) {
		fputs("codeq: out of memory\n", stderr);
		return EX_OSERR;
	}
	puts(s);
	free(s);
	return 0;
}
