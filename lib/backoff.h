/*
 * backoff.h - the one exponential backoff of codeq's retries (store
 * reconnects in every process, crashed children's restarts): the wait
 * before the n-th retry in a row (n >= 1) is min_ms * 2^(n-1), at most
 * max_ms.  The queue's retry backoff of tasks (codeq_backoff, with
 * jitter) is the scripts' own, stored per queue.
 */
#ifndef CODEQ_BACKOFF_H
#define CODEQ_BACKOFF_H

#include <stdint.h>

static inline int64_t
backoff_ms(int n, int64_t min_ms, int64_t max_ms)
{
	int64_t d = min_ms;

	while (n-- > 1 && d < max_ms)
		d *= 2;
	return d < max_ms ? d : max_ms;
}

#endif
