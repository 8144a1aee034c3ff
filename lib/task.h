/* task.h - internal: task hashes <-> codeq_task, input validation. */
#ifndef CODEQ_TASK_H
#define CODEQ_TASK_H

#include <hiredis/hiredis.h>
#include "codeq.h"

/* Builds a task from a flat field/value array (HGETALL, claim.lua). */
int task_from_reply(const redisReply *r, codeq_task **out, codeq_error *err);
codeq_task_status task_status_parse(const char *s);
int task_queue_check(const char *queue, codeq_error *err);
/* "Q:SEQ" -> Q and the key codeq:{Q}:t:SEQ. */
int task_id_split(const char *id, char *queue, size_t qlen, char *key,
    size_t klen, codeq_error *err);

#define TASK_KEY_MAX (CODEQ_ID_MAX + 32)

#endif
