/*
 * callbacks.c - codeq callbacks dlq list|replay|purge QUEUE: result
 * callbacks that could not be delivered (docs/webhooks.md).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char callbacks_help[] =
"usage: codeq callbacks dlq list QUEUE [--offset N] [--limit N] [--json]\n"
"       codeq callbacks dlq replay QUEUE [ITEM] [--limit N] [--json]\n"
"       codeq callbacks dlq purge QUEUE [ITEM] [--json]\n"
"\n"
"list     result callbacks of QUEUE's tasks that were not delivered, with\n"
"         the last HTTP status and error (default --limit 100)\n"
"replay   sends them again (a new round of attempts, the same webhook-id):\n"
"         ITEM, or the oldest N (--limit), or all of them\n"
"purge    deletes ITEM, or every item\n";

static json_t *
cb_to_json(const codeq_callback *cb)
{
	char created[40], dead[40];

	format_time(cb->created_at, created, sizeof(created));
	format_time(cb->dead_at, dead, sizeof(dead));
	return json_pack("{s:I, s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s}",
	    "item", (json_int_t)cb->item, "taskId", cb->task_id,
	    "url", cb->url, "status", cb->status, "deliveries", cb->deliveries,
	    "lastStatus", (json_int_t)cb->last_status,
	    "lastError", cb->last_error, "createdAt", created,
	    "deadAt", dead);
}

static json_t *
cb_at(const void *v, size_t i)
{
	return cb_to_json(&((const codeq_callback *)v)[i]);
}

static int
list(struct cli *cli, const char *queue, long offset, long limit)
{
	codeq_callback *v;
	codeq_error err;
	size_t n, i;
	int rc;

	rc = codeq_callbacks_dlq_list(cli->c, queue, (size_t)offset,
	    (size_t)limit, &v, &n, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json) {
		rc = print_json_array(v, n, cb_at);
		codeq_callbacks_free(v, n);
		return rc;
	}
	for (i = 0; i < n; i++)
		printf("%" PRId64 "\t%s\t%s\tdeliveries=%d\tlast_status=%"
		    PRId64 "\t%s\n", v[i].item, v[i].task_id, v[i].url,
		    v[i].deliveries, v[i].last_status, v[i].last_error);
	codeq_callbacks_free(v, n);
	return 0;
}

int
cmd_callbacks(struct cli *cli, int argc, char **argv)
{
	static const char *const subs[] = { "list", "replay", "purge", NULL };
	const char *sub, *queue;
	long offset, limit, item = 0;
	codeq_error err;
	size_t count = 0;
	int done = 0, status, rc, nargs;

	if ((status = cli_list_options(cli, argc, argv, callbacks_help,
	    &offset, &limit, &done)) != 0)
		return status;
	if (done)
		return EX_OK;
	nargs = argc - optind;
	if (arg_count(cli, nargs, 3, 4, "dlq list|replay|purge QUEUE") == -1)
		return EX_USAGE;
	if (strcmp(argv[optind], "dlq") != 0)
		return cli_usage(cli, "%s: unknown (dlq)", argv[optind]);
	sub = argv[optind + 1];
	queue = argv[optind + 2];
	if (arg_subcommand(cli, sub, subs) == -1)
		return EX_USAGE;
	if (arg_queue(cli, "QUEUE", queue) == -1)
		return EX_USAGE;
	if (nargs == 4) {
		if (strcmp(sub, "list") == 0)
			return cli_usage(cli, "list takes no ITEM");
		if (arg_long(cli, "ITEM", argv[optind + 3], 1, 1000000000000L,
		    &item) == -1)
			return EX_USAGE;
	}
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (strcmp(sub, "list") == 0)
		return list(cli, queue, offset, limit > 0 ? limit : 100);
	if (strcmp(sub, "replay") == 0)
		rc = codeq_callbacks_dlq_replay(cli->c, queue, item,
		    limit > 0 ? (size_t)limit : 0, &count, &err);
	else
		rc = codeq_callbacks_dlq_purge(cli->c, queue, item, &count,
		    &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	return print_count(cli, queue, strcmp(sub, "purge") == 0 ? "purged" :
	    "replayed", count);
}
