/*
 * subscribe.c - codeq subscribe / codeq subscriptions: WORK_AVAILABLE
 * subscriptions (docs/webhooks.md).
 */
#include "config.h"

#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "sign.h"

static const char subscribe_help[] =
"usage: codeq subscribe QUEUE... --url URL [--ttl D] [--mode fanout|group|hash]\n"
"           [--group G] [--min-interval D] [--secret-file F] [--json]\n"
"\n"
"Asks the notifier to POST WORK_AVAILABLE to URL when the queues (or *,\n"
"every queue) get ready tasks; prints the subscription id.\n"
"\n"
"  --url URL           http:// or https:// target\n"
"  --ttl D             expires unless renewed within D (default 300s)\n"
"  --mode M            fanout: every subscriber (default); group: one\n"
"                      subscriber of the group, round-robin; hash: one\n"
"                      subscriber of the group, chosen by queue name\n"
"  --group G           the group (group and hash modes)\n"
"  --min-interval D    at most one POST per D to this subscriber\n"
"  --secret-file F     sign this subscription's requests with the secret\n"
"                      in F (whsec_...); default: the daemon's secret\n";

static const char subscriptions_help[] =
"usage: codeq subscriptions list [--json]\n"
"       codeq subscriptions renew ID [--ttl D] [--json]\n"
"       codeq subscriptions remove ID [--json]\n";

static json_t *
sub_to_json(const codeq_subscription *s)
{
	json_t *q = json_array(), *o;
	char created[40], expires[40];
	size_t i;

	for (i = 0; q && i < s->nqueues; i++)
		json_array_append_new(q, json_string(s->queues[i]));
	format_time(s->created_at, created, sizeof(created));
	format_time(s->expires_at, expires, sizeof(expires));
	o = json_pack("{s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b}",
	    "id", s->id, "queues", q, "url", s->url,
	    "mode", codeq_sub_mode_name(s->mode), "group", s->group,
	    "minIntervalSeconds", (json_int_t)(s->min_interval_ms / 1000),
	    "ttlSeconds", (json_int_t)(s->ttl_ms / 1000),
	    "createdAt", created, "expiresAt", expires,
	    "signedWithOwnSecret", s->has_secret);
	return o;
}

static int
read_secret(struct cli *cli, const char *path, char **out)
{
	struct sign_key k;
	char err[256], *s = NULL;
	int status;

	if ((status = arg_file(cli, "--secret-file", path, 4096, &s)) != 0)
		return status;
	if (sign_key_parse(s, &k, err, sizeof(err)) < 0) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
		/* err names what is wrong, never the secret itself. */
		return cli_error(cli, EX_DATAERR, "--secret-file: %s", err);
	}
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	if ((*out = strdup(k.secret)) == NULL) {
		sign_key_clear(&k);
		return cli_error(cli, EX_OSERR, "out of memory");
	}
	sign_key_clear(&k);
	return 0;
}

int
cmd_subscribe(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "url", required_argument, NULL, 'u' },
		{ "ttl", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "min-interval", required_argument, NULL, 'i' },
		{ "secret-file", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	codeq_subscription_spec spec;
	char id[CODEQ_ID_MAX], *secret = NULL;
	const char *secret_file = NULL;
	codeq_error err;
	int ch, done = 0, status, rc, i;

	memset(&spec, 0, sizeof(spec));
	while ((ch = cli_getopt(cli, argc, argv, "u:t:m:g:i:s:", longopts,
	    subscribe_help, &done)) != -1) {
		switch (ch) {
		case 'u':
			spec.url = optarg;
			break;
		case 't':
			if (arg_duration(cli, "--ttl", optarg, &spec.ttl_ms))
				return EX_USAGE;
			break;
		case 'm':
			if (codeq_sub_mode_parse(optarg, &spec.mode) != CODEQ_OK)
				return cli_usage(cli, "--mode: fanout, group "
				    "or hash, got '%s'", optarg);
			break;
		case 'g':
			spec.group = optarg;
			break;
		case 'i':
			if (arg_duration(cli, "--min-interval", optarg,
			    &spec.min_interval_ms))
				return EX_USAGE;
			break;
		case 's':
			secret_file = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	if (done)
		return EX_OK;
	if (arg_count(cli, argc - optind, 1, -1, "QUEUE...") == -1)
		return EX_USAGE;
	for (i = optind; i < argc; i++)
		if (strcmp(argv[i], "*") != 0 &&
		    arg_queue(cli, "QUEUE", argv[i]) == -1)
			return EX_USAGE;
	if (spec.url == NULL)
		return cli_usage(cli, "--url is required");
	if (codeq_webhook_url_valid(spec.url, &err) != CODEQ_OK)
		return cli_usage(cli, "--url: %s", err.msg);
	if (spec.group && spec.mode == CODEQ_SUB_FANOUT)
		return cli_usage(cli, "--group: only with --mode group or hash");
	if (secret_file && (status = read_secret(cli, secret_file, &secret)))
		return status;
	spec.queues = (const char *const *)argv + optind;
	spec.nqueues = (size_t)(argc - optind);
	spec.secret = secret;
	if ((status = cli_connect(cli)) != 0)
		goto out;
	rc = codeq_subscribe(cli->c, &spec, id, &err);
	if (rc != CODEQ_OK) {
		status = cli_lib_error(cli, rc, &err);
		goto out;
	}
	if (cli->json)
		status = print_json(json_pack("{s:s}", "id", id));
	else
		printf("%s\n", id);
out:
	if (secret) {
		OPENSSL_cleanse(secret, strlen(secret));
		free(secret);
	}
	return status;
}

static json_t *
sub_at(const void *v, size_t i)
{
	return sub_to_json(((codeq_subscription *const *)v)[i]);
}

static int
subs_list(struct cli *cli)
{
	codeq_subscription **v;
	codeq_error err;
	char exp[40];
	size_t n, i, j;
	int rc;

	if ((rc = codeq_subscription_list(cli->c, &v, &n, &err)) != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	if (cli->json) {
		rc = print_json_array(v, n, sub_at);
		codeq_subscriptions_free(v, n);
		return rc;
	}
	for (i = 0; i < n; i++) {
		format_time(v[i]->expires_at, exp, sizeof(exp));
		printf("%s\t%s\t%s%s%s\texpires=%s\t", v[i]->id, v[i]->url,
		    codeq_sub_mode_name(v[i]->mode), v[i]->group[0] ? ":" : "",
		    v[i]->group, exp);
		for (j = 0; j < v[i]->nqueues; j++)
			printf("%s%s", j ? "," : "", v[i]->queues[j]);
		printf("\n");
	}
	codeq_subscriptions_free(v, n);
	return 0;
}

int
cmd_subscriptions(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_OPTIONS,
		{ "ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const subs[] = { "list", "renew", "remove", NULL };
	codeq_error err;
	const char *sub, *id;
	int64_t ttl = 0, exp = 0;
	char at[40];
	int ch, done = 0, status, rc, nargs;

	while ((ch = cli_getopt(cli, argc, argv, "t:", longopts,
	    subscriptions_help, &done)) != -1) {
		if (ch == 't') {
			if (arg_duration(cli, "--ttl", optarg, &ttl))
				return EX_USAGE;
		} else
			return EX_USAGE;
	}
	if (done)
		return EX_OK;
	nargs = argc - optind;
	if (arg_count(cli, nargs, 1, 2, "list, renew ID or remove ID") == -1)
		return EX_USAGE;
	sub = argv[optind];
	if (strcmp(sub, "list") == 0) {
		if (arg_count(cli, nargs, 1, 1, "list") == -1)
			return EX_USAGE;
		if ((status = cli_connect(cli)) != 0)
			return status;
		return subs_list(cli);
	}
	if (arg_subcommand(cli, sub, subs) == -1)
		return EX_USAGE;
	if (arg_count(cli, nargs, 2, 2, "ID") == -1)
		return EX_USAGE;
	id = argv[optind + 1];
	if ((status = cli_connect(cli)) != 0)
		return status;
	if (strcmp(sub, "renew") == 0)
		rc = codeq_subscription_renew(cli->c, id, ttl, &exp, &err);
	else
		rc = codeq_subscription_remove(cli->c, id, &err);
	if (rc != CODEQ_OK)
		return cli_lib_error(cli, rc, &err);
	format_time(exp, at, sizeof(at));
	if (cli->json)
		return print_json(strcmp(sub, "renew") == 0 ?
		    json_pack("{s:s, s:s}", "id", id, "expiresAt", at) :
		    json_pack("{s:s, s:b}", "id", id, "removed", 1));
	if (strcmp(sub, "renew") == 0)
		printf("%s expires %s\n", id, at);
	else
		printf("%s removed\n", id);
	return 0;
}
