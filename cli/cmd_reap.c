/*
 * cmd_reap.c - codeq reap [QUEUE...]: the housekeeping codeqd's timers do,
 * once, for deployments whose workers are scripts using the CLI (run it
 * from cron or a systemd timer): tasks whose lease expired go back to
 * their queue (or to the dead-letter queue after their last attempt), and
 * due delayed tasks become ready.  Every move is one atomic script, so
 * running it beside codeqd, or on several hosts, is harmless.
 */
#include "config.h"

#include <string.h>

#include "cli.h"

#define REAP_BATCH 1000

static const char reap_help[] =
"usage: codeq reap [QUEUE...] [--json]\n"
"\n"
"Requeues tasks whose lease expired (dead-letters them after their last\n"
"attempt) and makes due delayed tasks ready, in every QUEUE or in every\n"
"known queue.  codeqd does this continuously; this is for workers that\n"
"run without it.  Prints the counts per queue.\n";

/* Runs fn over the queue in bounded batches until it has nothing left. */
static int
drain(codeq_t *c, const char *queue,
    int (*fn)(codeq_t *, const char *, size_t, size_t *, codeq_error *),
    size_t *total, codeq_error *err)
{
	size_t n;
	int rc;

	*total = 0;
	do {
		n = 0;
		if ((rc = fn(c, queue, REAP_BATCH, &n, err)) != CODEQ_OK)
			return rc;
		*total += n;
	} while (n == REAP_BATCH);
	return CODEQ_OK;
}

static int
reap_queue(struct cli *cli, const char *queue, json_t *arr)
{
	codeq_error err;
	size_t reaped, promoted;
	int rc;

	if ((rc = drain(cli->c, queue, codeq_reap, &reaped, &err)) !=
	    CODEQ_OK ||
	    (rc = drain(cli->c, queue, codeq_promote, &promoted, &err)) !=
	    CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (arr != NULL)
		json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "queue",
		    queue, "reaped", (json_int_t)reaped, "promoted",
		    (json_int_t)promoted));
	else
		printf("%s: %zu reaped, %zu promoted\n", queue, reaped,
		    promoted);
	return 0;
}

int
cmd_reap(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	codeq_error err;
	json_t *arr = NULL;
	char **names = NULL;
	size_t n = 0, i;
	int ch, done = 0, rc, status;

	while ((ch = cli_getopt(cli, argc, argv, "", longopts, reap_help,
	    &done)) != -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (arg_queue(cli, "QUEUE", argv[i]) == -1)
			return EX_USAGE;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (optind == argc) {
		if ((rc = codeq_queues(cli->c, &names, &n, &err)) != CODEQ_OK)
			return cli_lib_error(cli, rc, &err);
	}
	if (cli->json && (arr = json_array()) == NULL)
		status = cli_error(cli, EX_OSERR, "out of memory");
	if (optind < argc)
		for (i = (size_t)optind; status == 0 && i < (size_t)argc; i++)
			status = reap_queue(cli, argv[i], arr);
	else
		for (i = 0; status == 0 && i < n; i++)
			status = reap_queue(cli, names[i], arr);
	codeq_strv_free(names, n);
	if (arr != NULL) {
		if (status == 0)
			return print_json(arr);
		json_decref(arr);
	}
	return status;
}
