/*
 * scripts_async.c: running the storage protocol's scripts on a hiredis
 * asynchronous connection, EVALSHA first and EVAL on NOSCRIPT (see
 * scripts_async.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "scripts.h"
#include "scripts_async.h"

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Queues call as EVALSHA, or as EVAL with the script's text once it was
 * refused with NOSCRIPT.  0, or -1 when hiredis would not queue it. */
static int
send_call(redisAsyncContext *ac, struct script_call *call, int i)
{
	const char *av[call->nargs + 3];
	size_t al[call->nargs + 3];
	char nk[16];
	int k;

	av[0] = call->eval ? "EVAL" : "EVALSHA";
	av[1] = call->eval ? script_defs[i].source : script_sha(i);
	snprintf(nk, sizeof(nk), "%d", call->nkeys);
	av[2] = nk;
	for (k = 0; k < 3; k++)
		al[k] = strlen(av[k]);
	for (k = 0; k < call->nargs; k++) {
		av[k + 3] = call->args[k] ? call->args[k] : "";
		al[k + 3] = call->lens ? call->lens[k] : strlen(av[k + 3]);
	}
	return redisAsyncCommandArgv(ac, on_reply, call, call->nargs + 3, av,
	    al) == REDIS_OK ? 0 : -1;
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct script_call *call = priv;
	redisReply *r = reply;

	if (r != NULL && script_is_noscript(r) && !call->eval) {
		/* The store does not know the script (yet): send its text,
		 * once.  Queued now, it is answered after the calls already
		 * in flight, which is all the ordering a script call has. */
		call->eval = 1;
		if (send_call(ac, call, script_index(call->name)) == 0)
			return;
		r = NULL;	/* ac is closing: the call is lost */
	}
	call->done(ac, r, call);
}

int
script_async_run(redisAsyncContext *ac, struct script_call *call)
{
	int i;

	if ((i = script_index(call->name)) < 0 || script_sha(i) == NULL)
		return -1;
	call->eval = 0;
	return send_call(ac, call, i);
}
