/*
 * wakebook.h - the wakes that found no idle worker, per queue (wake.c).
 * Pure: tests/unit/wakebook.c.
 *
 * A "Q N" on codeq:ready that wakes fewer than N workers (the others are
 * busy, or between an empty claim and their IDLE) is owed to Q, at most
 * as many as workers serve Q; the next worker of Q that says IDLE takes
 * one.  That closes the race between a worker's empty claim and its IDLE.
 * The book is bounded: a queue that finds it full is left to the
 * workers' own re-check.
 */
#ifndef CODEQ_WAKEBOOK_H
#define CODEQ_WAKEBOOK_H

#include "ipc.h"

#define WAKEBOOK_MAX 64

struct wakebook {
	struct { char queue[IPC_QUEUE_MAX]; long n; } v[WAKEBOOK_MAX];
};

/* n more wakes owed to queue, which workers workers serve. */
void wakebook_owe(struct wakebook *b, const char *queue, long n, long workers);

/* The first queue owed a wake for which serves(arg, queue) is true:
 * the wake is taken.  NULL when none. */
const char *wakebook_take(struct wakebook *b,
    int (*serves)(const void *arg, const char *queue), const void *arg);

#endif
