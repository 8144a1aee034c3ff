/*
 * cluster.h - the Redis Cluster protocol, which KVRocks' cluster mode
 * speaks too: a key's hash slot (CRC16 of its hash tag), the slot map
 * from CLUSTER SLOTS, one connection per node, and the MOVED and ASK
 * redirections followed transparently.  hiredis 0.14 has no cluster
 * client; this is the small one codeq needs.
 *
 * Every codeq key of a queue carries the tag {Q}, so a queue is one slot
 * and each script call goes to one node (docs/storage.md, invariant 5).
 * A MOVED reply means the map is stale: it is read again from the node
 * that answered, and the command is sent where the map now says.  An ASK
 * reply (a slot being migrated) sends the command once to the node named,
 * after ASKING, without changing the map.  At most CLUSTER_REDIRECTS_MAX
 * redirections per command: a cluster that keeps redirecting gets an
 * error, not a loop.
 */
#ifndef CODEQ_CLUSTER_H
#define CODEQ_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "codeq.h"
#include "url.h"

#define CLUSTER_SLOTS 16384
#define CLUSTER_NODES_MAX 64
#define CLUSTER_REDIRECTS_MAX 5

/* The hash slot of key (its hash tag when it has a non-empty one). */
unsigned cluster_key_slot(const char *key, size_t len);

struct cluster_redirect {
	int ask;		/* 1: ASK, 0: MOVED */
	unsigned slot;
	char host[256];
	int port;
};

/* Parses "MOVED 3999 127.0.0.1:6381" or "ASK 3999 [::1]:6381" (an error
 * reply's text): 0, or -1 when msg is not a redirection. */
int cluster_redirect_parse(const char *msg, struct cluster_redirect *out);

struct cluster_node {
	char host[256];
	int port;
	redisContext *ctx;	/* opened on first use */
};

struct cluster_stats {
	uint64_t moved, ask, refreshes;
};

struct cluster {
	struct store_url seed;	/* the user and password of every node */
	struct timeval tv;	/* connect timeout (and command timeout
				 * until cluster_set_timeout) */
	struct timeval cmd_tv;	/* command timeout; 0: tv */
	int unsent;		/* the last call failed before sending:
				 * safe to retry */
	struct cluster_node nodes[CLUSTER_NODES_MAX];
	size_t nnodes;
	int16_t slot_node[CLUSTER_SLOTS];	/* index in nodes, -1: none */
	struct cluster_stats stats;
};

/* Connects to the seed node and reads the slot map. */
int cluster_open(struct cluster *cl, const struct store_url *seed,
    struct timeval tv, codeq_error *err);
void cluster_close(struct cluster *cl);

/* Reads the slot map again, from node i (or the first that answers
 * when i < 0). */
int cluster_refresh(struct cluster *cl, int i, codeq_error *err);

/* Sends argv to the node of key's slot, following redirections.  The
 * reply (NULL with err set on a connection failure or too many
 * redirections) is the caller's to free. */
redisReply *cluster_argv(struct cluster *cl, const char *key, size_t keylen,
    int argc, const char **argv, const size_t *lens, codeq_error *err);

/* The same for a command formatted in the protocol (redisFormatCommand).
 * A reply lost after the command was sent (I/O error, timeout) is NULL
 * with the node named and the map read again; the command is not sent
 * again (its effect is unknown).  cl->unsent says when nothing was sent
 * (no node could be reached): the caller may retry. */
redisReply *cluster_formatted(struct cluster *cl, const char *key,
    size_t keylen, const char *cmd, size_t len, codeq_error *err);

/* A formatted command sent to node i as it is (SCAN of one node). */
redisReply *cluster_node_formatted(struct cluster *cl, int i,
    const char *cmd, size_t len, codeq_error *err);

/* The command timeout of every node, from now on. */
void cluster_set_timeout(struct cluster *cl, struct timeval tv);

/* Node i connected and logged in (every node: to load scripts, or for
 * the administration of a slot). */
int cluster_node_connect(struct cluster *cl, int i, codeq_error *err);

/* The node of a slot: its index, connected (-1 with err set). */
int cluster_node_of(struct cluster *cl, unsigned slot, codeq_error *err);

#endif
