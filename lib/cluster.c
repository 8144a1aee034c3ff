/*
 * cluster.c - hash slots, the slot map and redirections (cluster.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "store.h"

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the Redis Cluster
 * specification's key hash. */
static uint16_t
crc16(const char *p, size_t n)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (uint16_t)((unsigned char)p[i] << 8);
		for (b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 :
			    crc << 1);
	}
	return crc;
}

unsigned
cluster_key_slot(const char *key, size_t len)
{
	const char *open, *close;

	/* The tag is what lies between the first '{' and the first '}'
	 * after it, when that is not empty. */
	if ((open = memchr(key, '{', len)) != NULL &&
	    (close = memchr(open + 1, '}', len - (size_t)(open + 1 - key))) !=
	    NULL && close > open + 1)
		return crc16(open + 1, (size_t)(close - open - 1)) %
		    CLUSTER_SLOTS;
	return crc16(key, len) % CLUSTER_SLOTS;
}

/* "host:port", "[v6]:port" or "v6:port" (the last colon ends the host). */
static int
parse_endpoint(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *he;
	char *end;
	long p;

	if (colon == NULL || colon == s)
		return -1;
	he = colon;
	if (*h == '[') {
		if (colon[-1] != ']')
			return -1;
		h++;
		he = colon - 1;
	}
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' && *end != '@')	/* CLUSTER NODES: port@cport */
		return -1;
	if (p < 1 || p > 65535 || he <= h || (size_t)(he - h) >= hostlen)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (int)p;
	return 0;
}

int
cluster_redirect_parse(const char *msg, struct cluster_redirect *out)
{
	char kind[8], where[300];
	unsigned slot;

	if (sscanf(msg, "%7s %u %299s", kind, &slot, where) != 3 ||
	    slot >= CLUSTER_SLOTS)
		return -1;
	if (strcmp(kind, "MOVED") == 0)
		out->ask = 0;
	else if (strcmp(kind, "ASK") == 0)
		out->ask = 1;
	else
		return -1;
	out->slot = slot;
	return parse_endpoint(where, out->host, sizeof(out->host), &out->port);
}

/* The index of node host:port, added when new; -1 when the table is full. */
static int
node_index(struct cluster *cl, const char *host, int port)
{
	size_t i;

	for (i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i].port == port &&
		    strcmp(cl->nodes[i].host, host) == 0)
			return (int)i;
	if (cl->nnodes == CLUSTER_NODES_MAX)
		return -1;
	snprintf(cl->nodes[cl->nnodes].host, sizeof(cl->nodes[0].host), "%s",
	    host);
	cl->nodes[cl->nnodes].port = port;
	cl->nodes[cl->nnodes].ctx = NULL;
	return (int)cl->nnodes++;
}

/* AUTH with the seed's credentials, when it has a password. */
static int
node_auth(struct cluster *cl, struct cluster_node *n, codeq_error *err)
{
	const struct store_url *u = &cl->seed;
	redisReply *r;
	int code = CODEQ_OK;

	if (u->password[0] == '\0')
		return CODEQ_OK;
	r = u->user[0] != '\0' ?
	    redisCommand(n->ctx, "AUTH %s %s", u->user, u->password) :
	    redisCommand(n->ctx, "AUTH %s", u->password);
	if (r == NULL)
		code = cq_err(err, CODEQ_ESTORE, "cluster node %s:%d: AUTH: %s",
		    n->host, n->port, n->ctx->errstr);
	else if (r->type == REDIS_REPLY_ERROR)
		code = cq_err(err, CODEQ_EAUTH, "cluster node %s:%d: the node "
		    "refused the password: %s", n->host, n->port, r->str);
	if (r != NULL)
		freeReplyObject(r);
	return code;
}

static void
node_drop(struct cluster_node *n)
{
	if (n->ctx != NULL)
		redisFree(n->ctx);
	n->ctx = NULL;
}

int
cluster_node_connect(struct cluster *cl, int i, codeq_error *err)
{
	struct cluster_node *n = &cl->nodes[i];
	int code;

	if (n->ctx != NULL)
		return CODEQ_OK;
	if ((n->ctx = redisConnectWithTimeout(n->host, n->port, cl->tv)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "cluster: out of memory");
	if (n->ctx->err) {
		code = cq_err(err, CODEQ_ESTORE, "cluster node %s:%d: %s",
		    n->host, n->port, n->ctx->errstr);
		goto fail;
	}
	/* As the store link: a program this process starts must not
	 * inherit an authenticated connection. */
	if (fcntl(n->ctx->fd, F_SETFD, FD_CLOEXEC) < 0) {
		code = cq_err(err, CODEQ_ESTORE, "cluster: fcntl: %s",
		    strerror(errno));
		goto fail;
	}
	redisSetTimeout(n->ctx, cl->tv);
	if ((code = node_auth(cl, n, err)) != CODEQ_OK)
		goto fail;
	if (cl->cmd_tv.tv_sec != 0 || cl->cmd_tv.tv_usec != 0)
		redisSetTimeout(n->ctx, cl->cmd_tv);
	redisEnableKeepAlive(n->ctx);
	return CODEQ_OK;
fail:
	node_drop(n);
	return code;
}

/* One range of CLUSTER SLOTS: {start, end, {host, port, ...}, replicas}.
 * An empty host is the node that answered (Redis 7 when it does not know
 * its own address). */
static int
apply_range(struct cluster *cl, const redisReply *e, const char *asked,
    codeq_error *err)
{
	const redisReply *m;
	long long lo, hi, s;
	int i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
	    e->element[0]->type != REDIS_REPLY_INTEGER ||
	    e->element[1]->type != REDIS_REPLY_INTEGER ||
	    (m = e->element[2])->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    m->element[1]->type != REDIS_REPLY_INTEGER)
		return cq_err(err, CODEQ_EPROTO, "CLUSTER SLOTS: malformed range");
	lo = e->element[0]->integer;
	hi = e->element[1]->integer;
	if (lo < 0 || hi >= CLUSTER_SLOTS || lo > hi)
		return cq_err(err, CODEQ_EPROTO, "CLUSTER SLOTS: range %lld-%lld",
		    lo, hi);
	i = node_index(cl, m->element[0]->len > 0 && strcmp(m->element[0]->str,
	    "?") != 0 ? m->element[0]->str : asked, (int)m->element[1]->integer);
	if (i < 0)
		return cq_err(err, CODEQ_EINVAL, "cluster: more than %d nodes",
		    CLUSTER_NODES_MAX);
	for (s = lo; s <= hi; s++)
		cl->slot_node[s] = (int16_t)i;
	return CODEQ_OK;
}

/* The slot map as node i tells it. */
static int
refresh_from(struct cluster *cl, int i, codeq_error *err)
{
	redisReply *r;
	size_t k;
	int code;

	if ((code = cluster_node_connect(cl, i, err)) != CODEQ_OK)
		return code;
	if ((r = redisCommand(cl->nodes[i].ctx, "CLUSTER SLOTS")) == NULL) {
		code = cq_err(err, CODEQ_ESTORE, "cluster node %s:%d: CLUSTER "
		    "SLOTS: %s", cl->nodes[i].host, cl->nodes[i].port,
		    cl->nodes[i].ctx->errstr);
		node_drop(&cl->nodes[i]);
		return code;
	}
	if (r->type != REDIS_REPLY_ARRAY)
		code = cq_err(err, CODEQ_EPROTO, "cluster node %s:%d: CLUSTER "
		    "SLOTS: %s", cl->nodes[i].host, cl->nodes[i].port,
		    r->type == REDIS_REPLY_ERROR ? r->str : "not an array");
	for (k = 0; code == CODEQ_OK && k < CLUSTER_SLOTS; k++)
		cl->slot_node[k] = -1;
	for (k = 0; code == CODEQ_OK && k < r->elements; k++)
		code = apply_range(cl, r->element[k], cl->nodes[i].host, err);
	freeReplyObject(r);
	if (code == CODEQ_OK)
		cl->stats.refreshes++;
	return code;
}

int
cluster_refresh(struct cluster *cl, int i, codeq_error *err)
{
	size_t k;
	int code = CODEQ_ESTORE;

	if (i >= 0)
		return refresh_from(cl, i, err);
	for (k = 0; k < cl->nnodes; k++)
		if ((code = refresh_from(cl, (int)k, err)) == CODEQ_OK)
			return CODEQ_OK;
	return code;
}

int
cluster_open(struct cluster *cl, const struct store_url *seed,
    struct timeval tv, codeq_error *err)
{
	int code;

	memset(cl, 0, sizeof(*cl));
	cl->seed = *seed;
	cl->tv = tv;
	if (seed->path[0] != '\0')
		return cq_err(err, CODEQ_EINVAL, "cluster: the seed must be a "
		    "TCP address, not the socket %s", seed->path);
	if (seed->db != 0)
		return cq_err(err, CODEQ_EINVAL, "cluster: a cluster has "
		    "database 0 only, not %d", seed->db);
	node_index(cl, seed->host, seed->port);
	if ((code = cluster_refresh(cl, 0, err)) != CODEQ_OK)
		cluster_close(cl);
	return code;
}

void
cluster_close(struct cluster *cl)
{
	size_t i;

	for (i = 0; i < cl->nnodes; i++)
		node_drop(&cl->nodes[i]);
	explicit_bzero(cl->seed.password, sizeof(cl->seed.password));
	cl->nnodes = 0;
}

int
cluster_node_of(struct cluster *cl, unsigned slot, codeq_error *err)
{
	int i = cl->slot_node[slot % CLUSTER_SLOTS];

	if (i < 0) {
		cq_err(err, CODEQ_ESTORE, "cluster: no node serves slot %u",
		    slot);
		return -1;
	}
	return cluster_node_connect(cl, i, err) == CODEQ_OK ? i : -1;
}

/* One send of a formatted command to node i (ASKING first when ask):
 * the reply, or NULL after dropping the connection. */
static redisReply *
send_to(struct cluster *cl, int i, int ask, const char *cmd, size_t len,
    codeq_error *err)
{
	struct cluster_node *n = &cl->nodes[i];
	redisReply *r = NULL;

	if ((ask && redisAppendCommand(n->ctx, "ASKING") != REDIS_OK) ||
	    redisAppendFormattedCommand(n->ctx, cmd, len) != REDIS_OK) {
		cq_err(err, CODEQ_ENOMEM, "cluster: out of memory");
		node_drop(n);
		return NULL;
	}
	if (ask && redisGetReply(n->ctx, (void **)&r) == REDIS_OK) {
		freeReplyObject(r);	/* +OK, or an error the next says */
		r = NULL;
	}
	if ((!ask || n->ctx->err == 0) &&
	    redisGetReply(n->ctx, (void **)&r) == REDIS_OK && r != NULL)
		return r;
	cq_err(err, CODEQ_ESTORE, "cluster node %s:%d: %s", n->host, n->port,
	    n->ctx->err == REDIS_ERR_IO && (errno == EAGAIN ||
	    errno == EWOULDBLOCK) ? "command timed out" :
	    n->ctx->err == REDIS_ERR_EOF ? "connection closed by the node" :
	    n->ctx->errstr);
	node_drop(n);
	return NULL;
}

redisReply *
cluster_node_formatted(struct cluster *cl, int i, const char *cmd, size_t len,
    codeq_error *err)
{
	cl->unsent = 1;
	if (cluster_node_connect(cl, i, err) != CODEQ_OK)
		return NULL;
	cl->unsent = 0;
	return send_to(cl, i, 0, cmd, len, err);
}

void
cluster_set_timeout(struct cluster *cl, struct timeval tv)
{
	size_t i;

	cl->cmd_tv = tv;
	for (i = 0; i < cl->nnodes; i++)
		if (cl->nodes[i].ctx != NULL)
			redisSetTimeout(cl->nodes[i].ctx, tv);
}

/* What a redirection changes: ASK names the node of the next send only;
 * MOVED moves the slot in the map, which is read again from that node. */
static int
follow(struct cluster *cl, const struct cluster_redirect *rd, int *ask_node,
    codeq_error *err)
{
	int i = node_index(cl, rd->host, rd->port);

	if (i < 0)
		return cq_err(err, CODEQ_EINVAL, "cluster: more than %d nodes",
		    CLUSTER_NODES_MAX);
	if (rd->ask) {
		cl->stats.ask++;
		*ask_node = i;
		return cluster_node_connect(cl, i, err);
	}
	cl->stats.moved++;
	*ask_node = -1;
	if (cluster_refresh(cl, i, err) != CODEQ_OK)
		cl->slot_node[rd->slot] = (int16_t)i;	/* at least this slot */
	return CODEQ_OK;
}

redisReply *
cluster_formatted(struct cluster *cl, const char *key, size_t keylen,
    const char *cmd, size_t len, codeq_error *err)
{
	struct cluster_redirect rd;
	unsigned slot = cluster_key_slot(key, keylen);
	redisReply *r;
	int tries, i, ask = -1;

	for (tries = 0; tries <= CLUSTER_REDIRECTS_MAX; tries++) {
		cl->unsent = 1;
		if ((i = ask >= 0 ? ask : cluster_node_of(cl, slot, err)) < 0)
			return NULL;
		cl->unsent = 0;
		if ((r = send_to(cl, i, ask >= 0, cmd, len, err)) == NULL) {
			/* Its effect is unknown: not sent again.  The map is
			 * read again (a failover: the others know who serves
			 * the slot now) for the next call. */
			cluster_refresh(cl, -1, NULL);
			return NULL;
		}
		if (r->type != REDIS_REPLY_ERROR ||
		    cluster_redirect_parse(r->str, &rd) < 0)
			return r;
		freeReplyObject(r);
		if (follow(cl, &rd, &ask, err) != CODEQ_OK)
			return NULL;
	}
	cq_err(err, CODEQ_ESTORE, "cluster: slot %u: more than %d "
	    "redirections", slot, CLUSTER_REDIRECTS_MAX);
	return NULL;
}

redisReply *
cluster_argv(struct cluster *cl, const char *key, size_t keylen, int argc,
    const char **argv, const size_t *lens, codeq_error *err)
{
	redisReply *r;
	char *cmd;
	long long len;

	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		cq_err(err, CODEQ_ENOMEM, "cluster: cannot format a command");
		return NULL;
	}
	r = cluster_formatted(cl, key, keylen, cmd, (size_t)len, err);
	redisFreeCommand(cmd);
	return r;
}
