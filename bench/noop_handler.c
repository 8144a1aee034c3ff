/*
 * noop_handler.c - the benchmark's shared-object handler: does nothing but
 * note when it started.
 *
 * The benchmark stamps each payload with the time it called enqueue
 * ({"t": EPOCH_US, "d": DUE_MS, "p": PRIORITY}); this handler writes one
 * fixed-size record per task (bench/record.h) to rec.PID in the directory
 * given as handler_config, so codeq-bench can compute enqueue -> handler
 * start latency afterwards.  Records are buffered and written with one
 * write() per BUF_RECORDS tasks and at fini, so the handler stays close
 * to a true no-op.  Without handler_config it records nothing.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codeq.h"
#include "record.h"

#define BUF_RECORDS 512

struct state {
	int fd;
	size_t n;
	struct bench_record buf[BUF_RECORDS];
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The integer after "key": in a flat JSON object, or 0. */
static int64_t
field(const char *json, const char *key)
{
	const char *p = strstr(json, key);

	if (p == NULL)
		return 0;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	return strtoll(p, NULL, 10);
}

static void
flush(struct state *s)
{
	size_t len = s->n * sizeof(s->buf[0]);
	const char *p = (const char *)s->buf;
	ssize_t k;

	while (len > 0 && s->fd >= 0) {
		if ((k = write(s->fd, p, len)) <= 0)
			break;	/* a lost record only shrinks the sample */
		p += k;
		len -= (size_t)k;
	}
	s->n = 0;
}

static int
noop_init(const char *config, void **state)
{
	struct state *s;
	char path[4096];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->fd = -1;
	if (config != NULL && *config != '\0') {
		snprintf(path, sizeof(path), "%s/rec.%ld", config, (long)getpid());
		s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->fd < 0) {
			free(s);
			return -1;
		}
	}
	*state = s;
	return 0;
}

static codeq_handler_outcome
noop_handle(void *state, const codeq_handler_task *task,
    codeq_handler_reply *reply)
{
	struct state *s = state;
	struct bench_record *r;
	const char *seq;

	(void)reply;		/* no result: stored as null */
	if (s->fd < 0)
		return CODEQ_HANDLER_OK;
	r = &s->buf[s->n++];
	r->start_us = now_us();
	r->enqueue_us = field(task->payload, "\"t\"");
	r->due_ms = field(task->payload, "\"d\"");
	r->priority = (int32_t)field(task->payload, "\"p\"");
	r->attempt = task->attempt;
	seq = strrchr(task->id, ':');
	r->seq = seq ? strtoll(seq + 1, NULL, 10) : 0;
	if (s->n == BUF_RECORDS)
		flush(s);
	return CODEQ_HANDLER_OK;
}

static void
noop_fini(void *state)
{
	struct state *s = state;

	flush(s);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

const codeq_handler codeq_handler_v1 = {
	.abi_version = CODEQ_HANDLER_ABI_VERSION,
	.name = "bench-noop",
	.init = noop_init,
	.handle = noop_handle,
	.fini = noop_fini,
};
