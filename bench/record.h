/*
 * record.h - what the benchmark's no-op handler writes per task, read back
 * by codeq-bench (same machine, same build: raw native layout).
 */
#ifndef CODEQ_BENCH_RECORD_H
#define CODEQ_BENCH_RECORD_H

#include <stdint.h>

struct bench_record {
	int64_t enqueue_us;	/* producer's clock, just before enqueue */
	int64_t start_us;	/* handler start */
	int64_t due_ms;		/* delayed tasks: when due; else 0 */
	int64_t seq;		/* the task's sequence number (id Q:SEQ) */
	int32_t priority;
	int32_t attempt;
};

#endif
