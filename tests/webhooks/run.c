/*
 * tests/webhooks/run.c - runs the notifier or the callbacks process on its own,
 * without codeqd (no IPC socket), for the tests:
 *
 *   webhooks_run notifier|callbacks CONFIG
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "callbacks.h"
#include "conf.h"
#include "log.h"
#include "notifier.h"

int
main(int argc, char **argv)
{
	struct codeq_config cfg;
	enum log_level lvl = LOG_L_INFO;
	char err[512];
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: webhooks_run notifier|callbacks CONFIG\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(argv[2], &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cfg.daemon.log_level)
		log_level_parse(cfg.daemon.log_level, &lvl);
	log_init(argv[1], lvl);
	if (strcmp(argv[1], "notifier") == 0)
		rc = notifier_main(&cfg, -1);
	else if (strcmp(argv[1], "callbacks") == 0)
		rc = callbacks_main(&cfg, -1);
	else {
		fprintf(stderr, "webhooks_run: unknown process %s\n", argv[1]);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
