/*
 * wakebook.c - wakes owed to queues (wakebook.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "wakebook.h"

void
wakebook_owe(struct wakebook *b, const char *queue, long n, long workers)
{
	int k, slot = -1;

	if (n <= 0 || workers <= 0 || strlen(queue) >= IPC_QUEUE_MAX)
		return;
	for (k = 0; k < WAKEBOOK_MAX; k++) {
		if (strcmp(b->v[k].queue, queue) == 0) {
			slot = k;
			break;
		}
		if (slot < 0 && b->v[k].n == 0)
			slot = k;
	}
	if (slot < 0)
		return;		/* full: the workers' re-check covers it */
	snprintf(b->v[slot].queue, sizeof(b->v[slot].queue), "%s", queue);
	b->v[slot].n += n;
	if (b->v[slot].n > workers)
		b->v[slot].n = workers;
}

const char *
wakebook_take(struct wakebook *b,
    int (*serves)(const void *arg, const char *queue), const void *arg)
{
	int k;

	for (k = 0; k < WAKEBOOK_MAX; k++)
		if (b->v[k].n > 0 && serves(arg, b->v[k].queue)) {
			b->v[k].n--;
			return b->v[k].queue;
		}
	return NULL;
}
