/*
 * keys.c: the key builders of keys.h, the one place where C code spells
 * the layout codeq:{Q}:NAME of a queue's keys.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"

#define PREFIX "codeq:{"	/* every key of a queue: codeq:{Q}:NAME */
#define SEQ_SUFFIX "}:" CODEQ_KEY_SEQ

/* snprintf's result as the builders' 0 / -1. */
static int
fits(int n, size_t len)
{
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

int
key_queue(char *buf, size_t len, const char *queue, const char *name)
{
	return fits(snprintf(buf, len, PREFIX "%s}:%s", queue, name), len);
}

int
key_ready(char *buf, size_t len, const char *queue, int prio)
{
	return fits(snprintf(buf, len, PREFIX "%s}:" CODEQ_KEY_READY ":%d",
	    queue, prio), len);
}

int
key_task(char *buf, size_t len, const char *queue, const char *seq)
{
	return fits(snprintf(buf, len, PREFIX "%s}:t:%s", queue, seq), len);
}

int
key_task_pattern(char *buf, size_t len, const char *queue)
{
	return key_task(buf, len, queue, "*");
}

int
key_claim(char *buf, size_t len, const char *queue, const char *worker)
{
	return fits(snprintf(buf, len, PREFIX "%s}:claim:%s", queue, worker),
	    len);
}

int
key_cb(char *buf, size_t len, const char *queue, const char *n)
{
	return fits(snprintf(buf, len, PREFIX "%s}:cb:%s", queue, n), len);
}

int
key_sub(char *buf, size_t len, const char *id)
{
	return fits(snprintf(buf, len, "codeq:sub:%s", id), len);
}

int
key_seq_queue(const char *key, char *queue, size_t qlen)
{
	size_t klen = strlen(key), pre = strlen(PREFIX), suf = strlen(SEQ_SUFFIX);
	size_t n;

	if (klen <= pre + suf || strncmp(key, PREFIX, pre) != 0 ||
	    strcmp(key + klen - suf, SEQ_SUFFIX) != 0)
		return -1;
	if ((n = klen - pre - suf) >= qlen)
		return -1;
	memcpy(queue, key + pre, n);
	queue[n] = '\0';
	return 0;
}
