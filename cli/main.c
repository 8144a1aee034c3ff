/*
 * main.c - codeq COMMAND: the command-line client of the codeq task queue.
 *
 *   codeq [-c FILE] [--redis URL] COMMAND [ARGS...]
 *
 * Global options are read up to the command name; the command parses the
 * rest.  Every command has --help and --json.  Exit statuses follow
 * sysexits(3) and are listed in codeq(1).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/*
 * The command table.  To add a command (webhooks: subscribe,
 * subscriptions, callbacks; observability: top):
 *   1. write cli/cmd_NAME.c with `int cmd_NAME(struct cli *, int argc,
 *      char **argv)`: parse with cli_getopt (it handles --help and
 *      --json), call cli_connect, print with print_json when cli->json,
 *      report with cli_error / cli_lib_error (exit statuses: cli.h);
 *   2. add its prototype below and ONE line to the table;
 *   3. add the file to codeq_SOURCES in cli/Makefile.inc;
 *   4. document it in docs/codeq.1 (COMMANDS) and test it in a
 *      shell test of your part.
 */
/* Prototypes of commands that live outside cli.h go here. */
int cmd_top(struct cli *, int, char **);	/* cli/cmd_top.c */

static const struct cli_command commands[] = {
	{ "enqueue", "QUEUE [--payload JSON | --payload-file F | --bulk F] [...]",
	    "add a task (or many, from JSON Lines) to a queue", cmd_enqueue },
	{ "get", "ID", "show a task", cmd_get },
	{ "result", "ID [--wait DURATION]", "show a finished task's result",
	    cmd_result },
	{ "claim", "QUEUE... [--lease D] [--worker NAME] [--max N]",
	    "lease ready tasks (worker side)", cmd_claim },
	{ "heartbeat", "ID --token T [--lease D]", "extend a lease",
	    cmd_heartbeat },
	{ "complete", "ID --token T [--result JSON]", "finish a leased task",
	    cmd_complete },
	{ "fail", "ID --token T --error TEXT [--permanent]",
	    "report a failed attempt", cmd_fail },
	{ "nack", "ID --token T [--delay D] [--error TEXT]",
	    "give a leased task back for a retry", cmd_nack },
	{ "stats", "[QUEUE]", "queue depths and counters", cmd_stats },
	{ "dlq", "list|requeue|purge QUEUE", "the dead-letter queue", cmd_dlq },
	{ "fsck", "[--repair] [QUEUE]", "check that every task is in one place",
	    cmd_fsck },
	{ "reap", "[QUEUE...]", "requeue expired leases, promote due tasks",
	    cmd_reap },
	{ "subscribe", "QUEUE... --url URL [--ttl D] [--mode M] [...]",
	    "ask for WORK_AVAILABLE webhooks", cmd_subscribe },
	{ "subscriptions", "list|renew ID|remove ID", "WORK_AVAILABLE "
	    "subscriptions", cmd_subscriptions },
	{ "callbacks", "dlq list|replay|purge QUEUE",
	    "result callbacks that were not delivered", cmd_callbacks },
	{ "top", "[QUEUE...] [--interval D]", "live view of queues and rates",
	    cmd_top },
	{ "shard", "list|verify [QUEUE...]|move QUEUE --to STORE [--finish]",
	    "where queues live; move one between stores", cmd_shard },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cli_command *c;

	fputs("usage: codeq [-c FILE] [--redis URL] COMMAND [ARGS...]\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default " SYSCONFDIR
	    "/codeq.conf if it exists)\n"
	    "  --redis URL        store: redis://[[user][:password]@]host[:port][/db]\n"
	    "                     or unix://[[user][:password]@]/path[?db=N]\n"
	    "                     (else $CODEQ_REDIS_URL, else [store] url)\n"
	    "  -h, --help         this help; COMMAND --help for a command's\n"
	    "  -V, --version      print the version\n"
	    "\n"
	    "commands:\n", f);
	for (c = commands; c->name != NULL; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fputs("\nSee codeq(1).\n", f);
}

static const struct cli_command *
find_command(const char *name)
{
	const struct cli_command *c;

	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "redis", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cli_command *cmd;
	struct cli cli;
	int ch, status;

	memset(&cli, 0, sizeof(cli));
	opterr = 0;
	/* '+': stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli.config_path = optarg;
			cli.config_explicit = 1;
			break;
		case 'r':
			cli.redis_url = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("codeq %s\n", codeq_version());
			return EX_OK;
		case ':':
			return cli_usage(&cli, "%s: needs a value",
			    argv[optind - 1]);
		default:
			return cli_usage(&cli, "%s: unknown option",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		if (optind + 1 < argc && (cmd = find_command(argv[optind + 1]))) {
			char *hargv[] = { argv[optind + 1], "--help", NULL };

			cli.cmd = cmd->name;
			optind = 0;
			return cmd->run(&cli, 2, hargv);
		}
		usage(stdout);
		return EX_OK;
	}
	if ((cmd = find_command(argv[optind])) == NULL)
		return cli_usage(&cli, "%s: unknown command", argv[optind]);
	cli.cmd = cmd->name;
	argc -= optind;
	argv += optind;
	optind = 0;	/* glibc: start the command's parse afresh */
	status = cmd->run(&cli, argc, argv);
	cli_disconnect(&cli);
	if (cli.cfg_loaded)
		config_free(&cli.cfg);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		cli_error(&cli, EX_IOERR, "write error on standard output");
		return EX_IOERR;
	}
	return status;
}
