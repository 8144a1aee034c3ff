/*
 * cmd_worker.c - the worker side from the shell or any language: claim
 * leases tasks, heartbeat extends a lease, complete / fail / nack finish
 * an attempt.  Every one after claim carries the lease token claim printed:
 * a token that is no longer current (the lease expired and someone else
 * claimed the task) is refused with exit status 77.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char claim_help[] =
"usage: codeq claim QUEUE... [--lease DURATION] [--worker NAME] [--max N]\n"
"                   [--quiet] [--json]\n"
"\n"
"Leases ready tasks: from the first QUEUE that has any, highest priority\n"
"first, oldest first within a priority.  Prints each task with its lease\n"
"token, which heartbeat, complete, fail and nack need.  Exits 75 when no\n"
"task is ready.\n"
"  --lease D    lease length (default 30s); renew with heartbeat\n"
"  --worker N   recorded on the task (default host:pid)\n"
"  --max N      claim up to N tasks at once (1-1000, default 1)\n"
"  --quiet      no message when nothing is ready\n"
"  --json       one JSON object per task, one per line\n";

static const char heartbeat_help[] =
"usage: codeq heartbeat ID --token TOKEN [--lease DURATION] [--json]\n"
"\n"
"Extends the lease of a claimed task to now + DURATION (default 30s) and\n"
"prints the new expiry.  Exits 77 if TOKEN is not the task's current one.\n";

static const char complete_help[] =
"usage: codeq complete ID --token TOKEN [--result JSON | --result-file F]\n"
"                      [--json]\n"
"\n"
"Marks a claimed task completed with its result (JSON; '-' file: stdin).\n"
"Exits 77 if TOKEN is not the task's current one.\n";

static const char fail_help[] =
"usage: codeq fail ID --token TOKEN --error TEXT [--permanent] [--json]\n"
"\n"
"Records a failed attempt.  The task is retried after the queue's backoff\n"
"(or dead-lettered after its last attempt); with --permanent it fails for\n"
"good at once.  Exits 77 if TOKEN is not the task's current one.\n";

static const char nack_help[] =
"usage: codeq nack ID --token TOKEN [--delay DURATION] [--error TEXT]\n"
"                  [--json]\n"
"\n"
"Gives a claimed task back: ready again after DURATION (default: the\n"
"queue's backoff), or dead-lettered if that was its last attempt.\n"
"Exits 77 if TOKEN is not the task's current one.\n";

/* --lease: a duration of 100ms-1d.  0, or -1 after the message. */
static int
arg_lease(struct cli *cli, const char *s, int64_t *ms)
{
	if (arg_duration(cli, "--lease", s, ms) == -1)
		return -1;
	if (*ms < 100 || *ms > 86400000) {
		cli_error(cli, EX_USAGE, "--lease: must be 100ms-1d, got %s", s);
		return -1;
	}
	return 0;
}

static int
print_claimed(struct cli *cli, codeq_task **tasks, size_t n)
{
	size_t i;
	int status = 0;

	for (i = 0; i < n; i++) {
		if (cli->json) {
			if ((status = print_json(task_to_json(tasks[i]))) != 0)
				break;
			continue;
		}
		if (i > 0)
			putchar('\n');
		print_task(stdout, tasks[i]);
	}
	return status;
}

int
cmd_claim(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "lease", required_argument, NULL, 'l' },
		{ "worker", required_argument, NULL, 'w' },
		{ "max", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	codeq_claim_opts opt;
	codeq_task **tasks = NULL;
	codeq_error err;
	size_t n = 0, i;
	long v;
	int ch, done = 0, quiet = 0, rc, status;

	memset(&opt, 0, sizeof(opt));
	opt.max_tasks = 1;
	while ((ch = cli_getopt(cli, argc, argv, "l:w:n:q", longopts,
	    claim_help, &done)) != -1) {
		switch (ch) {
		case 'l':
			if (arg_lease(cli, optarg, &opt.lease_ms) == -1)
				return EX_USAGE;
			break;
		case 'w':
			if (*optarg == '\0')
				return cli_error(cli, EX_USAGE, "--worker: must "
				    "not be empty");
			opt.worker = optarg;
			break;
		case 'n':
			if (arg_long(cli, "--max", optarg, 1, 1000, &v) == -1)
				return EX_USAGE;
			opt.max_tasks = (size_t)v;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return EX_USAGE;
		}
	}
	if (done)
		return EX_OK;
	if (arg_count(cli, argc - optind, 1, -1, "QUEUE") == -1)
		return EX_USAGE;
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (arg_queue(cli, "QUEUE", argv[i]) == -1)
			return EX_USAGE;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if ((tasks = calloc(opt.max_tasks, sizeof(*tasks))) == NULL)
		return cli_error(cli, EX_OSERR, "out of memory");
	rc = codeq_claim(cli->c, (const char *const *)argv + optind,
	    (size_t)(argc - optind), &opt, tasks, &n, &err);
	if (rc == CODEQ_EEMPTY) {
		if (!quiet)
			cli_error(cli, 0, "no task ready");
		status = EX_TEMPFAIL;
	} else if (rc != CODEQ_OK)
		status = cli_lib_error(cli, rc, &err);
	else
		status = print_claimed(cli, tasks, n);
	for (i = 0; i < n; i++)
		codeq_task_free(tasks[i]);
	free(tasks);
	return status;
}

/* What heartbeat, complete, fail and nack share: ID and --token. */
struct lease_args {
	const char *id;
	const char *token;
	int64_t duration_ms;	/* --lease / --delay; -1 unset */
	const char *text;	/* --error / --result */
	const char *file;	/* --result-file */
	int permanent;
};

static int
lease_args(struct cli *cli, int argc, char **argv, const char *help,
    struct lease_args *a, int *done)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "token", required_argument, NULL, 't' },
		{ "lease", required_argument, NULL, 'l' },
		{ "delay", required_argument, NULL, 'd' },
		{ "error", required_argument, NULL, 'e' },
		{ "result", required_argument, NULL, 'r' },
		{ "result-file", required_argument, NULL, 'R' },
		{ "permanent", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	/* Which options each command takes (the others are refused). */
	const char *allowed =
	    strcmp(cli->cmd, "heartbeat") == 0 ? "tl" :
	    strcmp(cli->cmd, "complete") == 0 ? "trR" :
	    strcmp(cli->cmd, "fail") == 0 ? "tep" : "tde";
	int ch;

	memset(a, 0, sizeof(*a));
	a->duration_ms = -1;
	while ((ch = cli_getopt(cli, argc, argv, "t:l:d:e:r:R:p", longopts,
	    help, done)) != -1) {
		if (ch == '?')
			return -1;
		if (strchr(allowed, ch) == NULL) {
			const struct option *o = longopts;

			while (o->name != NULL && o->val != ch)
				o++;
			cli_usage(cli, "--%s: not an option of %s", o->name,
			    cli->cmd);
			return -1;
		}
		switch (ch) {
		case 't': a->token = optarg; break;
		case 'l':
			if (arg_lease(cli, optarg, &a->duration_ms) == -1)
				return -1;
			break;
		case 'd':
			if (arg_duration(cli, "--delay", optarg,
			    &a->duration_ms) == -1)
				return -1;
			break;
		case 'e':
		case 'r': a->text = optarg; break;
		case 'R': a->file = optarg; break;
		case 'p': a->permanent = 1; break;
		}
	}
	if (*done)
		return 0;
	if (arg_one_task_id(cli, argc, argv) == -1)
		return -1;
	a->id = argv[optind];
	if (a->token == NULL || *a->token == '\0') {
		cli_usage(cli, "--token: required (the lease token claim "
		    "printed)");
		return -1;
	}
	if (strcmp(cli->cmd, "fail") == 0 && a->text == NULL) {
		cli_usage(cli, "--error: required (why the attempt failed)");
		return -1;
	}
	if (a->text != NULL && a->file != NULL) {
		cli_usage(cli, "--result and --result-file: give one");
		return -1;
	}
	return 0;
}

/* With --json: where the task went (ready, delayed, dead, failed...). */
static int
print_done(struct cli *cli, const char *id)
{
	codeq_task *t;
	codeq_error err;
	json_t *o;
	int rc;

	if (!cli->json)
		return 0;
	if ((rc = codeq_get(cli->c, id, &t, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	o = json_pack("{s:s, s:s, s:i}", "id", id, "status",
	    codeq_status_name(t->status), "attempts", t->attempts);
	codeq_task_free(t);
	return print_json(o);
}

int
cmd_heartbeat(struct cli *cli, int argc, char **argv)
{
	struct lease_args a;
	codeq_error err;
	int64_t until = 0;
	char buf[40];
	int done = 0, rc, status;

	if (lease_args(cli, argc, argv, heartbeat_help, &a, &done) == -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	if ((status = cli_connect(cli)) != 0)
		return status;
	rc = codeq_heartbeat(cli->c, a.id, a.token, a.duration_ms > 0 ?
	    a.duration_ms : 0, &until, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json)
		return print_json(json_pack("{s:s, s:I}", "id", a.id,
		    "lease_until", (json_int_t)until));
	format_time(until, buf, sizeof(buf));
	puts(buf);
	return 0;
}

int
cmd_complete(struct cli *cli, int argc, char **argv)
{
	struct lease_args a;
	codeq_error err;
	char *file_result = NULL;
	const char *opt = "--result";
	int done = 0, rc, status;

	if (lease_args(cli, argc, argv, complete_help, &a, &done) == -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	if ((status = cli_load_config(cli)) != 0)
		return status;
	if (a.file != NULL) {
		opt = "--result-file";
		if ((status = arg_file(cli, opt, a.file,
		    cli->cfg.store.max_payload, &file_result)) != 0)
			return status;
		a.text = file_result;
	}
	if (a.text != NULL && (status = arg_json(cli, opt, a.text,
	    cli->cfg.store.max_payload)) != 0)
		goto out;
	if ((status = cli_connect(cli)) != 0)
		goto out;
	rc = codeq_complete(cli->c, a.id, a.token, a.text, &err);
	if (rc != CODEQ_OK)
		status = cli_lib_error(cli, rc, &err);
	else
		status = print_done(cli, a.id);
out:
	free(file_result);
	return status;
}

/* fail and nack: the attempt ends without a result. */
static int
give_back(struct cli *cli, int argc, char **argv, const char *help)
{
	struct lease_args a;
	codeq_error err;
	int done = 0, rc, status;

	if (lease_args(cli, argc, argv, help, &a, &done) == -1)
		return EX_USAGE;
	if (done)
		return EX_OK;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (strcmp(cli->cmd, "fail") == 0)
		rc = codeq_fail(cli->c, a.id, a.token, a.text, a.permanent,
		    &err);
	else
		rc = codeq_nack(cli->c, a.id, a.token, a.duration_ms, a.text,
		    &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	return print_done(cli, a.id);
}

int
cmd_fail(struct cli *cli, int argc, char **argv)
{
	return give_back(cli, argc, argv, fail_help);
}

int
cmd_nack(struct cli *cli, int argc, char **argv)
{
	return give_back(cli, argc, argv, nack_help);
}
