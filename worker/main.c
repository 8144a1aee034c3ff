/*
 * main.c - codeq-worker: one worker of a codeqd pool, as its own program.
 *
 *   codeq-worker --config FILE --pool NAME --fd N [--log-level LEVEL]
 *   codeq-worker --probe SO_PATH
 *
 * codeqd forks each worker and executes this small program in it (the
 * worker row of dispatcher/roles.c): it links only what a worker uses (libcodeq,
 * msgpack, inih, jansson, libdl), not libcurl, libmicrohttpd and their
 * TLS and Kerberos libraries, which keeps a worker's resident set at a
 * third of codeqd's and makes each fork of a handler cheaper.  FILE is the
 * dispatcher's snapshot of the configuration it runs (a memfd), N the
 * worker's end of its socketpair.  --probe loads a .so handler, checks
 * its symbol and ABI version and exits 0, or 1 with the reason on stdout
 * (codeqd checks a configuration's handlers this way: dispatcher/probe.c).
 * Not meant to be run by hand.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "store_options.h"
#include "handler.h"
#include "log.h"
#include "worker.h"

/* --probe: the .so's verdict on stdout, for codeqd. */
static int
probe(const char *so_path)
{
	char err[400];

	if (so_probe(so_path, err, sizeof(err)) == 0)
		return 0;
	printf("%s\n", err);
	return 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "pool", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "probe", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *name = NULL, *level = "info";
	const struct pool_config *pool;
	struct codeq_config cfg;
	enum log_level lvl = LOG_L_INFO;
	struct store_options so;
	char err[512], *end;
	long fd = -1;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'p': name = optarg; break;
		case 'f': fd = strtol(optarg, &end, 10); if (*end) fd = -1; break;
		case 'l': level = optarg; break;
		case 'P': return probe(optarg);
		default: return WORKER_EXIT_CONFIG;
		}
	}
	log_level_parse(level, &lvl);
	log_init("worker", lvl);
	if (path == NULL || name == NULL || fd < 3 || optind != argc) {
		log_error("usage: codeq-worker --config FILE --pool NAME --fd N "
		    "[--log-level LEVEL] (started by codeqd)");
		return WORKER_EXIT_CONFIG;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		log_error("cannot read the configuration", "error", err);
		return WORKER_EXIT_CONFIG;
	}
	if ((pool = config_find_pool(&cfg, name)) == NULL) {
		log_error("no such pool in the configuration", "pool", name);
		config_free(&cfg);
		return WORKER_EXIT_CONFIG;
	}
	/* As codeqd builds them (dispatcher/main.c): the same shards. */
	if (store_options_load(&cfg, -1, &so, err, sizeof(err)) < 0) {
		log_error("cannot read a password_file", "error", err);
		config_free(&cfg);
		return WORKER_EXIT_CONFIG;
	}
	rc = worker_main(&cfg, pool, cfg.store.url, &so.o, (int)fd);
	store_options_free(&so);
	config_free(&cfg);
	return rc;
}
