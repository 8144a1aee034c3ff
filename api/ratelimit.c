/*
 * ratelimit.c - the token bucket of ratelimit.h, in integer thousandths
 * of a request, so that no rounding drifts over a long run.
 */
#include "config.h"

#include "ratelimit.h"

int64_t
ratelimit_take(struct ratelimit *b, int rate, int burst, int64_t now_ms)
{
	int64_t cap, elapsed, need;

	if (rate <= 0)
		return 0;
	cap = (int64_t)(burst > 0 ? burst : rate) * 1000;
	if (b->last_ms == 0 || now_ms < b->last_ms) {
		/* First use (full bucket), or a clock that went back. */
		if (b->last_ms == 0)
			b->milli = cap;
		b->last_ms = now_ms;
	}
	elapsed = now_ms - b->last_ms;
	/* rate per second = rate thousandths per millisecond. */
	if (elapsed > 0) {
		b->milli = elapsed >= cap / rate + 1 ? cap :
		    b->milli + elapsed * rate;
		if (b->milli > cap)
			b->milli = cap;
		b->last_ms = now_ms;
	}
	if (b->milli >= 1000) {
		b->milli -= 1000;
		return 0;
	}
	need = 1000 - b->milli;
	return (need + rate - 1) / rate;
}
