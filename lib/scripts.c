/*
 * scripts.c: calling the storage protocol's Lua scripts by name with
 * EVALSHA, loading them with SCRIPT LOAD on first use and again when the
 * store answers NOSCRIPT (see scripts.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripts.h"
#include "store.h"

int
script_index(const char *name)
{
	size_t i;

	for (i = 0; i < script_ndefs; i++)
		if (strcmp(script_defs[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
script_source(const char *name)
{
	int i = script_index(name);

	return i < 0 ? NULL : script_defs[i].source;
}

const char *
script_sha(int i)
{
	if (i < 0 || (size_t)i >= script_ndefs)
		return NULL;
	return script_defs[i].sha;
}

static int
script_load(codeq_t *c, size_t li, int i, codeq_error *err)
{
	struct store_link *l = &c->links[li];
	redisReply *r;
	int code = CODEQ_OK;

	if (l->sha[i][0] != '\0')
		return CODEQ_OK;
	/* A cluster: SCRIPT LOAD would reach one node only.  EVALSHA by the
	 * SHA the build computed goes to the slot's node, and a node that
	 * lacks the script (new, failed over, a slot just migrated to it)
	 * answers NOSCRIPT: script_run sends EVAL with the source there. */
	if (c->cl != NULL) {
		memcpy(l->sha[i], script_defs[i].sha, 41);
		return CODEQ_OK;
	}
	r = store_link_command(c, li, err, "SCRIPT LOAD %s",
	    script_defs[i].source);
	if (r == NULL)
		return err->code;
	if (r->type == REDIS_REPLY_STRING && r->len == 40)
		memcpy(l->sha[i], r->str, 41);
	else if (r->type == REDIS_REPLY_ERROR)
		code = cq_err(err, CODEQ_EPROTO, "%s: SCRIPT LOAD %s: %s",
		    l->label, script_defs[i].name, r->str);
	else
		code = cq_err(err, CODEQ_EPROTO,
		    "%s: SCRIPT LOAD %s: unexpected reply", l->label,
		    script_defs[i].name);
	freeReplyObject(r);
	return code;
}

/* The store of a call: its keys' (every script's keys are one queue's,
 * so they must agree: a call whose keys span stores is refused rather
 * than run where some of its keys are not). */
static int
script_link(codeq_t *c, const char *name, int nkeys, const char *const *args,
    const size_t *lens, size_t *li, codeq_error *err)
{
	size_t k, l;

	*li = 0;
	if (c->nlinks == 1)
		return CODEQ_OK;
	for (k = 0; k < (size_t)nkeys; k++) {
		l = store_link_of_key(c, args[k] ? args[k] : "",
		    lens ? lens[k] : args[k] ? strlen(args[k]) : 0);
		if (k > 0 && l != *li)
			return cq_err(err, CODEQ_EINVAL, "script %s: its keys "
			    "are on different stores (%s and %s)", name,
			    c->links[*li].label, c->links[l].label);
		*li = l;
	}
	return CODEQ_OK;
}

/* Builds CMD body nkeys args... (EVALSHA sha, or EVAL source) into freshly
 * allocated arrays. */
static int
build_argv(const char *cmd, const char *body, int nkeys, int nargs, const char *const *args,
    const size_t *lens, char *nkeys_buf, const char ***av, size_t **al)
{
	int k;

	*av = malloc((nargs + 3) * sizeof(**av));
	*al = malloc((nargs + 3) * sizeof(**al));
	if (*av == NULL || *al == NULL) {
		free(*av);
		free(*al);
		return CODEQ_ENOMEM;
	}
	snprintf(nkeys_buf, 16, "%d", nkeys);
	(*av)[0] = cmd;
	(*av)[1] = body;
	(*av)[2] = nkeys_buf;
	for (k = 0; k < 3; k++)
		(*al)[k] = strlen((*av)[k]);
	for (k = 0; k < nargs; k++) {
		(*av)[k + 3] = args[k] ? args[k] : "";
		(*al)[k + 3] = lens ? lens[k] : strlen((*av)[k + 3]);
	}
	return CODEQ_OK;
}

static int
lookup(const char *name, codeq_error *err)
{
	int i = script_index(name);

	if (i < 0)
		cq_err(err, CODEQ_EINVAL, "no script named '%s'", name);
	return i;
}

redisReply *
script_run(codeq_t *c, const char *name, int nkeys, int nargs,
    const char *const *args, const size_t *lens, codeq_error *err)
{
	redisReply *r = NULL;
	const char **av;
	size_t *al, li;
	char nk[16];
	int i, tries;

	if ((i = lookup(name, err)) < 0 ||
	    script_link(c, name, nkeys, args, lens, &li, err) != CODEQ_OK)
		return NULL;
	for (tries = 0; tries < 2; tries++) {
		if (script_load(c, li, i, err) != CODEQ_OK)
			return NULL;
		/* After NOSCRIPT in a cluster: the source, which the node
		 * then keeps for the next EVALSHA. */
		if (build_argv(tries > 0 && c->cl != NULL ? "EVAL" : "EVALSHA",
		    tries > 0 && c->cl != NULL ? script_defs[i].source :
		    c->links[li].sha[i], nkeys, nargs, args, lens,
		    nk, &av, &al)) {
			cq_err(err, CODEQ_ENOMEM, "out of memory");
			return NULL;
		}
		r = store_link_argv(c, li, nargs + 3, av, al, err);
		free(av);
		free(al);
		if (r == NULL || !script_is_noscript(r))
			return r;
		/* The store forgot the script (restart, SCRIPT FLUSH); a
		 * cluster node may never have seen it. */
		freeReplyObject(r);
		r = NULL;
		if (c->cl == NULL)
			c->links[li].sha[i][0] = '\0';
	}
	cq_err(err, CODEQ_EPROTO, "%s: script %s: NOSCRIPT after reload",
	    c->links[li].label, name);
	return NULL;
}

int
script_append(codeq_t *c, const char *name, int nkeys, int nargs,
    const char *const *args, const size_t *lens, codeq_error *err)
{
	const char **av;
	size_t *al, li;
	char nk[16];
	int i, code;

	if ((i = lookup(name, err)) < 0)
		return err->code;
	if ((code = script_link(c, name, nkeys, args, lens, &li, err)) !=
	    CODEQ_OK || (code = script_load(c, li, i, err)) != CODEQ_OK)
		return code;
	if (build_argv("EVALSHA", c->links[li].sha[i], nkeys, nargs, args,
	    lens, nk, &av, &al))
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	code = store_link_append_argv(c, li, nargs + 3, av, al, err);
	free(av);
	free(al);
	return code;
}

int
script_is_noscript(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0;
}

int
script_status(const redisReply *r, codeq_error *err)
{
	static const struct {
		const char *word;
		int code;
	} map[] = {
		{ "NOTFOUND ", CODEQ_ENOTFOUND },
		{ "STALE ", CODEQ_ESTALE },
		{ "STATE ", CODEQ_ESTATE },
		{ "INVAL ", CODEQ_EINVAL },
	};
	const char *s;
	size_t i;

	if (r->type != REDIS_REPLY_ERROR)
		return CODEQ_OK;
	s = r->str;
	/* Some stores prefix script errors with "ERR ". */
	if (strncmp(s, "ERR ", 4) == 0)
		s += 4;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t n = strlen(map[i].word);
		if (strncmp(s, map[i].word, n) == 0)
			return cq_err(err, map[i].code, "%s", s + n);
	}
	return cq_err(err, CODEQ_EPROTO, "store: %s", r->str);
}

size_t
script_runs(const char *const *queues, size_t n, size_t max, size_t *first)
{
	size_t t, ncalls = 0;

	for (t = 0; t < n; t++)
		if (t == 0 || t - first[ncalls - 1] == max ||
		    strcmp(queues[t], queues[first[ncalls - 1]]) != 0)
			first[ncalls++] = t;
	first[ncalls] = n;
	return ncalls;
}

int
script_batch(codeq_t *c, const char *name, int nkeys, int nargs, size_t n,
    const char *const **argvs, int *status,
    int (*parse)(const redisReply *, size_t, void *), void *arg,
    codeq_error *err)
{
	redisReply **replies;
	size_t i;
	int code;

	if ((replies = calloc(n ? n : 1, sizeof(*replies))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	code = script_pipeline(c, name, nkeys, nargs, n, argvs, replies, err);
	for (i = 0; i < n; i++) {
		if (code != CODEQ_OK && argvs[i] != NULL)
			status[i] = CODEQ_ESTORE;
		if (replies[i] != NULL) {
			status[i] = parse(replies[i], i, arg);
			freeReplyObject(replies[i]);
		}
	}
	free(replies);
	return code;
}

int
script_pipeline(codeq_t *c, const char *name, int nkeys, int nargs,
    size_t n, const char *const **argvs, redisReply **replies,
    codeq_error *err)
{
	return script_pipeline_v(c, name, &nkeys, &nargs, 0, n, argvs,
	    replies, err);
}

int
script_pipeline_v(codeq_t *c, const char *name, const int *nkeys,
    const int *nargs, size_t stride, size_t n, const char *const **argvs,
    redisReply **replies, codeq_error *err)
{
	char why[sizeof(err->msg)];
	size_t i;
	int code;

	for (i = 0; i < n; i++)
		replies[i] = NULL;
	for (i = 0; i < n; i++) {
		if (argvs[i] == NULL)
			continue;
		if ((code = script_append(c, name, nkeys[i * stride],
		    nargs[i * stride], argvs[i], NULL, err)) != CODEQ_OK)
			goto lost;
	}
	for (i = 0; i < n; i++) {
		if (argvs[i] == NULL)
			continue;
		if ((replies[i] = store_get_reply(c, err)) == NULL)
			goto lost;
	}
	/* NOSCRIPT (the store lost its scripts mid-way): one by one. */
	for (i = 0; i < n; i++) {
		if (replies[i] == NULL || !script_is_noscript(replies[i]))
			continue;
		freeReplyObject(replies[i]);
		replies[i] = script_run(c, name, nkeys[i * stride],
		    nargs[i * stride], argvs[i], NULL, err);
		if (replies[i] == NULL)
			goto lost;
	}
	return CODEQ_OK;
lost:
	for (i = 0; i < n; i++) {
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
		replies[i] = NULL;
	}
	/* Keep what went wrong (which store), then drop what still owes
	 * replies. */
	snprintf(why, sizeof(why), "%s", err->msg);
	store_lost(c, NULL);
	return cq_err(err, err->code == CODEQ_EINVAL ? CODEQ_EINVAL : CODEQ_ESTORE,
	    "%s (during a pipelined %s)", why, name);
}
