/*
 * cluster_map.h - a Redis Cluster's (or a KVRocks cluster's) slot map,
 * read synchronously from the [store] url (the seed) with its password
 * file, for the daemons' asynchronous links (store_links.c,
 * subscriber.c), which follow the map by themselves.
 */
#ifndef CODEQ_CLUSTER_MAP_H
#define CODEQ_CLUSTER_MAP_H

#include <stddef.h>

#include "cluster.h"
#include "conf.h"

/* Reads the map into cl (closed first if it held one).  -1 with err. */
int cluster_map_read(const struct codeq_config *cfg, struct cluster *cl,
    int timeout_ms, char *err, size_t errlen);
/* Whether the seed is KVRocks: its nodes do not pass a PUBLISH on to
 * the others, as a Redis Cluster's do (0 when it cannot tell). */
int cluster_map_is_kvrocks(struct cluster *cl);
/* Store u's address replaced by node i's (u as parsed from the seed). */
void cluster_map_node_url(const struct cluster *cl, size_t i,
    struct store_url *u);

#endif
