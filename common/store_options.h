/*
 * store_options.h - libcodeq's connect options from a configuration:
 * [store] (the home) and every [shard NAME], with their password files
 * read (passwords never travel in argv or messages).  One place builds
 * them for codeqd, its children and the CLI, so every process routes the
 * same queue to the same store.
 */
#ifndef CODEQ_STORE_OPTIONS_H
#define CODEQ_STORE_OPTIONS_H

#include <stddef.h>

#include "codeq.h"
#include "conf.h"

struct store_options {
	codeq_options o;	/* points into the fields below */
	codeq_shard *shards;
	char *password;		/* the home's; NULL: the URL's */
	char **passwords;	/* each shard's; NULL: its URL's */
	size_t nshards;
};

/* Fills so from cfg; reconnect_attempts as codeq_options'.  -1 with
 * "password_file: why" (or the shard's) in err.  so keeps copies: cfg
 * may be freed before it. */
int store_options_load(const struct codeq_config *cfg, int reconnect_attempts,
    struct store_options *so, char *err, size_t errlen);
void store_options_free(struct store_options *so);

#endif
