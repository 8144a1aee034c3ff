/*
 * main.c - codeq-webhooks: the notifier or the callbacks process
 * of codeqd, as its own program.
 *
 *   codeq-webhooks notifier|callbacks --config FILE --fd N [--log-level L]
 *
 * codeqd forks these two children and executes this program in them (the
 * notifier and callbacks rows of dispatcher/roles.c), so that libcurl and the TLS, Kerberos and
 * LDAP libraries it brings are mapped only where webhooks are sent, not in
 * codeqd or its workers.  FILE is the dispatcher's snapshot of its
 * configuration (a memfd: dispatcher/snapshot.c), N this child's end of its
 * socketpair.  Not meant to be run by hand.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "callbacks.h"
#include "conf.h"
#include "log.h"
#include "notifier.h"

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "fd", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *level = "info", *proc;
	struct codeq_config cfg;
	enum log_level lvl = LOG_L_INFO;
	char err[512], *end;
	long fd = -1;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': fd = strtol(optarg, &end, 10); if (*end) fd = -1; break;
		case 'l': level = optarg; break;
		default: return 64;
		}
	}
	proc = optind + 1 == argc ? argv[optind] : "";
	log_level_parse(level, &lvl);
	log_init(strcmp(proc, "callbacks") == 0 ? "callbacks" : "notifier", lvl);
	if (path == NULL || fd < 3 || (strcmp(proc, "notifier") != 0 &&
	    strcmp(proc, "callbacks") != 0)) {
		log_error("usage: codeq-webhooks notifier|callbacks --config FILE "
		    "--fd N [--log-level LEVEL] (started by codeqd)");
		return 64;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		log_error("cannot read the configuration", "error", err);
		return 78;
	}
	if (strcmp(proc, "notifier") == 0)
		rc = notifier_main(&cfg, (int)fd);
	else
		rc = callbacks_main(&cfg, (int)fd);
	config_free(&cfg);
	return rc;
}
