/*
 * store_options.c - codeq_options from [store] and [shard NAME].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_options.h"

/* *out: the secret of path, or NULL when path is unset. */
static int
secret(const char *path, const char *what, char **out, char *err,
    size_t errlen)
{
	char why[256];

	*out = NULL;
	if (path == NULL || *path == '\0')
		return 0;
	if ((*out = read_secret_line(path, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s password_file: %s", what, why);
		return -1;
	}
	return 0;
}

/* Copies, so that a reload freeing the configuration leaves them be. */
static int
shard_copy(const struct shard_config *sc, codeq_shard *sh)
{
	char **q;
	size_t i;

	sh->name = strdup(sc->name);
	sh->url = strdup(sc->url);
	if ((q = calloc(sc->nqueues + 1, sizeof(*q))) == NULL ||
	    sh->name == NULL || sh->url == NULL) {
		free(q);
		return -1;
	}
	sh->queues = (const char *const *)q;
	for (i = 0; i < sc->nqueues; i++, sh->nqueues++)
		if ((q[i] = strdup(sc->queues[i])) == NULL)
			return -1;
	return 0;
}

static void
shard_free(codeq_shard *sh)
{
	size_t i;

	free((char *)sh->name);
	free((char *)sh->url);
	for (i = 0; i < sh->nqueues; i++)
		free((char *)sh->queues[i]);
	free((char **)sh->queues);
}

static int
shards_load(const struct codeq_config *cfg, struct store_options *so,
    char *err, size_t errlen)
{
	char what[96];
	size_t i;

	so->shards = calloc(cfg->nshards, sizeof(*so->shards));
	so->passwords = calloc(cfg->nshards, sizeof(*so->passwords));
	if (so->shards == NULL || so->passwords == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	so->nshards = cfg->nshards;
	for (i = 0; i < cfg->nshards; i++) {
		const struct shard_config *sc = &cfg->shards[i];
		codeq_shard *sh = &so->shards[i];

		snprintf(what, sizeof(what), "[shard %s]", sc->name);
		if (secret(sc->password_file, what, &so->passwords[i], err,
		    errlen) < 0)
			return -1;
		sh->password = so->passwords[i];
		if (shard_copy(sc, sh) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

int
store_options_load(const struct codeq_config *cfg, int reconnect_attempts,
    struct store_options *so, char *err, size_t errlen)
{
	const struct store_config *s = &cfg->store;

	memset(so, 0, sizeof(*so));
	if (secret(s->password_file, "[store]", &so->password, err, errlen) < 0)
		goto fail;
	if (cfg->nshards > 0 && shards_load(cfg, so, err, errlen) < 0)
		goto fail;
	so->o.connect_timeout_ms = s->connect_timeout_ms;
	so->o.command_timeout_ms = s->command_timeout_ms;
	so->o.reconnect_attempts = reconnect_attempts;
	so->o.max_payload = s->max_payload;
	so->o.retention_ms = s->retention_ms;
	so->o.password = so->password && *so->password ? so->password : NULL;
	so->o.shards = so->shards;
	so->o.nshards = so->nshards;
	so->o.shard_hash = s->shard_hash;
	so->o.cluster = s->cluster;
	return 0;
fail:
	store_options_free(so);
	return -1;
}

void
store_options_free(struct store_options *so)
{
	size_t i;

	free_secret(so->password);
	for (i = 0; so->passwords != NULL && i < so->nshards; i++)
		free_secret(so->passwords[i]);
	for (i = 0; so->shards != NULL && i < so->nshards; i++)
		shard_free(&so->shards[i]);
	free(so->passwords);
	free(so->shards);
	memset(so, 0, sizeof(*so));
}
