/*
 * shardmap.h - internal: which store holds a queue (codeq.h's shard
 * rules), without I/O, so that the blocking store (lib/store.c), the
 * daemons' asynchronous links (common/) and the unit tests share one
 * answer.
 *
 * Store 0 is the home store (the [store] url); store i is shards[i - 1].
 * A queue lives on the first shard whose queues name it exactly, else on
 * the first shard, in order, one of whose fnmatch(3) globs matches it,
 * else, in hash mode, on the store that rendezvous (highest random
 * weight) hashing of the queue name over "home" and every shard's name
 * picks, else on the home.  Adding or removing a store in hash mode moves
 * only the queues that go to, or came from, that store.
 *
 * A key codeq:{Q}:... routes as Q; every other key (the registry, the
 * subscriptions) lives on the home.
 */
#ifndef CODEQ_SHARDMAP_H
#define CODEQ_SHARDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "codeq.h"

#define SHARDMAP_HOME "home"

struct shardmap_rule {
	const char *queue;	/* a name or a glob (the map's copy) */
	size_t store;		/* 1.. */
};

struct shardmap {
	size_t nstores;		/* 1 + shards */
	char **names;		/* names[0] is "home" */
	char **urls;		/* urls[0] is NULL: the caller's */
	char **passwords;	/* NULL entries: the URL's */
	struct shardmap_rule *exact, *globs;
	size_t nexact, nglobs;
	int hash;
};

/* Builds the map of n shards (n may be 0: everything on the home).
 * Checks names (unique, not "home"), URLs (not empty), queue names and
 * globs, and that no queue is named by two shards: CODEQ_EINVAL with a
 * message, CODEQ_ENOMEM. */
int shardmap_build(struct shardmap **out, const struct codeq_shard *shards,
    size_t n, int hash, codeq_error *err);
void shardmap_free(struct shardmap *m);

/* The store of a queue (any string: the rules do not validate it). */
size_t shardmap_route(const struct shardmap *m, const char *queue);
/* The store of a key: that of Q for codeq:{Q}:..., else 0. */
size_t shardmap_route_key(const struct shardmap *m, const char *key,
    size_t len);

/* The rendezvous weight of queue on the store called name. */
uint64_t shardmap_weight(const char *name, const char *queue);

#endif
