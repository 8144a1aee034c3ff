/*
 * cli.h - the codeq command: shared context, the command table entry, and
 * the helpers every command uses (messages, exit statuses, option values,
 * output).  One file per command group: cli/cmd_*.c.
 */
#ifndef CODEQ_CLI_H
#define CODEQ_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <jansson.h>

#include "codeq.h"
#include "conf.h"

/* Exit statuses beyond sysexits' (documented in codeq(1)). */
#define EX_TASK_FAILED 1	/* result: the task ended failed or dead */

struct cli {
	const char *cmd;		/* the running command, for messages */
	const char *config_path;	/* -c FILE, or the default if present */
	int config_explicit;
	const char *redis_url;		/* --redis URL */
	struct codeq_config cfg;	/* defaults, or the file's */
	int cfg_loaded;
	codeq_t *c;			/* connected by cli_connect */
	int json;			/* --json */
};

struct cli_command {
	const char *name;
	const char *args;		/* synopsis after the name */
	const char *summary;		/* one line for `codeq --help` */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Every command takes these; --redis and --config are the global options,
 * also accepted after the command name. */
#define CLI_OPT_REDIS 0x101
#define CLI_OPT_CONFIG 0x102
#define CLI_COMMON_OPTIONS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "json", no_argument, NULL, 'j' }, \
	{ "redis", required_argument, NULL, CLI_OPT_REDIS }, \
	{ "config", required_argument, NULL, CLI_OPT_CONFIG }

/* ---- messages and exit statuses (cli/util.c) ------------------------- */

/* "codeq: CMD: message" on stderr; returns status. */
int cli_error(struct cli *cli, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A usage error: the message plus a pointer to --help; returns EX_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The exit status for a libcodeq status (see codeq(1), EXIT STATUS). */
int cli_exit_status(int codeq_status);
/* Reports a libcodeq failure and returns its exit status. */
int cli_lib_error(struct cli *cli, int rc, const codeq_error *err);

/* getopt_long for a command: permutes arguments, handles -h/--help (prints
 * help, *done = 1) and --json, and reports unknown options and missing
 * values in our format.  Returns the option, -1 at the end, or '?' after
 * an error (the caller returns EX_USAGE). */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
    const struct option *longopts, const char *help, int *done);

/* ---- option values: print "codeq: CMD: OPT: what is wrong", return -1 --- */
int arg_long(struct cli *cli, const char *opt, const char *s, long min,
    long max, long *out);
int arg_duration(struct cli *cli, const char *opt, const char *s,
    int64_t *out);
int arg_time(struct cli *cli, const char *opt, const char *s, int64_t *out);
int arg_queue(struct cli *cli, const char *opt, const char *s);
int arg_task_id(struct cli *cli, const char *s);
/* JSON text check; returns 0, or the exit status after the message. */
int arg_json(struct cli *cli, const char *opt, const char *s, size_t limit);
/* Reads a whole file ("-": stdin) of at most limit bytes; returns 0 or the
 * exit status after the message. */
int arg_file(struct cli *cli, const char *opt, const char *path, size_t limit,
    char **out);
/* Checks that positional arguments are exactly min..max. */
int arg_count(struct cli *cli, int have, int min, int max, const char *what);
/* Exactly one positional argument left, a task id (get, result, and the
 * lease commands). */
int arg_one_task_id(struct cli *cli, int argc, char **argv);
/* sub is one of the NULL-terminated names, else a usage error ("x:
 * unknown (a, b or c)"). */
int arg_subcommand(struct cli *cli, const char *sub,
    const char *const *names);

/* The options of commands that list a queue's dead letters (dlq,
 * callbacks dlq): the common ones plus --offset N and --limit N (*limit
 * -1 when not given).  0 (with *done as cli_getopt), or EX_USAGE after
 * the message. */
int cli_list_options(struct cli *cli, int argc, char **argv,
    const char *help, long *offset, long *limit, int *done);

/* ---- the store (cli/connect.c) --------------------------------------- */

/* Loads the configuration (-c, or the default file if it exists) once;
 * returns 0 or EX_CONFIG after the file:line message.  Commands call it
 * after parsing their options, so --help works with a broken file. */
int cli_load_config(struct cli *cli);
/* Connects to the store if not yet connected; returns 0 or an exit status. */
int cli_connect(struct cli *cli);
void cli_disconnect(struct cli *cli);

/* ---- output (cli/output.c) ------------------------------------------- */

json_t *task_to_json(const codeq_task *t);
void print_task(FILE *f, const codeq_task *t);
/* Prints j compactly on one line of stdout and releases it. */
int print_json(json_t *j);
/* Prints the JSON array of n items, item i being to_json(items, i). */
int print_json_array(const void *items, size_t n,
    json_t *(*to_json)(const void *items, size_t i));
/* The outcome of a bulk operation: {"queue": Q, "<what>": N} with --json,
 * else "N what". */
int print_count(struct cli *cli, const char *queue, const char *what,
    size_t count);
/* RFC 3339 UTC with milliseconds; "-" for 0. */
void format_time(int64_t ms, char *buf, size_t len);
/* A JSON text as a value (a string if it does not parse). */
json_t *json_from_text(const char *text);

/* ---- commands ---------------------------------------------------------- */
int cmd_enqueue(struct cli *, int, char **);
int enqueue_bulk(struct cli *, const char *queue, const char *path);
int cmd_get(struct cli *, int, char **);
int cmd_result(struct cli *, int, char **);
int cmd_claim(struct cli *, int, char **);
int cmd_heartbeat(struct cli *, int, char **);
int cmd_complete(struct cli *, int, char **);
int cmd_fail(struct cli *, int, char **);
int cmd_nack(struct cli *, int, char **);
int cmd_stats(struct cli *, int, char **);
int cmd_dlq(struct cli *, int, char **);
int cmd_fsck(struct cli *, int, char **);
int cmd_reap(struct cli *, int, char **);
/* webhooks: cli/cmd_subscribe.c, cli/cmd_callbacks.c */
int cmd_subscribe(struct cli *, int, char **);
int cmd_subscriptions(struct cli *, int, char **);
int cmd_callbacks(struct cli *, int, char **);
/* shards: cli/cmd_shard.c */
int cmd_shard(struct cli *, int, char **);

#endif
