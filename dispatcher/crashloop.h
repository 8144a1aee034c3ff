/*
 * crashloop.h - when to restart a child that crashed: a crash book per
 * pool (its workers share it) or per child (notifier, callbacks).  Pure:
 * the clock is passed in (tests/unit/crashloop.c).
 *
 * A crash within CRASH_FORGET_S of the previous one lengthens the streak;
 * the restart waits min_ms * 2^(streak-1), at most max_ms (backoff.h).
 * CRASHLOOP_STREAK crashes in a row mark the book crash-looping, which
 * ends after CRASH_FORGET_S without a crash.
 */
#ifndef CODEQ_CRASHLOOP_H
#define CODEQ_CRASHLOOP_H

#include <stdint.h>

#define CRASHLOOP_STREAK 5	/* crashes in a row that mark a crash loop */
#define CRASH_FORGET_S	30.	/* a crash streak ends after this long without one */

struct crashbook {
	int streak;		/* crashes in a row */
	double last;		/* when the last one was (loop time, s) */
	int looping;		/* reported as crash-looping */
};

/* Notes a crash at now; returns the delay before the restart (s).
 * *began is 1 when this crash starts a crash loop (to be reported). */
double crash_note(struct crashbook *b, double now, int64_t min_ms,
    int64_t max_ms, int *began);

/* 1 when a crash loop ended at now (to be reported); the book is reset. */
int crash_forgotten(struct crashbook *b, double now);

#endif
