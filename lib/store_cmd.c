/*
 * store_cmd.c: sending commands on a codeq_t's links.  Each command goes
 * to the store of its first key (store.h says which key that is); the
 * replies of a pipeline come back in append order whatever the stores,
 * through a FIFO of the link each command went to.  With one store none
 * of this runs: commands go to the home as they are.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backoff.h"
#include "cluster.h"
#include "keys.h"
#include "store.h"

size_t
store_link_of_queue(const codeq_t *c, const char *queue)
{
	return shardmap_route(c->map, queue);
}

size_t
store_link_of_key(const codeq_t *c, const char *key, size_t len)
{
	return shardmap_route_key(c->map, key, len);
}

/* EVAL and EVALSHA name their keys after the script and numkeys. */
static int
is_eval(const char *name, size_t len)
{
	return (len == 4 && strncasecmp(name, "EVAL", 4) == 0) ||
	    (len == 7 && strncasecmp(name, "EVALSHA", 7) == 0);
}

/* The link of a command given as argc arguments. */
static size_t
route_argv(const codeq_t *c, int argc, const char **argv,
    const size_t *lens)
{
	size_t l0 = lens ? lens[0] : strlen(argv[0]);
	int key = 1;

	if (argc >= 3 && is_eval(argv[0], l0))
		key = atoi(argv[2]) > 0 ? 3 : argc;
	if (key >= argc)
		return 0;
	return store_link_of_key(c, argv[key], lens ? lens[key] :
	    strlen(argv[key]));
}

/* Argument i of a command in the protocol's format
 * (*N\r\n$L\r\nARG\r\n...), or -1 when it has fewer. */
static int
resp_arg(const char *cmd, size_t len, int i, const char **arg, size_t *alen)
{
	const char *p = cmd, *end = cmd + len;
	char *q;
	long n, l;
	int k;

	if (p >= end || *p != '*' || (n = strtol(p + 1, &q, 10)) <= i)
		return -1;
	for (p = q + 2, k = 0; p < end && *p == '$'; k++) {
		l = strtol(p + 1, &q, 10);
		p = q + 2;
		if (l < 0 || p + l > end)
			return -1;
		if (k == i) {
			*arg = p;
			*alen = (size_t)l;
			return 0;
		}
		p += l + 2;
	}
	return -1;
}

/* The routing key of a formatted command (store.h): 0, or -1 when it
 * has none. */
static int
formatted_key(const char *cmd, size_t len, const char **key, size_t *klen)
{
	const char *name, *a;
	size_t nlen, alen;
	int k = 1;

	if (resp_arg(cmd, len, 0, &name, &nlen) < 0)
		return -1;
	if (is_eval(name, nlen)) {
		if (resp_arg(cmd, len, 2, &a, &alen) < 0 || alen > 10 ||
		    atoi(a) <= 0)
			return -1;
		k = 3;
	}
	return resp_arg(cmd, len, k, key, klen);
}

/* The link of a formatted command. */
static size_t
route_formatted(const codeq_t *c, const char *cmd, size_t len)
{
	const char *a;
	size_t alen;

	if (formatted_key(cmd, len, &a, &alen) < 0)
		return 0;
	return store_link_of_key(c, a, alen);
}

/*
 * Cluster mode (c->cl).  Each command is sent by itself to the node of
 * its routing key's slot and its reply read at once, redirections
 * followed (cluster_formatted): a command without a key goes to the
 * node of slot 0, any node being as good.  Cluster mode trades
 * pipelining for transparency: a pipeline's commands are each one round
 * trip, their replies held in append order until store_get_reply (a
 * redirected reply in the middle of a pipeline would otherwise have to
 * be resent out of order).
 */
static void
nap_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* A slot being migrated, which ends soon: TRYAGAIN (a multi-key
 * command whose keys are split between the two nodes: nothing ran), or
 * Redis 7 refusing a script a key the migrating source lacks (codeq's
 * scripts build their keys from the queue's tag, undeclared, and read
 * absent ones such as codeq:{Q}:conf).  The latter aborts the script at
 * that call: what it wrote before stays (docs/storage.md, "Redis
 * Cluster", says why that is a limit of live migration). */
static int
is_tryagain(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	    (strncmp(r->str, "TRYAGAIN", 8) == 0 ||
	    strstr(r->str, "attempted to access a non local key") != NULL);
}

/* One command on the cluster.  Retried with backoff only when nothing
 * was sent (no node reachable: a failover under way: reconnect_attempts
 * times) or the slot is being migrated (for as long as a reply may take:
 * the command timeout); a lost reply is ESTORE at once, as on one store. */
static redisReply *
cluster_send(codeq_t *c, const char *key, size_t klen, const char *cmd,
    size_t len, codeq_error *err)
{
	struct pipe_guard g;
	redisReply *r;
	int64_t waited = 0, nap;
	int down = 0, busy = 0;

	for (;;) {
		pipe_block(&g);
		r = cluster_formatted(c->cl, key, klen, cmd, len, err);
		pipe_unblock(&g);
		if (r != NULL && !is_tryagain(r))
			return r;
		if (r == NULL && (!c->cl->unsent || down++ >= c->reconnect_attempts))
			break;
		nap = r != NULL ? backoff_ms(++busy, 20, 500) :
		    backoff_ms(down, 100, 2000);
		if (r != NULL && waited + nap > c->command_timeout_ms)
			return r;	/* the caller sees the store's word */
		if (r != NULL)
			freeReplyObject(r);
		nap_ms(nap);
		waited += nap;
		if (r == NULL)
			cluster_refresh(c->cl, -1, NULL);
	}
	if (err != NULL && err->code == CODEQ_EAUTH)
		err->code = CODEQ_ESTORE;	/* as store_link_ensure says */
	return NULL;
}

static int
is_scan(const char *cmd, size_t len)
{
	const char *name;
	size_t nlen;

	return resp_arg(cmd, len, 0, &name, &nlen) == 0 && nlen == 4 &&
	    strncasecmp(name, "SCAN", 4) == 0;
}

/* The masters, in node order: the nodes serving a slot. */
static int
is_master(const struct cluster *cl, size_t n)
{
	size_t s;

	for (s = 0; s < CLUSTER_SLOTS; s++)
		if (cl->slot_node[s] == (int16_t)n)
			return 1;
	return 0;
}

static int
next_master(const struct cluster *cl, size_t from)
{
	size_t n;

	for (n = from; n < cl->nnodes; n++)
		if (is_master(cl, n))
			return (int)n;
	return -1;
}

/* SCAN's cursor in a cluster: "N:C" is cursor C of node N; "0" starts
 * at the first master and is the end after the last.  The cursor a node
 * answers is rewritten so, and the caller scans every master without
 * knowing it. */
static int
scan_rewrite(const struct cluster *cl, int node, redisReply *r,
    codeq_error *err)
{
	redisReply *cur;
	char buf[64];
	int next;
	char *dup;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    (cur = r->element[0])->type != REDIS_REPLY_STRING)
		return CODEQ_OK;	/* the caller says what is wrong */
	if (strcmp(cur->str, "0") != 0)
		snprintf(buf, sizeof(buf), "%d:%s", node, cur->str);
	else if ((next = next_master(cl, (size_t)node + 1)) >= 0)
		snprintf(buf, sizeof(buf), "%d:0", next);
	else
		snprintf(buf, sizeof(buf), "0");
	if ((dup = strdup(buf)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	free(cur->str);
	cur->str = dup;
	cur->len = strlen(dup);
	return CODEQ_OK;
}

/* SCAN CURSOR args...: sent to the cursor's node with its own cursor. */
static redisReply *
cluster_scan(codeq_t *c, const char *cmd, size_t len, codeq_error *err)
{
	const char *a, **av = NULL;
	size_t alen, *al = NULL, nargs = 0;
	char node_cur[32], *colon, *out = NULL;
	redisReply *r = NULL;
	long long olen;
	int node;

	if (resp_arg(cmd, len, 1, &a, &alen) < 0 || alen >= sizeof(node_cur)) {
		cq_err(err, CODEQ_EINVAL, "cluster: SCAN without a cursor");
		return NULL;
	}
	memcpy(node_cur, a, alen);
	node_cur[alen] = '\0';
	colon = strchr(node_cur, ':');
	node = colon ? atoi(node_cur) : next_master(c->cl, 0);
	if (node < 0 || (size_t)node >= c->cl->nnodes) {
		cq_err(err, CODEQ_EINVAL, "cluster: SCAN cursor %s: no such "
		    "node", node_cur);
		return NULL;
	}
	while (resp_arg(cmd, len, (int)nargs, &a, &alen) == 0)
		nargs++;
	if ((av = malloc(nargs * sizeof(*av))) == NULL ||
	    (al = malloc(nargs * sizeof(*al))) == NULL) {
		cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < nargs; k++)
		resp_arg(cmd, len, (int)k, &av[k], &al[k]);
	av[1] = colon ? colon + 1 : "0";
	al[1] = strlen(av[1]);
	if ((olen = redisFormatCommandArgv(&out, (int)nargs, av, al)) < 0) {
		cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = cluster_node_formatted(c->cl, node, out, (size_t)olen,
	    err)) != NULL && scan_rewrite(c->cl, node, r, err) != CODEQ_OK) {
		freeReplyObject(r);
		r = NULL;
	}
fail:
	if (out != NULL)
		redisFreeCommand(out);
	free(av);
	free(al);
	return r;
}

static redisReply *
cluster_command(codeq_t *c, const char *cmd, size_t len, codeq_error *err)
{
	const char *key = "";
	size_t klen = 0;

	if (is_scan(cmd, len))
		return cluster_scan(c, cmd, len, err);
	if (formatted_key(cmd, len, &key, &klen) < 0) {
		key = "";
		klen = 0;
	}
	return cluster_send(c, key, klen, cmd, len, err);
}

static redisReply *
cluster_vcommand(codeq_t *c, codeq_error *err, const char *fmt, va_list ap)
{
	redisReply *r;
	char *cmd;
	int len;

	if ((len = redisvFormatCommand(&cmd, fmt, ap)) < 0) {
		cq_err(err, CODEQ_ENOMEM, "cluster: cannot format a command");
		return NULL;
	}
	r = cluster_command(c, cmd, (size_t)len, err);
	redisFreeCommand(cmd);
	return r;
}

static redisReply *
cluster_argv_cmd(codeq_t *c, int argc, const char **argv, const size_t *lens,
    codeq_error *err)
{
	redisReply *r;
	char *cmd;
	long long len;

	if ((len = redisFormatCommandArgv(&cmd, argc, argv, lens)) < 0) {
		cq_err(err, CODEQ_ENOMEM, "cluster: cannot format a command");
		return NULL;
	}
	r = cluster_command(c, cmd, (size_t)len, err);
	redisFreeCommand(cmd);
	return r;
}

/* Keeps a pipelined reply (NULL: the command's error) for
 * store_get_reply. */
static int
cluster_hold(codeq_t *c, redisReply *r, codeq_error *err)
{
	size_t cap, k;
	redisReply **v;

	if (r == NULL)
		return err != NULL ? err->code : CODEQ_ESTORE;
	if (c->held_len == c->held_cap) {
		cap = c->held_cap ? c->held_cap * 2 : 64;
		if ((v = malloc(cap * sizeof(*v))) == NULL) {
			freeReplyObject(r);
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		}
		for (k = 0; k < c->held_len; k++)
			v[k] = c->held[(c->held_head + k) % c->held_cap];
		free(c->held);
		c->held = v;
		c->held_cap = cap;
		c->held_head = 0;
	}
	c->held[(c->held_head + c->held_len++) % c->held_cap] = r;
	return CODEQ_OK;
}

static redisReply *
cluster_unhold(codeq_t *c, codeq_error *err)
{
	redisReply *r;

	if (c->held_len == 0) {
		cq_err(err, CODEQ_EPROTO, "store: no reply is owed");
		return NULL;
	}
	r = c->held[c->held_head];
	c->held_head = (c->held_head + 1) % c->held_cap;
	c->held_len--;
	return r;
}

void
store_cluster_drop_held(codeq_t *c)
{
	while (c->held_len > 0)
		freeReplyObject(cluster_unhold(c, NULL));
}

static redisReply *
link_read(codeq_t *c, size_t i, codeq_error *err)
{
	struct store_link *l = &c->links[i];
	struct pipe_guard g;
	void *r = NULL;
	int rc;

	if (l->rc == NULL) {
		cq_err(err, CODEQ_ESTORE, "%s: connection lost", l->label);
		return NULL;
	}
	if (sdslen(l->rc->obuf) == 0) {
		/* Nothing to write: a buffered reply or a read only. */
		rc = redisGetReply(l->rc, &r);
	} else {
		pipe_block(&g);
		rc = redisGetReply(l->rc, &r);
		pipe_unblock(&g);
	}
	if (rc != REDIS_OK || r == NULL) {
		store_link_lost(c, i, err);
		return NULL;
	}
	return r;
}

/* Sends a formatted command on link i and waits for its reply. */
static redisReply *
link_formatted(codeq_t *c, size_t i, const char *cmd, size_t len,
    codeq_error *err)
{
	if (store_link_ensure(c, i, err) != CODEQ_OK)
		return NULL;
	if (redisAppendFormattedCommand(c->links[i].rc, cmd, len) != REDIS_OK) {
		cq_err(err, CODEQ_ENOMEM, "%s: cannot queue a command",
		    c->links[i].label);
		return NULL;
	}
	return link_read(c, i, err);
}

static redisReply *
link_vcommand(codeq_t *c, size_t i, codeq_error *err, const char *fmt,
    va_list ap)
{
	struct pipe_guard g;
	redisReply *r;

	if (store_link_ensure(c, i, err) != CODEQ_OK)
		return NULL;
	pipe_block(&g);
	r = redisvCommand(c->links[i].rc, fmt, ap);
	pipe_unblock(&g);
	if (r == NULL)
		store_link_lost(c, i, err);
	return r;
}

redisReply *
store_link_command(codeq_t *c, size_t i, codeq_error *err, const char *fmt,
    ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = c->cl != NULL ? cluster_vcommand(c, err, fmt, ap) :
	    link_vcommand(c, i, err, fmt, ap);
	va_end(ap);
	return r;
}

redisReply *
store_command(codeq_t *c, codeq_error *err, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;
	char *cmd;
	int len;

	va_start(ap, fmt);
	if (c->nlinks == 1) {
		r = c->cl != NULL ? cluster_vcommand(c, err, fmt, ap) :
		    link_vcommand(c, 0, err, fmt, ap);
		va_end(ap);
		return r;
	}
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		cq_err(err, CODEQ_ENOMEM, "store: cannot format a command");
		return NULL;
	}
	r = link_formatted(c, route_formatted(c, cmd, (size_t)len), cmd,
	    (size_t)len, err);
	redisFreeCommand(cmd);
	return r;
}

redisReply *
store_link_argv(codeq_t *c, size_t i, int argc, const char **argv,
    const size_t *lens, codeq_error *err)
{
	struct pipe_guard g;
	redisReply *r;

	if (c->cl != NULL)
		return cluster_argv_cmd(c, argc, argv, lens, err);
	if (store_link_ensure(c, i, err) != CODEQ_OK)
		return NULL;
	pipe_block(&g);
	r = redisCommandArgv(c->links[i].rc, argc, argv, lens);
	pipe_unblock(&g);
	if (r == NULL)
		store_link_lost(c, i, err);
	return r;
}

redisReply *
store_argv(codeq_t *c, int argc, const char **argv, const size_t *lens,
    codeq_error *err)
{
	size_t i = c->nlinks == 1 ? 0 : route_argv(c, argc, argv, lens);

	return store_link_argv(c, i, argc, argv, lens, err);
}

/* Notes that the next pipelined reply is link i's. */
static int
fifo_push(codeq_t *c, size_t i, codeq_error *err)
{
	size_t cap, k, *v;

	if (c->fifo_len == c->fifo_cap) {
		cap = c->fifo_cap ? c->fifo_cap * 2 : 64;
		if ((v = malloc(cap * sizeof(*v))) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		for (k = 0; k < c->fifo_len; k++)
			v[k] = c->fifo[(c->fifo_head + k) % c->fifo_cap];
		free(c->fifo);
		c->fifo = v;
		c->fifo_cap = cap;
		c->fifo_head = 0;
	}
	c->fifo[(c->fifo_head + c->fifo_len++) % c->fifo_cap] = i;
	return CODEQ_OK;
}

static size_t
fifo_pop(codeq_t *c)
{
	size_t i = c->fifo[c->fifo_head];

	c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
	c->fifo_len--;
	return i;
}

int
store_link_append_argv(codeq_t *c, size_t i, int argc, const char **argv,
    const size_t *lens, codeq_error *err)
{
	int code;

	if (c->cl != NULL)
		return cluster_hold(c, cluster_argv_cmd(c, argc, argv, lens, err),
		    err);
	if ((code = store_link_ensure(c, i, err)) != CODEQ_OK)
		return code;
	if (c->nlinks > 1 && (code = fifo_push(c, i, err)) != CODEQ_OK)
		return code;
	if (redisAppendCommandArgv(c->links[i].rc, argc, argv, lens) !=
	    REDIS_OK) {
		if (c->nlinks > 1)
			c->fifo_len--;
		return cq_err(err, CODEQ_ENOMEM, "%s: cannot queue a command",
		    c->links[i].label);
	}
	return CODEQ_OK;
}

int
store_append_argv(codeq_t *c, int argc, const char **argv, const size_t *lens,
    codeq_error *err)
{
	size_t i = c->nlinks == 1 ? 0 : route_argv(c, argc, argv, lens);

	return store_link_append_argv(c, i, argc, argv, lens, err);
}

static int
append_formatted(codeq_t *c, const char *cmd, size_t len, codeq_error *err)
{
	size_t i = route_formatted(c, cmd, len);
	int code;

	if ((code = store_link_ensure(c, i, err)) != CODEQ_OK ||
	    (code = fifo_push(c, i, err)) != CODEQ_OK)
		return code;
	if (redisAppendFormattedCommand(c->links[i].rc, cmd, len) != REDIS_OK) {
		c->fifo_len--;
		return cq_err(err, CODEQ_ENOMEM, "%s: cannot queue a command",
		    c->links[i].label);
	}
	return CODEQ_OK;
}

int
store_append_command(codeq_t *c, codeq_error *err, const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int code, len;

	va_start(ap, fmt);
	if (c->cl != NULL) {
		code = cluster_hold(c, cluster_vcommand(c, err, fmt, ap), err);
		va_end(ap);
		return code;
	}
	if (c->nlinks == 1) {
		if ((code = store_link_ensure(c, 0, err)) == CODEQ_OK &&
		    redisvAppendCommand(c->links[0].rc, fmt, ap) != REDIS_OK)
			code = cq_err(err, CODEQ_ENOMEM,
			    "store: cannot queue a command");
		va_end(ap);
		return code;
	}
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0)
		return cq_err(err, CODEQ_ENOMEM, "store: cannot format a command");
	code = append_formatted(c, cmd, (size_t)len, err);
	redisFreeCommand(cmd);
	return code;
}

/* Writes out every link's waiting commands before the first blocking
 * read, so that each store works on its share of a pipeline while the
 * others answer.  A link that fails is dropped; its replies then fail
 * when their turn comes. */
static void
flush_all(codeq_t *c)
{
	struct pipe_guard g;
	struct store_link *l;
	size_t i;
	int done;

	for (i = 0; i < c->nlinks; i++) {
		l = &c->links[i];
		if (l->rc == NULL || sdslen(l->rc->obuf) == 0)
			continue;
		pipe_block(&g);
		done = 0;
		while (!done && redisBufferWrite(l->rc, &done) == REDIS_OK)
			;
		pipe_unblock(&g);
		if (!done)
			store_link_lost(c, i, NULL);
	}
}

redisReply *
store_get_reply(codeq_t *c, codeq_error *err)
{
	redisReply *r;
	size_t i;

	if (c->nlinks == 1)
		return c->cl != NULL ? cluster_unhold(c, err) :
		    link_read(c, 0, err);
	if (c->fifo_len == 0) {
		cq_err(err, CODEQ_EPROTO, "store: no reply is owed");
		return NULL;
	}
	i = fifo_pop(c);
	if (c->links[i].rc != NULL && sdslen(c->links[i].rc->obuf) > 0)
		flush_all(c);
	if ((r = link_read(c, i, err)) == NULL) {
		codeq_error e = err != NULL ? *err : (codeq_error){ 0 };

		store_lost(c, NULL);	/* the rest of the pipeline too */
		if (err != NULL)
			*err = e;
	}
	return r;
}

int
store_lost(codeq_t *c, codeq_error *err)
{
	size_t i;
	int code = CODEQ_ESTORE, dropped = 0;

	if (c->cl != NULL) {
		/* Every reply was read already: only the held ones go. */
		store_cluster_drop_held(c);
		return cq_err(err, CODEQ_ESTORE, "cluster: pipeline abandoned");
	}
	if (c->nlinks == 1)
		return store_link_lost(c, 0, err);
	while (c->fifo_len > 0) {
		i = fifo_pop(c);
		if (c->links[i].rc != NULL) {
			code = store_link_lost(c, i, dropped ? NULL : err);
			dropped = 1;
		}
	}
	for (i = 0; i < c->nlinks; i++)	/* commands not even sent */
		if (c->links[i].rc != NULL && sdslen(c->links[i].rc->obuf) > 0) {
			code = store_link_lost(c, i, dropped ? NULL : err);
			dropped = 1;
		}
	if (!dropped)
		code = cq_err(err, CODEQ_ESTORE, "store: connection lost");
	return code;
}

int
store_reply_ok(const redisReply *r, const char *what, codeq_error *err)
{
	if (r->type == REDIS_REPLY_ERROR)
		return cq_err(err, CODEQ_EPROTO, "store: %s: %s", what, r->str);
	return CODEQ_OK;
}
