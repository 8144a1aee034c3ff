/*
 * cmd_enqueue.c - codeq enqueue QUEUE: one task from the options, or many
 * from a JSON Lines file with --bulk (cli/bulk.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char enqueue_help[] =
"usage: codeq enqueue QUEUE [--payload JSON | --payload-file FILE]\n"
"                     [--priority 0-9] [--delay DURATION | --at TIME]\n"
"                     [--max-attempts N] [--idempotency-key KEY]\n"
"                     [--webhook URL] [--traceparent TP] [--json]\n"
"       codeq enqueue QUEUE --bulk FILE|- [--json]\n"
"\n"
"Adds a task and prints its id.  The payload is JSON (default {}).\n"
"  --priority N        0-9, higher runs first (default 0)\n"
"  --delay DURATION    run no earlier than now + DURATION (250ms 30s 5m 2h 7d)\n"
"  --at TIME           run no earlier than TIME (RFC 3339 or epoch seconds)\n"
"  --max-attempts N    attempts before the dead-letter queue (1-1000)\n"
"  --idempotency-key K a second enqueue with K returns the first task's id\n"
"  --webhook URL       POST the result there when the task finishes\n"
"  --bulk FILE|-       one task object per line: {\"payload\": ...,\n"
"                      \"priority\": 5, \"delay\": \"30s\", \"at\": ...,\n"
"                      \"max_attempts\": 3, \"idempotency_key\": \"k\",\n"
"                      \"webhook\": \"https://...\", \"queue\": \"other\"}\n"
"                      Bad lines are reported by number; the others are\n"
"                      enqueued; the exit status is then 65.\n"
"  --json              print {\"id\": ..., \"duplicate\": ...}\n";

/* libcodeq names the field ("webhook: must be ..."); say the option. */
static int
lib_error(struct cli *cli, int rc, const codeq_error *err)
{
	static const char *fields[] = { "payload", "webhook", "traceparent",
	    "idempotency_key", "priority", "max_attempts", "delay", "at" };
	size_t i, n;
	char opt[32], *p;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		n = strlen(fields[i]);
		if (strncmp(err->msg, fields[i], n) != 0 || err->msg[n] != ':')
			continue;
		snprintf(opt, sizeof(opt), "--%s", fields[i]);
		for (p = opt; *p != '\0'; p++)
			if (*p == '_')
				*p = '-';
		return cli_error(cli, cli_exit_status(rc), "%s%s", opt,
		    err->msg + n);
	}
	return cli_lib_error(cli, rc, err);
}

int
cmd_enqueue(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "payload", required_argument, NULL, 'p' },
		{ "payload-file", required_argument, NULL, 'P' },
		{ "priority", required_argument, NULL, 'r' },
		{ "delay", required_argument, NULL, 'd' },
		{ "at", required_argument, NULL, 'a' },
		{ "max-attempts", required_argument, NULL, 'm' },
		{ "idempotency-key", required_argument, NULL, 'k' },
		{ "webhook", required_argument, NULL, 'w' },
		{ "traceparent", required_argument, NULL, 't' },
		{ "bulk", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	codeq_task_spec spec;
	codeq_error err;
	const char *payload = NULL, *payload_file = NULL, *bulk = NULL;
	char id[CODEQ_ID_MAX], *file_payload = NULL;
	long v;
	int ch, done = 0, dup = 0, rc, status, nopts = 0, delay = 0, at = 0;

	memset(&spec, 0, sizeof(spec));
	while ((ch = cli_getopt(cli, argc, argv, "p:P:r:d:a:m:k:w:t:b:",
	    longopts, enqueue_help, &done)) != -1) {
		nopts++;
		switch (ch) {
		case 'p': payload = optarg; break;
		case 'P': payload_file = optarg; break;
		case 'r':
			if (arg_long(cli, "--priority", optarg, 0, 9, &v) == -1)
				return EX_USAGE;
			spec.priority = (int)v;
			break;
		case 'd':
			if (arg_duration(cli, "--delay", optarg,
			    &spec.delay_ms) == -1)
				return EX_USAGE;
			delay = 1;
			break;
		case 'a':
			if (arg_time(cli, "--at", optarg, &spec.at_ms) == -1)
				return EX_USAGE;
			at = 1;
			break;
		case 'm':
			if (arg_long(cli, "--max-attempts", optarg, 1, 1000,
			    &v) == -1)
				return EX_USAGE;
			spec.max_attempts = (int)v;
			break;
		case 'k': spec.idempotency_key = optarg; break;
		case 'w': spec.webhook = optarg; break;
		case 't': spec.traceparent = optarg; break;
		case 'b': bulk = optarg; nopts--; break;
		default: return EX_USAGE;
		}
	}
	if (done)
		return EX_OK;
	if (arg_count(cli, argc - optind, 1, 1, "QUEUE") == -1)
		return EX_USAGE;
	spec.queue = argv[optind];
	if (arg_queue(cli, "QUEUE", spec.queue) == -1)
		return EX_USAGE;
	if (payload != NULL && payload_file != NULL)
		return cli_usage(cli, "--payload and --payload-file: give one");
	if (delay && at)
		return cli_usage(cli, "--delay and --at: give one");
	if ((status = cli_load_config(cli)) != 0)
		return status;
	if (bulk != NULL) {
		if (nopts > 0)
			return cli_usage(cli, "--bulk: the task options go in "
			    "the file, one JSON object per line");
		return enqueue_bulk(cli, spec.queue, bulk);
	}
	if (payload_file != NULL) {
		if ((status = arg_file(cli, "--payload-file", payload_file,
		    cli->cfg.store.max_payload, &file_payload)) != 0)
			return status;
		payload = file_payload;
	}
	if (payload != NULL && (status = arg_json(cli, payload_file ?
	    "--payload-file" : "--payload", payload,
	    cli->cfg.store.max_payload)) != 0)
		goto out;
	spec.payload = payload;
	if ((status = cli_connect(cli)) != 0)
		goto out;
	rc = codeq_enqueue(cli->c, &spec, id, &dup, &err);
	if (rc != CODEQ_OK) {
		status = lib_error(cli, rc, &err);
		goto out;
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:b}", "id", id, "duplicate", dup);

		status = print_json(o);
	} else {
		puts(id);
		if (dup)
			cli_error(cli, 0, "idempotency key '%s' already used: "
			    "%s is the existing task", spec.idempotency_key, id);
	}
out:
	free(file_payload);
	return status;
}
