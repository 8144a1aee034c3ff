/*
 * tests/storage/cluster_check.c - lib/cluster.c against a real cluster
 * (tests/storage/cluster.sh starts three masters on loopback):
 *   1. the slot map: every slot served, keys spread over every node, and
 *      cluster_key_slot equal to the server's CLUSTER KEYSLOT;
 *   2. ASK: a slot set migrating from its node to another; a key of it
 *      that the source does not hold is written where ASK sends it;
 *   3. MOVED: the slot's keys migrated and the slot given to the other
 *      node; with the map now stale every key of the slot is still read,
 *      by following MOVED, and the map is read again.
 * Usage: cluster_check redis://127.0.0.1:PORT/0
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

#define NKEYS 1000

static struct cluster cl;

static void
die(const char *what, const codeq_error *e)
{
	fprintf(stderr, "FAIL: %s%s%s\n", what, e ? ": " : "", e ? e->msg : "");
	exit(1);
}

static redisReply *
cmd(const char *key, const char *c0, const char *a1, const char *a2)
{
	const char *argv[3] = { c0, a1, a2 };
	size_t lens[3] = { strlen(c0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0 };
	codeq_error e;
	redisReply *r;

	r = cluster_argv(&cl, key, strlen(key), a2 ? 3 : a1 ? 2 : 1, argv, lens,
	    &e);
	if (r == NULL)
		die(c0, &e);
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "FAIL: %s %s: %s\n", c0, key, r->str);
		exit(1);
	}
	return r;
}

/* node i's answer to a command of its own (admin, not routed). */
static redisReply *
raw(int i, const char *fmt, const char *a, const char *b)
{
	redisReply *r = redisCommand(cl.nodes[i].ctx, fmt, a, b);

	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "FAIL: node %d: %s: %s\n", i, fmt,
		    r ? r->str : cl.nodes[i].ctx->errstr);
		exit(1);
	}
	return r;
}

static void
check_map(void)
{
	int used[CLUSTER_NODES_MAX] = { 0 }, nused = 0;
	char key[32], want[32];
	redisReply *r;
	size_t s;
	int i;

	for (s = 0; s < CLUSTER_SLOTS; s++)
		if (cl.slot_node[s] < 0)
			die("a slot without a node", NULL);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(want, sizeof(want), "v%d", i);
		freeReplyObject(cmd(key, "SET", key, want));
		used[cl.slot_node[cluster_key_slot(key, strlen(key))]] = 1;
		r = cmd(key, "CLUSTER", "KEYSLOT", key);
		if (r->type != REDIS_REPLY_INTEGER ||
		    (unsigned)r->integer != cluster_key_slot(key, strlen(key)))
			die("cluster_key_slot differs from CLUSTER KEYSLOT", NULL);
		freeReplyObject(r);
	}
	for (i = 0; i < CLUSTER_NODES_MAX; i++)
		nused += used[i];
	if (nused != 3 || cl.stats.moved != 0 || cl.stats.ask != 0)
		die("1000 keys not spread over 3 nodes without redirections",
		    NULL);
	printf("ok - slot map: 16384 slots on %zu nodes, %d keys on %d of "
	    "them, slots as CLUSTER KEYSLOT, no redirection\n", cl.nnodes,
	    NKEYS, nused);
}

static char *
node_id(int i)
{
	redisReply *r = raw(i, "CLUSTER MYID", NULL, NULL);
	char *id = strdup(r->str);

	freeReplyObject(r);
	return id;
}

/* k0's slot: set migrating from its node to the next; a new key of that
 * slot goes, by ASK, to the importing node. */
static void
check_ask(unsigned slot, int src, int dst, const char *src_id,
    const char *dst_id, char *newkey, size_t len)
{
	char s[16];
	redisReply *r;
	int i;

	snprintf(s, sizeof(s), "%u", slot);
	freeReplyObject(raw(dst, "CLUSTER SETSLOT %s IMPORTING %s", s, src_id));
	freeReplyObject(raw(src, "CLUSTER SETSLOT %s MIGRATING %s", s, dst_id));
	for (i = 0;; i++) {	/* a key of the slot that is not stored yet */
		snprintf(newkey, len, "n%d", i);
		if (cluster_key_slot(newkey, strlen(newkey)) == slot)
			break;
	}
	freeReplyObject(cmd(newkey, "SET", newkey, "asked"));
	if (cl.stats.ask != 1 || cl.slot_node[slot] != src)
		die("the write to a migrating slot did not follow one ASK", NULL);
	freeReplyObject(raw(dst, "ASKING", NULL, NULL));
	r = raw(dst, "GET %s", newkey, NULL);
	if (r->type != REDIS_REPLY_STRING || strcmp(r->str, "asked") != 0)
		die("the key written by ASK is not on the importing node", NULL);
	freeReplyObject(r);
	printf("ok - ASK: slot %u migrating, a new key of it written on the "
	    "importing node, the map unchanged\n", slot);
}

/* The slot's keys moved to dst and the slot given to it, told to every
 * node; the client's map still says src. */
static void
finish_migration(unsigned slot, int src, int dst, const char *dst_id)
{
	char s[16], port[16];
	redisReply *keys, *r;
	size_t k;

	snprintf(s, sizeof(s), "%u", slot);
	snprintf(port, sizeof(port), "%d", cl.nodes[dst].port);
	keys = raw(src, "CLUSTER GETKEYSINSLOT %s 1000", s, NULL);
	for (k = 0; k < keys->elements; k++) {
		r = redisCommand(cl.nodes[src].ctx, "MIGRATE %s %s %s 0 5000",
		    cl.nodes[dst].host, port, keys->element[k]->str);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			die("MIGRATE", NULL);
		freeReplyObject(r);
	}
	freeReplyObject(keys);
	for (k = 0; k < cl.nnodes; k++)
		freeReplyObject(raw((int)k, "CLUSTER SETSLOT %s NODE %s", s,
		    dst_id));
}

static void
check_moved(unsigned slot, int src, int dst, const char *newkey)
{
	uint64_t refreshes = cl.stats.refreshes;
	char key[32], want[32];
	redisReply *r;
	int i, n = 0;

	if (cl.slot_node[slot] != src)
		die("the map moved before any MOVED", NULL);
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (cluster_key_slot(key, strlen(key)) != slot)
			continue;
		snprintf(want, sizeof(want), "v%d", i);
		r = cmd(key, "GET", key, NULL);
		if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
			die("a key of the moved slot lost", NULL);
		freeReplyObject(r);
		n++;
	}
	r = cmd(newkey, "GET", newkey, NULL);
	if (r->type != REDIS_REPLY_STRING || strcmp(r->str, "asked") != 0)
		die("the key written by ASK lost", NULL);
	freeReplyObject(r);
	if (cl.stats.moved != 1 || cl.stats.refreshes != refreshes + 1 ||
	    cl.slot_node[slot] != dst)
		die("not one MOVED and one map refresh", NULL);
	printf("ok - MOVED: slot %u now on the other node; its %d keys and the "
	    "asked one read through one MOVED and one map refresh\n", slot, n + 1);
}

int
main(int argc, char **argv)
{
	struct timeval tv = { 5, 0 };
	struct store_url u;
	codeq_error e;
	char newkey[32], *src_id, *dst_id;
	unsigned slot;
	int i, src, dst;

	if (argc != 2 || store_url_parse(argv[1], &u, &e) != CODEQ_OK)
		die("usage: cluster_check redis://HOST:PORT/0", NULL);
	if (cluster_open(&cl, &u, tv, &e) != CODEQ_OK)
		die("cluster_open", &e);
	check_map();
	slot = cluster_key_slot("k0", 2);
	src = cl.slot_node[slot];
	dst = (src + 1) % (int)cl.nnodes;
	for (i = 0; i < (int)cl.nnodes; i++)	/* for the admin commands */
		if (cluster_node_connect(&cl, i, &e) != CODEQ_OK)
			die("connect", &e);
	src_id = node_id(src);
	dst_id = node_id(dst);
	check_ask(slot, src, dst, src_id, dst_id, newkey, sizeof(newkey));
	finish_migration(slot, src, dst, dst_id);
	check_moved(slot, src, dst, newkey);
	free(src_id);
	free(dst_id);
	cluster_close(&cl);
	return 0;
}
