/*
 * store_cmd.c: sending commands on a codeq_t's links.  Each command goes
 * to the store of its first key (store.h says which key that is); the
 * replies of a pipeline come back in append order whatever the stores,
 * through a FIFO of the link each command went to.  With one store none
 * of this runs: commands go to the home as they are.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The link of a formatted command. */
static size_t
route_formatted(const codeq_t *c, const char *cmd, size_t len)
{
	const char *name, *a;
	size_t nlen, alen;
	int key = 1;

	if (resp_arg(cmd, len, 0, &name, &nlen) < 0)
		return 0;
	if (is_eval(name, nlen)) {
		if (resp_arg(cmd, len, 2, &a, &alen) < 0 || alen > 10 ||
		    atoi(a) <= 0)
			return 0;
		key = 3;
	}
	if (resp_arg(cmd, len, key, &a, &alen) < 0)
		return 0;
	return store_link_of_key(c, a, alen);
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
	r = link_vcommand(c, i, err, fmt, ap);
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
		r = link_vcommand(c, 0, err, fmt, ap);
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
		return link_read(c, 0, err);
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
