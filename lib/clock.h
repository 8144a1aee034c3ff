/*
 * clock.h - the two clocks codeq reads, in integer units.
 *
 * Wall time (Unix milliseconds) is what the store's clock and the
 * records it keeps are compared with; the monotonic clock measures
 * timeouts and intervals, which must not jump when the wall clock is
 * stepped.
 */
#ifndef CODEQ_CLOCK_H
#define CODEQ_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t
clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t
clock_mono_ms(void)
{
	return clock_mono_us() / 1000;
}

#endif
