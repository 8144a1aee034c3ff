/*
 * cmd_fsck.c - codeq fsck [--repair] [QUEUE]: checks invariant 2 of the
 * storage protocol (every live task in exactly one place: a ready list,
 * the delayed set, the lease set or the dead-letter queue; or terminal
 * with its result) and repairs what it finds with --repair.
 */
#include "config.h"

#include <string.h>

#include "cli.h"

static const char fsck_help[] =
"usage: codeq fsck [--repair] [QUEUE] [--json]\n"
"\n"
"Reports each task found in two places or in none, and other damage\n"
"(dangling ids, a status that does not match the place).  --repair fixes\n"
"each one.  Exits 0 when nothing is (left) wrong, 65 when problems remain.\n"
"Without QUEUE: every known queue.\n";

struct fsck_out {
	struct cli *cli;
	json_t *problems;
	size_t repaired;
};

static void
report(void *arg, const char *queue, const char *id, const char *problem,
    int repaired)
{
	struct fsck_out *o = arg;

	if (repaired)
		o->repaired++;
	if (o->cli->json) {
		json_array_append_new(o->problems, json_pack("{s:s, s:s?, s:s, "
		    "s:b}", "queue", queue, "id", id, "problem", problem,
		    "repaired", repaired));
		return;
	}
	/* An id names its queue already. */
	printf("%s: %s%s\n", id != NULL ? id : queue, problem,
	    repaired ? " (repaired)" : "");
}

int
cmd_fsck(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "repair", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct fsck_out o;
	codeq_error err;
	const char *queue = NULL;
	size_t problems = 0;
	int ch, done = 0, repair = 0, rc, status;

	while ((ch = cli_getopt(cli, argc, argv, "r", longopts, fsck_help,
	    &done)) != -1) {
		if (ch != 'r')
			return EX_USAGE;
		repair = 1;
	}
	if (done)
		return EX_OK;
	if (arg_count(cli, argc - optind, 0, 1, "at most one QUEUE") == -1)
		return EX_USAGE;
	if (optind < argc) {
		queue = argv[optind];
		if (arg_queue(cli, "QUEUE", queue) == -1)
			return EX_USAGE;
	}
	if ((status = cli_connect(cli)) != 0)
		return status;
	memset(&o, 0, sizeof(o));
	o.cli = cli;
	if (cli->json && (o.problems = json_array()) == NULL)
		return cli_error(cli, EX_OSERR, "out of memory");
	rc = codeq_fsck(cli->c, queue, repair, report, &o, &problems, &err);
	if (rc != CODEQ_OK) {
		json_decref(o.problems);
		return cli_lib_error(cli, rc, &err);
	}
	if (cli->json)
		status = print_json(json_pack("{s:I, s:I, s:o}", "problems",
		    (json_int_t)problems, "repaired", (json_int_t)o.repaired,
		    "items", o.problems));
	else
		printf("%zu problems, %zu repaired\n", problems, o.repaired);
	if (status == 0 && problems > o.repaired)
		status = EX_DATAERR;
	return status;
}
