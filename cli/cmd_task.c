/*
 * cmd_task.c - codeq get ID, codeq result ID [--wait DURATION]: a task by
 * its id alone (ids carry their queue: QUEUE:NUMBER).
 */
#include "config.h"

#include <string.h>

#include "cli.h"

static const char get_help[] =
"usage: codeq get ID [--json]\n"
"\n"
"Shows a task: status, attempts, lease, payload, result, last error.\n";

static const char result_help[] =
"usage: codeq result ID [--wait DURATION] [--json]\n"
"\n"
"Prints the result (JSON) of a completed task.  A task that ended failed\n"
"or dead-lettered prints its error and exits 1.  Without --wait a task\n"
"that has not finished exits 75 at once; with it, codeq waits up to\n"
"DURATION (250ms 30s 5m ...) for the task to finish, then exits 75.\n"
"  --json  print the whole task as one JSON object\n";

int
cmd_get(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	codeq_task *t;
	codeq_error err;
	int ch, done = 0, rc, status;

	while ((ch = cli_getopt(cli, argc, argv, "", longopts, get_help,
	    &done)) != -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	if (arg_one_task_id(cli, argc, argv) == -1)
		return EX_USAGE;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if ((rc = codeq_get(cli->c, argv[optind], &t, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json)
		status = print_json(task_to_json(t));
	else
		print_task(stdout, t);
	codeq_task_free(t);
	return status;
}

int
cmd_result(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	codeq_task *t;
	codeq_error err;
	int64_t wait_ms = 0;
	int ch, done = 0, rc, status;

	while ((ch = cli_getopt(cli, argc, argv, "w:", longopts, result_help,
	    &done)) != -1) {
		if (ch != 'w')
			return EX_USAGE;
		if (arg_duration(cli, "--wait", optarg, &wait_ms) == -1)
			return EX_USAGE;
	}
	if (done)
		return EX_OK;
	if (arg_one_task_id(cli, argc, argv) == -1)
		return EX_USAGE;
	if ((status = cli_connect(cli)) != 0)
		return status;
	rc = codeq_result(cli->c, argv[optind], wait_ms, &t, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	status = t->status == CODEQ_COMPLETED ? EX_OK : EX_TASK_FAILED;
	if (cli->json) {
		int st = print_json(task_to_json(t));

		if (st != 0)
			status = st;
	} else if (t->status == CODEQ_COMPLETED)
		puts(t->result != NULL && *t->result != '\0' ? t->result :
		    "null");
	else
		cli_error(cli, 0, "%s %s after %d attempts: %s", t->id,
		    codeq_status_name(t->status), t->attempts,
		    t->error != NULL && *t->error != '\0' ? t->error :
		    "(no error text)");
	codeq_task_free(t);
	return status;
}
