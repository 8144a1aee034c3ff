/*
 * cmd_shard.c - codeq shard list|verify|move: the stores of a sharded
 * deployment, where each queue lives, and moving a quiet queue from one
 * store to another in two steps around a change of the shard map
 * (docs/storage.md, "Moving a queue"; libcodeq does the work).
 */
#include "config.h"

#include <string.h>

#include "cli.h"

static const char shard_help[] =
"usage: codeq shard list [--json]\n"
"       codeq shard verify [QUEUE...] [--json]\n"
"       codeq shard move QUEUE --to STORE [--finish] [--dry-run] [--json]\n"
"\n"
"list    the stores (home and each [shard]) and the store of every queue\n"
"verify  where the keys of each queue are (default: every queue known or\n"
"        found on a store); exits 65 when some are on a store the map\n"
"        does not put their queue on\n"
"move    step 1: copies a quiet queue (no leased tasks) from its store to\n"
"        STORE (home or a shard's name) and verifies the copy; then change\n"
"        the map and reload codeqd; step 2, --finish: deletes the old\n"
"        store's keys if nothing changed there since the copy.  Both steps\n"
"        may be run again.  --dry-run: only says what it would do.\n";

struct shard_opts {
	const char *to;
	int finish, dry_run;
};

/* "home" or "shard NAME", as in the library's messages. */
static const char *
label(struct cli *cli, size_t i, char *buf, size_t len)
{
	if (i == 0)
		return "home";
	snprintf(buf, len, "shard %s", codeq_store_name(cli->c, i));
	return buf;
}

static json_t *
stores_json(struct cli *cli)
{
	json_t *a = json_array();
	char url[512];
	size_t i;

	for (i = 0; a != NULL && i < codeq_store_count(cli->c); i++) {
		codeq_store_url(cli->c, i, url, sizeof(url));
		json_array_append_new(a, json_pack("{s:s, s:s}", "name",
		    codeq_store_name(cli->c, i), "url", url));
	}
	return a;
}

static int
list_json(struct cli *cli, char **names, size_t n)
{
	json_t *q = json_array();
	const char *store;
	size_t i;

	for (i = 0; q != NULL && i < n; i++) {
		codeq_shard_of(cli->c, names[i], &store);
		json_array_append_new(q, json_pack("{s:s, s:s}", "queue",
		    names[i], "store", store));
	}
	return print_json(json_pack("{s:o, s:o}", "stores", stores_json(cli),
	    "queues", q));
}

static int
shard_list(struct cli *cli)
{
	codeq_error err;
	char **names, url[512];
	const char *store;
	size_t n, i;
	int rc;

	if ((rc = codeq_queues(cli->c, &names, &n, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json) {
		rc = list_json(cli, names, n);
		codeq_strv_free(names, n);
		return rc;
	}
	printf("%-20s %s\n", "STORE", "URL");
	for (i = 0; i < codeq_store_count(cli->c); i++) {
		codeq_store_url(cli->c, i, url, sizeof(url));
		printf("%-20s %s\n", codeq_store_name(cli->c, i), url);
	}
	printf("\n%-20s %s\n", "QUEUE", "STORE");
	for (i = 0; i < n; i++) {
		codeq_shard_of(cli->c, names[i], &store);
		printf("%-20s %s\n", names[i], store);
	}
	codeq_strv_free(names, n);
	return 0;
}

/* 1 when a store other than the queue's own holds keys of it. */
static int
misplaced(const codeq_placement *p)
{
	size_t i;

	for (i = 0; i < p->nstores; i++)
		if (i != p->store && p->keys[i] > 0)
			return 1;
	return 0;
}

static json_t *
placement_json(struct cli *cli, const codeq_placement *p)
{
	json_t *keys = json_object();
	size_t i;

	for (i = 0; keys != NULL && i < p->nstores; i++)
		if (p->keys[i] > 0)
			json_object_set_new(keys, codeq_store_name(cli->c, i),
			    json_integer((json_int_t)p->keys[i]));
	return json_pack("{s:s, s:s, s:o, s:b}", "queue", p->queue, "store",
	    codeq_store_name(cli->c, p->store), "keys", keys, "misplaced",
	    misplaced(p));
}

static void
placement_print(struct cli *cli, const codeq_placement *p)
{
	char a[128], b[128];
	size_t i;

	if (!misplaced(p)) {
		printf("queue %s: on %s (%zu keys)\n", p->queue,
		    label(cli, p->store, a, sizeof(a)), p->keys[p->store]);
		return;
	}
	for (i = 0; i < p->nstores; i++)
		if (i != p->store && p->keys[i] > 0)
			printf("queue %s: keys on %s (%zu keys), the map puts it "
			    "on %s (%zu keys there)\n", p->queue, label(cli, i, a,
			    sizeof(a)), p->keys[i], label(cli, p->store, b,
			    sizeof(b)), p->keys[p->store]);
}

static int
shard_verify(struct cli *cli, int argc, char **argv)
{
	codeq_placement *p;
	codeq_error err;
	json_t *items = NULL;
	size_t n, i, bad = 0;
	int rc, status = 0;

	rc = codeq_shard_verify(cli->c, argc > 0 ? (const char *const *)argv :
	    NULL, (size_t)argc, &p, &n, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json && (items = json_array()) == NULL)
		status = cli_error(cli, EX_OSERR, "out of memory");
	for (i = 0; i < n && status == 0; i++) {
		bad += misplaced(&p[i]);
		if (cli->json)
			json_array_append_new(items, placement_json(cli, &p[i]));
		else
			placement_print(cli, &p[i]);
	}
	if (cli->json && status == 0)
		status = print_json(json_pack("{s:I, s:I, s:o}", "queues",
		    (json_int_t)n, "misplaced", (json_int_t)bad, "items", items));
	else if (status == 0)
		printf("%zu queues, %zu misplaced\n", n, bad);
	codeq_placements_free(p, n);
	return status == 0 && bad > 0 ? EX_DATAERR : status;
}

static int
move_json(struct cli *cli, const char *queue, const codeq_move *m,
    const struct shard_opts *o)
{
	return print_json(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:b, s:b}", "queue", queue, "step", o->finish ? "finish" : "copy",
	    "from", codeq_store_name(cli->c, m->from), "to",
	    codeq_store_name(cli->c, m->to), "keys", (json_int_t)m->keys,
	    "identical", (json_int_t)m->identical, "copied",
	    (json_int_t)m->copied, "deleted", (json_int_t)m->deleted,
	    "already", m->already, "dry_run", o->dry_run));
}

/* What to do after step 1: the map is configuration. */
static void
next_steps(struct cli *cli, const char *queue, const codeq_move *m)
{
	const char *to = codeq_store_name(cli->c, m->to);

	if (m->to == 0)
		printf("next: make the map put %s on the home (take it out of "
		    "its [shard]'s queues and globs", queue);
	else
		printf("next: make the map put %s on %s (e.g. queues = %s in "
		    "[shard %s]", queue, to, queue, to);
	printf("), reload codeqd, then run\n  codeq shard move %s --to %s "
	    "--finish\n", queue, to);
}

static void
move_print(struct cli *cli, const char *queue, const codeq_move *m,
    const struct shard_opts *o)
{
	char a[128], b[128];
	const char *from = label(cli, m->from, a, sizeof(a)),
	    *to = label(cli, m->to, b, sizeof(b));

	if (o->finish && m->already)
		printf("queue %s: already moved (no store but %s holds keys of "
		    "it)\n", queue, to);
	else if (o->finish)
		printf("queue %s: %s %zu keys on %s (its copy on %s is in use)\n",
		    queue, o->dry_run ? "would delete" : "deleted", m->keys, from,
		    to);
	else if (o->dry_run)
		printf("queue %s: would copy %zu keys from %s to %s (%zu already "
		    "there, identical)\n", queue, m->keys, from, to, m->identical);
	else {
		printf("queue %s: copied %zu keys from %s to %s (%zu written, "
		    "%zu already identical), verified\n", queue, m->keys, from,
		    to, m->copied, m->keys - m->copied);
		next_steps(cli, queue, m);
	}
}

static int
shard_move(struct cli *cli, const char *queue, const struct shard_opts *o)
{
	codeq_error err;
	codeq_move m;
	size_t to;
	int rc;

	if (codeq_store_find(cli->c, o->to, &to, &err) != CODEQ_OK)
		return cli_usage(cli, "--to: %s", err.msg);
	if (!o->finish && codeq_shard_of(cli->c, queue, NULL) == to)
		return cli_usage(cli, "the map puts %s on %s already (after "
		    "changing the map: --finish)", queue, o->to);
	if (o->finish)
		rc = codeq_shard_finish(cli->c, queue, to, o->dry_run, &m, &err);
	else
		rc = codeq_shard_copy(cli->c, queue, to, o->dry_run, &m, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json)
		return move_json(cli, queue, &m, o);
	move_print(cli, queue, &m, o);
	return 0;
}

static int
parse_options(struct cli *cli, int argc, char **argv, struct shard_opts *o,
    int *done)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "to", required_argument, NULL, 't' },
		{ "finish", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = cli_getopt(cli, argc, argv, "t:fn", longopts, shard_help,
	    done)) != -1) {
		if (ch == 't')
			o->to = optarg;
		else if (ch == 'f')
			o->finish = 1;
		else if (ch == 'n')
			o->dry_run = 1;
		else
			return EX_USAGE;
	}
	return 0;
}

/* The arguments after the subcommand: checked queue names; move wants
 * one and --to, the others no move options. */
static int
check_args(struct cli *cli, const char *sub, int n, char **q,
    const struct shard_opts *o)
{
	int i, move = strcmp(sub, "move") == 0;

	if (arg_count(cli, n, move ? 1 : 0, strcmp(sub, "verify") == 0 ? -1 :
	    move, move ? "QUEUE" : "QUEUE...") == -1)
		return EX_USAGE;
	for (i = 0; i < n; i++)
		if (arg_queue(cli, "QUEUE", q[i]) == -1)
			return EX_USAGE;
	if (move && o->to == NULL)
		return cli_usage(cli, "move: --to STORE is required");
	if (!move && (o->to != NULL || o->finish || o->dry_run))
		return cli_usage(cli, "--to, --finish and --dry-run are for "
		    "shard move");
	return 0;
}

int
cmd_shard(struct cli *cli, int argc, char **argv)
{
	static const char *const subs[] = { "list", "verify", "move", NULL };
	struct shard_opts o;
	const char *sub;
	int done = 0, status, nargs;

	if ((status = parse_options(cli, argc, argv, &o, &done)) != 0)
		return status;
	if (done)
		return EX_OK;
	nargs = argc - optind;
	if (arg_count(cli, nargs, 1, -1, "list, verify or move") == -1)
		return EX_USAGE;
	sub = argv[optind];
	if (arg_subcommand(cli, sub, subs) == -1)
		return EX_USAGE;
	if ((status = check_args(cli, sub, nargs - 1, argv + optind + 1,
	    &o)) != 0)
		return status;
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (strcmp(sub, "list") == 0)
		return shard_list(cli);
	if (strcmp(sub, "verify") == 0)
		return shard_verify(cli, nargs - 1, argv + optind + 1);
	return shard_move(cli, argv[optind + 1], &o);
}
