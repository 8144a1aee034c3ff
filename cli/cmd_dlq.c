/*
 * cmd_dlq.c - codeq dlq list|requeue|purge QUEUE: the dead-letter queue,
 * where tasks go after their last attempt.
 */
#include "config.h"

#include <string.h>

#include "cli.h"

static const char dlq_help[] =
"usage: codeq dlq list QUEUE [--offset N] [--limit N] [--json]\n"
"       codeq dlq requeue QUEUE [ID] [--limit N] [--json]\n"
"       codeq dlq purge QUEUE [--json]\n"
"\n"
"list     the dead-lettered tasks, oldest first (default --limit 100)\n"
"requeue  makes them ready again with their attempts reset: the task ID,\n"
"         or the oldest N (--limit), or all of them\n"
"purge    deletes every dead-lettered task of QUEUE\n";

static json_t *
task_at(const void *tasks, size_t i)
{
	return task_to_json(((codeq_task *const *)tasks)[i]);
}

static int
dlq_list(struct cli *cli, const char *queue, long offset, long limit)
{
	codeq_task **tasks = NULL;
	codeq_error err;
	size_t n = 0, i;
	int rc;

	rc = codeq_dlq_list(cli->c, queue, (size_t)offset, (size_t)limit,
	    &tasks, &n, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json) {
		rc = print_json_array(tasks, n, task_at);
		codeq_tasks_free(tasks, n);
		return rc;
	}
	for (i = 0; i < n; i++) {
		const codeq_task *t = tasks[i];

		printf("%s\tattempts=%d/%d\t%s\n", t->id, t->attempts,
		    t->max_attempts, t->error != NULL ? t->error : "");
	}
	codeq_tasks_free(tasks, n);
	return 0;
}

int
cmd_dlq(struct cli *cli, int argc, char **argv)
{
	static const char *const subs[] = { "list", "requeue", "purge", NULL };
	codeq_error err;
	const char *sub, *queue, *id = NULL;
	long offset, limit;
	size_t count = 0;
	int done = 0, rc, status, nargs;

	if ((status = cli_list_options(cli, argc, argv, dlq_help, &offset,
	    &limit, &done)) != 0)
		return status;
	if (done)
		return EX_OK;
	nargs = argc - optind;
	if (arg_count(cli, nargs, 1, -1, "list, requeue or purge") == -1)
		return EX_USAGE;
	sub = argv[optind];
	if (arg_subcommand(cli, sub, subs) == -1)
		return EX_USAGE;
	if (arg_count(cli, nargs - 1, 1, strcmp(sub, "requeue") == 0 ? 2 : 1,
	    strcmp(sub, "requeue") == 0 ? "QUEUE [ID]" : "QUEUE") == -1)
		return EX_USAGE;
	queue = argv[optind + 1];
	if (arg_queue(cli, "QUEUE", queue) == -1)
		return EX_USAGE;
	if (nargs == 3) {
		id = argv[optind + 2];
		if (arg_task_id(cli, id) == -1)
			return EX_USAGE;
	}
	if (offset > 0 && strcmp(sub, "list") != 0)
		return cli_usage(cli, "--offset: only for dlq list");
	if (limit > 0 && strcmp(sub, "purge") == 0)
		return cli_usage(cli, "--limit: not for dlq purge (it purges "
		    "everything)");
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (strcmp(sub, "list") == 0)
		return dlq_list(cli, queue, offset, limit > 0 ? limit : 100);
	if (strcmp(sub, "requeue") == 0)
		rc = codeq_dlq_requeue(cli->c, queue, id, limit > 0 ?
		    (size_t)limit : 0, &count, &err);
	else
		rc = codeq_dlq_purge(cli->c, queue, &count, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	return print_count(cli, queue, strcmp(sub, "purge") == 0 ? "purged" :
	    "requeued", count);
}
