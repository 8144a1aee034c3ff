/*
 * store.c: the blocking connections of a codeq_t, one link per store (the
 * home and each shard): connect (with timeout, AUTH, SELECT), command
 * timeout, and reconnection with exponential backoff after a lost link.
 * Sending commands and routing them is store_cmd.c's.
 */
#include "backoff.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "keys.h"
#include "scripts.h"
#include "store.h"

static struct timeval
ms_tv(int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * hiredis writes with write(2): a write to a connection the store has
 * reset raises SIGPIPE, whose default action kills the process.  A library
 * must not change the caller's signal dispositions, so SIGPIPE is blocked
 * in this thread around each I/O call that may write, and a SIGPIPE raised
 * meanwhile is consumed (the write itself fails with EPIPE and becomes
 * CODEQ_ESTORE).
 *
 * The guard costs four system calls, more than the I/O it guards when a
 * pipelined reply is already buffered, so it is skipped when no write can
 * happen (nothing waits in hiredis' output buffer: redisGetReply only
 * writes what is there) or cannot hurt (SIGPIPE ignored by the process,
 * as codeq's own programs do: one sigaction query instead of four calls).
 */
static int
pipe_ignored(void)
{
	struct sigaction sa;

	return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

void
pipe_block(struct pipe_guard *g)
{
	sigset_t set, pending;

	if (!(g->active = !pipe_ignored()))
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void
pipe_unblock(struct pipe_guard *g)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set, pending;

	if (!g->active)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	if (!g->was_pending && sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1)
		while (sigtimedwait(&set, NULL, &zero) == -1 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}


static int
handshake_check(const struct store_link *l, redisContext *rc, redisReply *r,
    const char *what, codeq_error *err)
{
	int code = CODEQ_OK;

	if (r == NULL)
		code = cq_err(err, CODEQ_ESTORE, "%s: %s: %s", l->label, what,
		    rc->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK) ? "timed out" : rc->errstr);
	else if (r->type == REDIS_REPLY_ERROR && strcmp(what, "AUTH") == 0 &&
	    l->url->user[0] != '\0' && strstr(r->str, "wrong number of arg"))
		code = cq_err(err, CODEQ_EAUTH, "%s: the store refused the "
		    "password: it has no ACL users (KVRocks?): give the password "
		    "without a user: %s", l->label, r->str);
	else if (r->type == REDIS_REPLY_ERROR && strcmp(what, "AUTH") == 0)
		code = cq_err(err, CODEQ_EAUTH, "%s: the store refused "
		    "the password: %s", l->label, r->str);
	else if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOAUTH", 6) == 0)
		code = cq_err(err, CODEQ_EAUTH, "%s: the store wants a "
		    "password and none was given: %s", l->label, r->str);
	else if (r->type == REDIS_REPLY_ERROR)
		code = cq_err(err, CODEQ_ESTORE, "%s: %s: %s", l->label, what,
		    r->str);
	if (r != NULL)
		freeReplyObject(r);
	return code;
}

/*
 * KVRocks answers SELECT with OK and ignores it: every database number is
 * the same keyspace (namespaces, chosen by the AUTH token, separate
 * them).  A URL asking for database N there would silently share
 * database 0's queues, so it is refused; INFO server names the server.
 */
static int
db_is_real(const struct store_link *l, redisContext *rc, codeq_error *err)
{
	redisReply *r = redisCommand(rc, "INFO server");
	int kvrocks;

	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return handshake_check(l, rc, r, "INFO", err);
	kvrocks = strstr(r->str, "kvrocks_version:") != NULL;
	freeReplyObject(r);
	if (kvrocks)
		return cq_err(err, CODEQ_EINVAL, "%s is KVRocks, which "
		    "has no database %d (SELECT is ignored there): use /0, and a "
		    "KVRocks namespace token as the password to separate "
		    "deployments", l->label, l->url->db);
	return CODEQ_OK;
}

/* AUTH, SELECT, PING on a fresh connection. */
static int
handshake(const struct store_link *l, redisContext *rc, codeq_error *err)
{
	const struct store_url *u = l->url;
	redisReply *r;
	int code;

	if (u->password[0] != '\0') {
		r = u->user[0] != '\0' ?
		    redisCommand(rc, "AUTH %s %s", u->user, u->password) :
		    redisCommand(rc, "AUTH %s", u->password);
		if ((code = handshake_check(l, rc, r, "AUTH", err)) != CODEQ_OK)
			return code;
	}
	if (u->db != 0) {
		r = redisCommand(rc, "SELECT %d", u->db);
		if ((code = handshake_check(l, rc, r, "SELECT", err)) != CODEQ_OK)
			return code;
		if ((code = db_is_real(l, rc, err)) != CODEQ_OK)
			return code;
	}
	r = redisCommand(rc, "PING");
	return handshake_check(l, rc, r, "PING", err);
}

/* One connection attempt, bounded by the connect timeout for the TCP
 * connect and for the handshake (AUTH, SELECT, PING). */
static int
connect_once(codeq_t *c, struct store_link *l, codeq_error *err)
{
	struct pipe_guard g;
	redisContext *rc;
	int code;

	rc = store_url_connect(l->url, ms_tv(c->connect_timeout_ms));
	if (rc == NULL)
		return cq_err(err, CODEQ_ENOMEM, "%s: out of memory", l->label);
	if (rc->err) {
		code = cq_err(err, CODEQ_ESTORE, "%s: %s", l->label, rc->errstr);
		goto fail;
	}
	/* hiredis opens its socket without SOCK_CLOEXEC: a program this
	 * process starts must not inherit an authenticated connection. */
	if (fcntl(rc->fd, F_SETFD, FD_CLOEXEC) < 0) {
		code = cq_err(err, CODEQ_ESTORE, "%s: fcntl: %s", l->label,
		    strerror(errno));
		goto fail;
	}
	redisSetTimeout(rc, ms_tv(c->connect_timeout_ms));
	pipe_block(&g);
	code = handshake(l, rc, err);
	pipe_unblock(&g);
	if (code != CODEQ_OK)
		goto fail;
	redisSetTimeout(rc, ms_tv(c->command_timeout_ms));
	if (l->url->path[0] == '\0')	/* a socket has no keepalive */
		redisEnableKeepAlive(rc);
	l->rc = rc;
	return CODEQ_OK;
fail:
	redisFree(rc);
	return code;
}

int
store_link_ensure(codeq_t *c, size_t li, codeq_error *err)
{
	struct store_link *l = &c->links[li];
	int i, code = CODEQ_ESTORE;

	if (l->rc != NULL)
		return CODEQ_OK;
	for (i = 0; i <= c->reconnect_attempts; i++) {
		if (i > 0)
			sleep_ms(backoff_ms(i, 100, 2000));
		code = connect_once(c, l, err);
		/* A refusal in the middle of calls (a rotated password) is
		 * an unavailable store to the caller, which retries later;
		 * the message still says what happened. */
		if (code == CODEQ_EAUTH) {
			if (err != NULL)
				err->code = CODEQ_ESTORE;
			return CODEQ_ESTORE;
		}
		if (code != CODEQ_ESTORE)
			return code;
	}
	return code;
}

int
store_link_lost(codeq_t *c, size_t li, codeq_error *err)
{
	struct store_link *l = &c->links[li];
	const char *why = "connection lost";
	int code;

	if (l->rc != NULL) {
		if (l->rc->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			why = "command timed out";
		else if (l->rc->err == REDIS_ERR_EOF)
			why = "connection closed by the store";
		else if (l->rc->err)
			why = l->rc->errstr;
	}
	code = cq_err(err, CODEQ_ESTORE, "%s: %s", l->label, why);
	if (l->rc != NULL) {
		redisFree(l->rc);
		l->rc = NULL;
	}
	return code;
}

/* Parses url into link l, named label ("store HOST:PORT" for the home,
 * whose messages stay what they were before shards). */
static int
link_init(struct store_link *l, struct store_url *u, const char *url,
    const char *shard, const char *password, codeq_error *err)
{
	char redacted[256];
	int code;

	l->url = u;
	if ((code = store_url_parse(url, l->url, err)) != CODEQ_OK) {
		if (shard != NULL && err != NULL) {
			snprintf(redacted, sizeof(redacted), "%s", err->msg);
			cq_err(err, code, "shard %s: %s", shard, redacted);
		}
		return code;
	}
	if (password != NULL) {
		if (strlen(password) >= sizeof(l->url->password))
			return cq_err(err, CODEQ_EINVAL, "%s%spassword: too "
			    "long", shard ? shard : "", shard ? ": " : "");
		strcpy(l->url->password, password);
	}
	store_url_redact(url, redacted, sizeof(redacted));
	if (shard == NULL)
		snprintf(l->label, sizeof(l->label), "store %s", l->url->where);
	else
		snprintf(l->label, sizeof(l->label), "shard %s (%s)", shard,
		    redacted);
	l->sha = calloc(script_ndefs ? script_ndefs : 1, sizeof(*l->sha));
	if (l->sha == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	return CODEQ_OK;
}

static void
options(codeq_t *c, const codeq_options *opt)
{
	c->connect_timeout_ms = STORE_DEFAULT_CONNECT_TIMEOUT_MS;
	c->command_timeout_ms = STORE_DEFAULT_COMMAND_TIMEOUT_MS;
	c->reconnect_attempts = STORE_DEFAULT_RECONNECT_ATTEMPTS;
	c->max_payload = STORE_DEFAULT_MAX_PAYLOAD;
	c->retention_ms = STORE_DEFAULT_RETENTION_MS;
	if (opt == NULL)
		return;
	if (opt->connect_timeout_ms > 0)
		c->connect_timeout_ms = opt->connect_timeout_ms;
	if (opt->command_timeout_ms > 0)
		c->command_timeout_ms = opt->command_timeout_ms;
	if (opt->reconnect_attempts > 0)
		c->reconnect_attempts = opt->reconnect_attempts;
	else if (opt->reconnect_attempts < 0)
		c->reconnect_attempts = 0;	/* event loops: no sleeping */
	if (opt->max_payload > 0)
		c->max_payload = opt->max_payload;
	if (opt->retention_ms > 0)
		c->retention_ms = opt->retention_ms;
}

/*
 * A Redis Cluster: the seed URL (its password, or the options') is read
 * into links[0] as a single store's would be, then the cluster is opened
 * from it: the slot map read, the seed connected.  The other nodes are
 * connected on first use.
 */
static int
cluster_init(codeq_t *c, const codeq_options *opt, codeq_error *err)
{
	struct store_link *l = &c->links[0];
	int code;

	if (opt->nshards > 0)
		return cq_err(err, CODEQ_EINVAL, "cluster: shards are not "
		    "for a cluster, which routes every queue by its slot");
	if ((c->cl = calloc(1, sizeof(*c->cl))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	snprintf(l->label, sizeof(l->label), "cluster %s", c->url.where);
	/* cluster_open leaves cl closed when it fails. */
	if ((code = cluster_open(c->cl, &c->url, ms_tv(c->connect_timeout_ms),
	    err)) != CODEQ_OK) {
		free(c->cl);
		c->cl = NULL;
		return code;
	}
	cluster_set_timeout(c->cl, ms_tv(c->command_timeout_ms));
	return CODEQ_OK;
}

/* The map and one link per store, not connected yet. */
static int
links_init(codeq_t *c, const char *url, const codeq_options *opt,
    codeq_error *err)
{
	size_t n = opt != NULL ? opt->nshards : 0, i;
	int code;

	if (n > 0 && (code = shardmap_build(&c->map, opt->shards, n,
	    opt->shard_hash, err)) != CODEQ_OK)
		return code;
	if ((c->links = calloc(n + 1, sizeof(*c->links))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	c->nlinks = n + 1;
	if ((code = link_init(&c->links[0], &c->url, url, NULL,
	    opt != NULL ? opt->password : NULL, err)) != CODEQ_OK)
		return code;
	for (i = 1; i <= n; i++)
		if ((code = link_init(&c->links[i], &c->links[i].own,
		    c->map->urls[i],
		    c->map->names[i], c->map->passwords[i], err)) != CODEQ_OK)
			return code;
	return CODEQ_OK;
}

int
codeq_connect(const char *url, const codeq_options *opt, codeq_t **out,
    codeq_error *err)
{
	codeq_t *c;
	size_t i;
	int code;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	options(c, opt);
	if ((code = links_init(c, url, opt, err)) != CODEQ_OK)
		goto fail;
	c->rand_state = (unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16);
	if (opt != NULL && opt->cluster) {
		if ((code = cluster_init(c, opt, err)) != CODEQ_OK)
			goto fail;
		*out = c;
		return CODEQ_OK;
	}
	/* The first connection to each store is tried once: an unreachable
	 * store is an error within the connect timeout, not after the
	 * retries; a shard map naming one is an error now, not at the
	 * first call on its queues. */
	for (i = 0; i < c->nlinks; i++)
		if ((code = connect_once(c, &c->links[i], err)) != CODEQ_OK)
			goto fail;
	*out = c;
	return CODEQ_OK;
fail:
	codeq_close(c);
	return code;
}

void
codeq_close(codeq_t *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->cl != NULL) {
		store_cluster_drop_held(c);
		cluster_close(c->cl);
		free(c->cl);
	}
	free(c->held);
	for (i = 0; c->links != NULL && i < c->nlinks; i++) {
		if (c->links[i].rc != NULL)
			redisFree(c->links[i].rc);
		free(c->links[i].sha);
		explicit_bzero(c->links[i].own.password,
		    sizeof(c->links[i].own.password));
	}
	for (i = 0; i < c->nknown; i++)
		free(c->known[i]);
	explicit_bzero(c->url.password, sizeof(c->url.password));
	free(c->links);
	free(c->fifo);
	shardmap_free(c->map);
	free(c);
}

size_t
codeq_shard_of(codeq_t *c, const char *queue, const char **name)
{
	size_t i = c != NULL ? shardmap_route(c->map, queue) : 0;

	if (name != NULL)
		*name = i == 0 ? SHARDMAP_HOME : c->map->names[i];
	return i;
}

int
store_register_queue(codeq_t *c, const char *queue, codeq_error *err)
{
	redisReply *r;
	size_t i;
	int code;
	char *dup;

	for (i = 0; i < c->nknown; i++)
		if (strcmp(c->known[i], queue) == 0)
			return CODEQ_OK;
	r = store_command(c, err, "SADD %s %s", CODEQ_KEY_QUEUES, queue);
	if (r == NULL)
		return err ? err->code : CODEQ_ESTORE;
	code = store_reply_ok(r, "SADD " CODEQ_KEY_QUEUES, err);
	freeReplyObject(r);
	if (code != CODEQ_OK)
		return code;
	if ((dup = strdup(queue)) == NULL)
		return CODEQ_OK;	/* only a cache */
	if (c->nknown == STORE_KNOWN_QUEUES) {
		free(c->known[0]);
		memmove(c->known, c->known + 1,
		    (STORE_KNOWN_QUEUES - 1) * sizeof(c->known[0]));
		c->nknown--;
	}
	c->known[c->nknown++] = dup;
	return CODEQ_OK;
}

unsigned int
store_random(codeq_t *c)
{
	/* xorshift32: jitter only needs to spread retries apart. */
	unsigned int x = c->rand_state ? c->rand_state : 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->rand_state = x;
	return x % 1000000u;
}
