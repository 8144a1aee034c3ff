/*
 * cmd_stats.c - codeq stats [QUEUE]: ready tasks per priority, delayed,
 * leased, dead-lettered, the counters, and the result callbacks waiting;
 * every known queue when no QUEUE is given.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "cli.h"

static const char stats_help[] =
"usage: codeq stats [QUEUE] [--json]\n"
"\n"
"Shows a queue's ready tasks (per priority), delayed, leased and\n"
"dead-lettered tasks, its counters (enqueued, claimed, completed, failed,\n"
"retried, dead_lettered) and its result callbacks (outbox, callbacks_dlq).\n"
"Without QUEUE: one line per known queue.\n"
"  --json  one JSON object (with QUEUE) or {\"queues\": [...]}\n";

static json_t *
stats_to_json(const char *queue, const codeq_stats *s)
{
	json_t *o, *ready;
	int p;

	if ((ready = json_array()) == NULL)
		return NULL;
	for (p = 0; p < 10; p++)
		json_array_append_new(ready, json_integer(s->ready[p]));
	o = json_pack("{s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:I, s:I, s:I, s:I}",
	    "queue", queue,
	    "ready", (json_int_t)s->ready_total,
	    "ready_by_priority", ready,
	    "delayed", (json_int_t)s->delayed,
	    "leased", (json_int_t)s->leased,
	    "dlq", (json_int_t)s->dlq,
	    "enqueued", (json_int_t)s->enqueued,
	    "claimed", (json_int_t)s->claimed,
	    "completed", (json_int_t)s->completed,
	    "failed", (json_int_t)s->failed,
	    "retried", (json_int_t)s->retried,
	    "dead_lettered", (json_int_t)s->dead_lettered,
	    "outbox", (json_int_t)s->outbox,
	    "callbacks_dlq", (json_int_t)s->callbacks_dlq,
	    "oldest_ready_ms", (json_int_t)s->oldest_ready_ms);
	return o;
}

static void
print_one(const char *queue, const codeq_stats *s)
{
	char age[32];
	int p, any = 0;

	printf("%-15s %s\n", "queue:", queue);
	printf("%-15s %" PRId64, "ready:", s->ready_total);
	for (p = 9; p >= 0; p--) {
		if (s->ready[p] == 0)
			continue;
		printf("%sp%d=%" PRId64, any ? ", " : " (", p, s->ready[p]);
		any = 1;
	}
	puts(any ? ")" : "");
	printf("%-15s %" PRId64 "\n", "delayed:", s->delayed);
	printf("%-15s %" PRId64 "\n", "leased:", s->leased);
	printf("%-15s %" PRId64 "\n", "dlq:", s->dlq);
	printf("%-15s %" PRId64 "\n", "enqueued:", s->enqueued);
	printf("%-15s %" PRId64 "\n", "claimed:", s->claimed);
	printf("%-15s %" PRId64 "\n", "completed:", s->completed);
	printf("%-15s %" PRId64 "\n", "failed:", s->failed);
	printf("%-15s %" PRId64 "\n", "retried:", s->retried);
	printf("%-15s %" PRId64 "\n", "dead_lettered:", s->dead_lettered);
	printf("%-15s %" PRId64 "\n", "outbox:", s->outbox);
	printf("%-15s %" PRId64 "\n", "callbacks_dlq:", s->callbacks_dlq);
	format_duration(s->oldest_ready_ms, age, sizeof(age));
	printf("%-15s %s\n", "oldest_ready:", s->oldest_ready_ms > 0 ? age : "-");
}

static void
print_row(const char *queue, const codeq_stats *s)
{
	printf("%-20s %8" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64
	    " %10" PRId64 " %10" PRId64 " %8" PRId64 " %8" PRId64 "\n", queue,
	    s->ready_total, s->delayed, s->leased, s->dlq, s->enqueued,
	    s->completed, s->failed, s->dead_lettered);
}

static int
stats_all(struct cli *cli)
{
	codeq_stats s;
	codeq_error err;
	json_t *arr = NULL;
	char **names = NULL;
	size_t n = 0, i;
	int rc, status = 0;

	if ((rc = codeq_queues(cli->c, &names, &n, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json && (arr = json_array()) == NULL) {
		codeq_strv_free(names, n);
		return cli_error(cli, EX_OSERR, "out of memory");
	}
	if (!cli->json)
		printf("%-20s %8s %8s %8s %8s %10s %10s %8s %8s\n", "QUEUE",
		    "READY", "DELAYED", "LEASED", "DLQ", "ENQUEUED",
		    "COMPLETED", "FAILED", "DEAD");
	for (i = 0; i < n; i++) {
		if ((rc = codeq_stats_get(cli->c, names[i], &s, &err)) !=
		    CODEQ_OK) {
			status = cli_lib_error(cli, rc, &err);
			break;
		}
		if (cli->json)
			json_array_append_new(arr, stats_to_json(names[i], &s));
		else
			print_row(names[i], &s);
	}
	codeq_strv_free(names, n);
	if (cli->json) {
		if (status != 0) {
			json_decref(arr);
			return status;
		}
		return print_json(json_pack("{s:o}", "queues", arr));
	}
	return status;
}

int
cmd_stats(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	codeq_stats s;
	codeq_error err;
	int ch, done = 0, rc, status;

	while ((ch = cli_getopt(cli, argc, argv, "", longopts, stats_help,
	    &done)) != -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	if (arg_count(cli, argc - optind, 0, 1, "at most one QUEUE") == -1)
		return EX_USAGE;
	if (optind < argc && arg_queue(cli, "QUEUE", argv[optind]) == -1)
		return EX_USAGE;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (optind == argc)
		return stats_all(cli);
	if ((rc = codeq_stats_get(cli->c, argv[optind], &s, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json)
		return print_json(stats_to_json(argv[optind], &s));
	print_one(argv[optind], &s);
	return 0;
}
