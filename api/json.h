/*
 * json.h - codeQ's JSON shapes for codeq's tasks, and reading request
 * fields with one error message per wrong field.
 */
#ifndef CODEQ_API_JSON_H
#define CODEQ_API_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codeq.h"

/* codeQ's status names: PENDING (ready, delayed), IN_PROGRESS (leased),
 * COMPLETED, FAILED (failed, dead-lettered). */
const char *cq_status(codeq_task_status s);
/* codeQ's task object (the lease token only when with_token). */
json_t *cq_task(const codeq_task *t, int with_token);
/* codeQ's result record: taskId, status, result, error, completedAt. */
json_t *cq_result(const codeq_task *t);

/* Field readers: 0 (absent: *out untouched, *present 0), or -1 with
 * why (a message naming the field) when of the wrong type or range. */
int jfield_int(json_t *o, const char *key, int64_t min, int64_t max,
    int64_t *out, char *why, size_t whylen);
int jfield_str(json_t *o, const char *key, size_t max, const char **out,
    char *why, size_t whylen);
/* An array of queue names (commands, eventTypes); *n 0 when absent. */
int jfield_queues(json_t *o, const char *key, size_t max, const char **out,
    size_t *n, char *why, size_t whylen);

#endif
