/*
 * connect.c - where the codeq command finds its store: --redis, else
 * CODEQ_REDIS_URL, else the configuration file's [store] url, else
 * redis://127.0.0.1:6379/0.  The configuration file is -c FILE, or
 * SYSCONFDIR/codeq.conf when that exists; its [store] timeouts, payload
 * limit, retention and password_file apply whichever URL wins.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store_options.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

int
cli_load_config(struct cli *cli)
{
	static const char default_path[] = SYSCONFDIR "/codeq.conf";
	char err[512];

	if (cli->cfg_loaded)
		return 0;
	if (cli->config_path == NULL) {
		if (access(default_path, F_OK) != 0) {
			config_defaults(&cli->cfg);
			cli->cfg_loaded = 1;
			return 0;
		}
		cli->config_path = default_path;
	}
	if (config_load(cli->config_path, &cli->cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "codeq: %s\n", err);
		return EX_CONFIG;
	}
	cli->cfg_loaded = 1;
	return 0;
}

int
cli_connect(struct cli *cli)
{
	struct store_options so;
	codeq_error err;
	const char *url, *source;
	char perr[512];
	int rc, status;

	if (cli->c != NULL)
		return 0;
	if ((status = cli_load_config(cli)) != 0)
		return status;
	/* A command-line tool reports a lost store instead of waiting out
	 * the reconnect backoff a daemon wants (reconnect_attempts 1).
	 * Passwords are read from their files, never passed on argv: they
	 * never reach a process listing or a message. */
	if (store_options_load(&cli->cfg, 1, &so, perr, sizeof(perr)) < 0)
		return cli_error(cli, EX_CONFIG, "%s: %s", cli->config_path,
		    perr);
	if (cli->redis_url != NULL) {
		url = cli->redis_url;
		source = "--redis";
	} else if ((url = getenv("CODEQ_REDIS_URL")) != NULL && *url != '\0') {
		source = "CODEQ_REDIS_URL";
	} else {
		url = cli->cfg.store.url;
		source = cli->config_path ? "[store] url" : "default store URL";
	}
	rc = codeq_connect(url, &so.o, &cli->c, &err);
	store_options_free(&so);
	if (rc == CODEQ_OK)
		return 0;
	cli->c = NULL;
	if (rc == CODEQ_EINVAL)
		return cli_error(cli, cli->redis_url || strcmp(source,
		    "CODEQ_REDIS_URL") == 0 ? EX_USAGE : EX_CONFIG,
		    "%s: %s", source, err.msg);
	return cli_lib_error(cli, rc, &err);
}

void
cli_disconnect(struct cli *cli)
{
	if (cli->c != NULL)
		codeq_close(cli->c);
	cli->c = NULL;
}
