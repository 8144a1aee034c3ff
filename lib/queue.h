/*
 * queue.h - internal: the housekeeping calls of queue.c with what
 * codeqd needs beyond codeq.h, so that every promote is this one.
 */
#ifndef CODEQ_QUEUE_H
#define CODEQ_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "codeq.h"

/* codeq_promote(), and *wait_ms (may be NULL) receives how long until
 * the earliest task still delayed in queue is due, in the store's clock
 * (-1: none is left, or the store did not say). */
int queue_promote(codeq_t *c, const char *queue, size_t limit,
    size_t *moved, int64_t *wait_ms, codeq_error *err);

#endif
