/*
 * scripts.h - the registry of the storage protocol's Lua scripts.
 *
 * Every state change of a task is one script (invariant 1).  Each script is
 * a file lib/scripts/NAME.lua, embedded at build time by
 * lib/embed-scripts.sh into the generated lib/scripts-gen.c after the
 * helpers of lib/scripts/prelude.lua it calls (Redis scripts cannot
 * include each other, so they are prepended to each); the table is
 * built from the file list CODEQ_LUA in lib/Makefile.inc, so adding a
 * script is adding a file and one line there (another part appends with
 * `CODEQ_LUA += lib/scripts/cb_NAME.lua` in its own fragment).
 *
 * A script is called by name: script_run() loads it with SCRIPT LOAD the
 * first time, calls it with EVALSHA, and reloads it transparently when the
 * store answers NOSCRIPT (a restarted or flushed store).
 *
 * Calling convention of every script: KEYS[1] is a real key of the queue
 * (so a cluster routes the call to the queue's slot), ARGV[1] is the queue
 * name, and the script builds the other keys as 'codeq:{' .. Q .. '}:...',
 * which share KEYS[1]'s hash tag (invariant 5).  Failures the caller must
 * tell apart are error replies whose first word is a code:
 *   NOTFOUND ...  -> CODEQ_ENOTFOUND     STALE ... -> CODEQ_ESTALE
 *   STATE ...     -> CODEQ_ESTATE        INVAL ... -> CODEQ_EINVAL
 */
#ifndef CODEQ_LUA_H
#define CODEQ_LUA_H

#include <stddef.h>
#include <hiredis/hiredis.h>
#include "codeq.h"

struct script_def {
	const char *name;
	const char *source;
	const char *sha;	/* SHA1 of source, hex: EVALSHA's name of it */
};

/* Generated (lib/scripts-gen.c). */
extern const struct script_def script_defs[];
extern const size_t script_ndefs;

/* Index of a script in script_defs, or -1. */
int script_index(const char *name);
/* The script's source text, or NULL. */
const char *script_source(const char *name);
/* The SHA1 (40 hex digits) of script_defs[i]'s text, the name EVALSHA
 * calls it by (computed by the build); NULL for no such script. */
const char *script_sha(int i);

/* Runs script `name` with nkeys keys followed by the other args (nargs in
 * all, keys first; lens may be NULL for NUL-terminated args).  Returns the
 * reply (error replies included: see script_status) or NULL with err set
 * when the store could not be reached. */
redisReply *script_run(codeq_t *c, const char *name, int nkeys, int nargs,
    const char *const *args, const size_t *lens, codeq_error *err);

/* Pipelining: appends an EVALSHA (loading the script first if needed);
 * read replies with store_get_reply().  A NOSCRIPT reply to an appended call
 * means the store lost its scripts meanwhile: re-run that one with
 * script_run(). */
int script_append(codeq_t *c, const char *name, int nkeys, int nargs,
    const char *const *args, const size_t *lens, codeq_error *err);

/* Runs n calls of one script in one pipelined round trip.  argvs[i] holds
 * the nargs NUL-terminated args of call i (NULL: skip it); replies[i]
 * receives its reply (NULL when skipped), to be freed by the caller.
 * Returns CODEQ_ESTORE (and no replies) when the link was lost. */
int script_pipeline(codeq_t *c, const char *name, int nkeys, int nargs,
    size_t n, const char *const **argvs, redisReply **replies,
    codeq_error *err);
/* The same for calls of different sizes: call i has nkeys[i * stride]
 * keys among its nargs[i * stride] args (stride 0: all alike). */
int script_pipeline_v(codeq_t *c, const char *name, const int *nkeys,
    const int *nargs, size_t stride, size_t n, const char *const **argvs,
    redisReply **replies, codeq_error *err);

/* The calls of a many-task script (enqueue, complete) over n items, item
 * t of queue queues[t]: runs of consecutive items of one queue, at most
 * max each (a script touches one queue's slot).  Call j covers items
 * first[j] .. first[j + 1] - 1; first needs room for n + 1.  Returns the
 * number of calls. */
size_t script_runs(const char *const *queues, size_t n, size_t max,
    size_t *first);

/* The batch calls of libcodeq (heartbeat, complete): script_pipeline()
 * over n items whose argvs[i] is NULL where status[i] already says why
 * the item was not sent.  Each reply goes to parse(reply, i, arg), whose
 * return is status[i]; when the link is lost every item sent gets
 * CODEQ_ESTORE.  Returns CODEQ_OK or the pipeline's error. */
int script_batch(codeq_t *c, const char *name, int nkeys, int nargs,
    size_t n, const char *const **argvs, int *status,
    int (*parse)(const redisReply *r, size_t i, void *arg), void *arg,
    codeq_error *err);

/* Maps an error reply of a script to a CODEQ_E* code and message (the code
 * word removed); CODEQ_OK for non-error replies. */
int script_status(const redisReply *r, codeq_error *err);
/* 1 when r is a NOSCRIPT error. */
int script_is_noscript(const redisReply *r);

#endif
