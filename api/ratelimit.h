/*
 * ratelimit.h - a token bucket per API token: rate requests a second on
 * average, bursts of up to burst.  A pure function of the bucket and the
 * time it is given, so the tests choose the clock.
 */
#ifndef CODEQ_API_RATELIMIT_H
#define CODEQ_API_RATELIMIT_H

#include <stdint.h>

struct ratelimit {
	int64_t milli;		/* thousandths of a request in the bucket */
	int64_t last_ms;	/* when milli was last refilled; 0: never */
};

/* Takes one request from the bucket at now_ms.  0 when allowed; else how
 * many milliseconds until one would be (the bucket is left as it was).
 * rate 0: no limit.  burst 0: rate. */
int64_t ratelimit_take(struct ratelimit *b, int rate, int burst,
    int64_t now_ms);

#endif
