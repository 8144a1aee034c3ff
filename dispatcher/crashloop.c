/*
 * crashloop.c - restart delays of crashed children (crashloop.h).
 */
#include "config.h"

#include "backoff.h"
#include "crashloop.h"

double
crash_note(struct crashbook *b, double now, int64_t min_ms, int64_t max_ms,
    int *began)
{
	if (now - b->last > CRASH_FORGET_S)
		b->streak = 0;
	b->last = now;
	b->streak++;
	*began = 0;
	if (b->streak >= CRASHLOOP_STREAK && !b->looping) {
		b->looping = 1;
		*began = 1;
	}
	return (double)backoff_ms(b->streak, min_ms, max_ms) / 1000.;
}

int
crash_forgotten(struct crashbook *b, double now)
{
	if (!b->looping || now - b->last <= CRASH_FORGET_S)
		return 0;
	b->looping = 0;
	b->streak = 0;
	return 1;
}
