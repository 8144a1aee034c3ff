/*
 * store.c: the blocking connection of a codeq_t: connect (with timeout,
 * AUTH, SELECT), command timeout, and reconnection with exponential
 * backoff after a lost link.
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
struct pipe_guard {
	sigset_t old;
	int was_pending;
	int active;
};

static int
pipe_ignored(void)
{
	struct sigaction sa;

	return sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

static void
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

static void
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
handshake_check(codeq_t *c, redisContext *rc, redisReply *r, const char *what,
    codeq_error *err)
{
	int code = CODEQ_OK;

	if (r == NULL)
		code = cq_err(err, CODEQ_ESTORE, "store %s: %s: %s",
		    c->url.where, what,
		    rc->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK) ? "timed out" : rc->errstr);
	else if (r->type == REDIS_REPLY_ERROR && strcmp(what, "AUTH") == 0 &&
	    c->url.user[0] != '\0' && strstr(r->str, "wrong number of arg"))
		code = cq_err(err, CODEQ_EAUTH, "store %s: the store refused the "
		    "password: it has no ACL users (KVRocks?): give the password "
		    "without a user: %s", c->url.where, r->str);
	else if (r->type == REDIS_REPLY_ERROR && strcmp(what, "AUTH") == 0)
		code = cq_err(err, CODEQ_EAUTH, "store %s: the store refused "
		    "the password: %s", c->url.where, r->str);
	else if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOAUTH", 6) == 0)
		code = cq_err(err, CODEQ_EAUTH, "store %s: the store wants a "
		    "password and none was given: %s", c->url.where, r->str);
	else if (r->type == REDIS_REPLY_ERROR)
		code = cq_err(err, CODEQ_ESTORE, "store %s: %s: %s",
		    c->url.where, what, r->str);
	if (r != NULL)
		freeReplyObject(r);
	return code;
}

static int handshake(codeq_t *, redisContext *, codeq_error *);

/* One connection attempt, bounded by the connect timeout for the TCP
 * connect and for the handshake (AUTH, SELECT, PING). */
static int
connect_once(codeq_t *c, codeq_error *err)
{
	struct pipe_guard g;
	redisContext *rc;
	int code;

	rc = store_url_connect(&c->url, ms_tv(c->connect_timeout_ms));
	if (rc == NULL)
		return cq_err(err, CODEQ_ENOMEM, "store: out of memory");
	if (rc->err) {
		code = cq_err(err, CODEQ_ESTORE, "store %s: %s", c->url.where,
		    rc->errstr);
		redisFree(rc);
		return code;
	}
	/* hiredis opens its socket without SOCK_CLOEXEC: a program this
	 * process starts must not inherit an authenticated connection. */
	if (fcntl(rc->fd, F_SETFD, FD_CLOEXEC) < 0) {
		code = cq_err(err, CODEQ_ESTORE, "store: fcntl: %s", strerror(errno));
		redisFree(rc);
		return code;
	}
	redisSetTimeout(rc, ms_tv(c->connect_timeout_ms));
	pipe_block(&g);
	code = handshake(c, rc, err);
	pipe_unblock(&g);
	if (code != CODEQ_OK) {
		redisFree(rc);
		return code;
	}
	redisSetTimeout(rc, ms_tv(c->command_timeout_ms));
	if (c->url.path[0] == '\0')	/* a socket has no keepalive */
		redisEnableKeepAlive(rc);
	c->rc = rc;
	return CODEQ_OK;
}

/* AUTH, SELECT, PING on a fresh connection. */
/*
 * KVRocks answers SELECT with OK and ignores it: every database number is
 * the same keyspace (namespaces, chosen by the AUTH token, separate
 * them).  A URL asking for database N there would silently share
 * database 0's queues, so it is refused; INFO server names the server.
 */
static int
db_is_real(codeq_t *c, redisContext *rc, codeq_error *err)
{
	redisReply *r = redisCommand(rc, "INFO server");
	int kvrocks;

	if (r == NULL || r->type != REDIS_REPLY_STRING)
		return handshake_check(c, rc, r, "INFO", err);
	kvrocks = strstr(r->str, "kvrocks_version:") != NULL;
	freeReplyObject(r);
	if (kvrocks)
		return cq_err(err, CODEQ_EINVAL, "store %s is KVRocks, which "
		    "has no database %d (SELECT is ignored there): use /0, and a "
		    "KVRocks namespace token as the password to separate "
		    "deployments", c->url.where, c->url.db);
	return CODEQ_OK;
}

static int
handshake(codeq_t *c, redisContext *rc, codeq_error *err)
{
	redisReply *r;
	int code;

	if (c->url.password[0] != '\0') {
		r = c->url.user[0] != '\0' ?
		    redisCommand(rc, "AUTH %s %s", c->url.user, c->url.password) :
		    redisCommand(rc, "AUTH %s", c->url.password);
		if ((code = handshake_check(c, rc, r, "AUTH", err)) != CODEQ_OK)
			return code;
	}
	if (c->url.db != 0) {
		r = redisCommand(rc, "SELECT %d", c->url.db);
		if ((code = handshake_check(c, rc, r, "SELECT", err)) != CODEQ_OK)
			return code;
		if ((code = db_is_real(c, rc, err)) != CODEQ_OK)
			return code;
	}
	r = redisCommand(rc, "PING");
	return handshake_check(c, rc, r, "PING", err);
}

int
store_ensure(codeq_t *c, codeq_error *err)
{
	int i, code = CODEQ_ESTORE;

	if (c->rc != NULL)
		return CODEQ_OK;
	for (i = 0; i <= c->reconnect_attempts; i++) {
		if (i > 0)
			sleep_ms(backoff_ms(i, 100, 2000));
		code = connect_once(c, err);
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
store_lost(codeq_t *c, codeq_error *err)
{
	const char *why = "connection lost";
	int code;

	if (c->rc != NULL) {
		if (c->rc->err == REDIS_ERR_IO && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			why = "command timed out";
		else if (c->rc->err == REDIS_ERR_EOF)
			why = "connection closed by the store";
		else if (c->rc->err)
			why = c->rc->errstr;
	}
	code = cq_err(err, CODEQ_ESTORE, "store %s: %s", c->url.where, why);
	if (c->rc != NULL) {
		redisFree(c->rc);
		c->rc = NULL;
	}
	return code;
}

int
codeq_connect(const char *url, const codeq_options *opt, codeq_t **out,
    codeq_error *err)
{
	codeq_t *c;
	int code;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	if ((code = store_url_parse(url, &c->url, err)) != CODEQ_OK)
		goto fail;
	c->connect_timeout_ms = STORE_DEFAULT_CONNECT_TIMEOUT_MS;
	c->command_timeout_ms = STORE_DEFAULT_COMMAND_TIMEOUT_MS;
	c->reconnect_attempts = STORE_DEFAULT_RECONNECT_ATTEMPTS;
	c->max_payload = STORE_DEFAULT_MAX_PAYLOAD;
	c->retention_ms = STORE_DEFAULT_RETENTION_MS;
	if (opt != NULL) {
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
		if (opt->password != NULL) {
			if (strlen(opt->password) >= sizeof(c->url.password)) {
				code = cq_err(err, CODEQ_EINVAL,
				    "password: too long");
				goto fail;
			}
			strcpy(c->url.password, opt->password);
		}
	}
	c->sha = calloc(script_ndefs ? script_ndefs : 1, sizeof(*c->sha));
	if (c->sha == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto fail;
	}
	c->rand_state = (unsigned int)time(NULL) ^ ((unsigned int)getpid() << 16);
	/* The first connection is tried once: an unreachable store is an
	 * error within the connect timeout, not after the retries. */
	if ((code = connect_once(c, err)) != CODEQ_OK)
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
	if (c->rc != NULL)
		redisFree(c->rc);
	for (i = 0; i < c->nknown; i++)
		free(c->known[i]);
	free(c->sha);
	explicit_bzero(c->url.password, sizeof(c->url.password));
	free(c);
}

redisReply *
store_command(codeq_t *c, codeq_error *err, const char *fmt, ...)
{
	struct pipe_guard g;
	redisReply *r;
	va_list ap;

	if (store_ensure(c, err) != CODEQ_OK)
		return NULL;
	pipe_block(&g);
	va_start(ap, fmt);
	r = redisvCommand(c->rc, fmt, ap);
	va_end(ap);
	pipe_unblock(&g);
	if (r == NULL)
		store_lost(c, err);
	return r;
}

redisReply *
store_argv(codeq_t *c, int argc, const char **argv, const size_t *lens,
    codeq_error *err)
{
	struct pipe_guard g;
	redisReply *r;

	if (store_ensure(c, err) != CODEQ_OK)
		return NULL;
	pipe_block(&g);
	r = redisCommandArgv(c->rc, argc, argv, lens);
	pipe_unblock(&g);
	if (r == NULL)
		store_lost(c, err);
	return r;
}

int
store_append_argv(codeq_t *c, int argc, const char **argv, const size_t *lens,
    codeq_error *err)
{
	int code;

	if ((code = store_ensure(c, err)) != CODEQ_OK)
		return code;
	if (redisAppendCommandArgv(c->rc, argc, argv, lens) != REDIS_OK)
		return cq_err(err, CODEQ_ENOMEM, "store: cannot queue a command");
	return CODEQ_OK;
}

int
store_append_command(codeq_t *c, codeq_error *err, const char *fmt, ...)
{
	va_list ap;
	int code;

	if ((code = store_ensure(c, err)) != CODEQ_OK)
		return code;
	va_start(ap, fmt);
	code = redisvAppendCommand(c->rc, fmt, ap);
	va_end(ap);
	if (code != REDIS_OK)
		return cq_err(err, CODEQ_ENOMEM, "store: cannot queue a command");
	return CODEQ_OK;
}

redisReply *
store_get_reply(codeq_t *c, codeq_error *err)
{
	struct pipe_guard g;
	void *r = NULL;
	int rc;

	if (c->rc == NULL) {
		cq_err(err, CODEQ_ESTORE, "store: connection lost");
		return NULL;
	}
	if (sdslen(c->rc->obuf) == 0) {
		/* Nothing to write: a buffered reply or a read only. */
		rc = redisGetReply(c->rc, &r);
	} else {
		pipe_block(&g);
		rc = redisGetReply(c->rc, &r);
		pipe_unblock(&g);
	}
	if (rc != REDIS_OK || r == NULL) {
		store_lost(c, err);
		return NULL;
	}
	return r;
}

int
store_reply_ok(const redisReply *r, const char *what, codeq_error *err)
{
	if (r->type == REDIS_REPLY_ERROR)
		return cq_err(err, CODEQ_EPROTO, "store: %s: %s", what, r->str);
	return CODEQ_OK;
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
