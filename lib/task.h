/* task.h - internal: task hashes <-> codeq_task, input validation. */
#ifndef CODEQ_TASK_H
#define CODEQ_TASK_H

#include <hiredis/hiredis.h>
#include "codeq.h"

/* Builds a task from a flat field/value array (HGETALL, claim.lua). */
int task_from_reply(const redisReply *r, codeq_task **out, codeq_error *err);
codeq_task_status task_status_parse(const char *s);
int task_queue_check(const char *queue, codeq_error *err);
/* "Q:SEQ" -> Q and the key of its task hash (key_task). */
int task_id_split(const char *id, char *queue, size_t qlen, char *key,
    size_t klen, codeq_error *err);

#define TASK_KEY_MAX (CODEQ_ID_MAX + 32)

/* The name a codeqd worker claims under, HOST:PID:POOL: the worker sets
 * it, and its dispatcher finds the worker's last claims by it. */
#define TASK_WORKER_NAME_MAX 300
void task_worker_name(char *buf, size_t len, long pid, const char *pool);

/* Durations a caller passes (delays, leases, TTLs, waits) are bounded:
 * far beyond any real use, far below what overflows "now + duration" in
 * C's int64 or in the scripts' doubles (exact up to 2^53 ms). */
#define TASK_DURATION_MAX_MS (100LL * 365 * 86400 * 1000)	/* 100 years */
/* Points in time (epoch ms) likewise: up to the end of year 9999. */
#define TASK_TIME_MAX_MS 253402300799999LL
/* CODEQ_EINVAL "FIELD: longer than 100 years" when ms is over the bound. */
int task_duration_check(const char *field, int64_t ms, codeq_error *err);
/* A list window (offset, limit) whose last index LRANGE can name:
 * CODEQ_EINVAL when offset + limit would not fit a signed 64-bit index. */
int task_range_check(size_t offset, size_t limit, codeq_error *err);

/* The arguments of a script on a leased task (heartbeat, complete, fail,
 * nack): argv[0..3] are KEYS[1] (the task hash), Q, id and token, set by
 * lease_args_build(); the caller adds the script's own from argv[4] on
 * (num and num2 hold numbers it formats). */
#define LEASE_ARGS_MAX 7
struct lease_args {
	char queue[CODEQ_ID_MAX];
	char key[TASK_KEY_MAX];
	char num[24];
	char num2[24];
	const char *argv[LEASE_ARGS_MAX];
	size_t lens[LEASE_ARGS_MAX];
};

/* CODEQ_EINVAL for a malformed id or a missing token. */
int lease_args_build(const char *id, const char *token, struct lease_args *a,
    codeq_error *err);
/* For a batch (script_batch): n zeroed lease_args and, in the same block
 * (one free()), the n argv pointers, all NULL.  NULL with err set when out
 * of memory. */
struct lease_args *lease_args_array(size_t n, const char *const ***argvs,
    codeq_error *err);

#endif
