/*
 * child.h - a child's side of its link to codeqd (docs/process-model.md,
 * "A child's side"): the one implementation of READY, COUNTERS, SHUTDOWN,
 * ABORT and the end of the link, used by codeq-worker and codeq-webhooks.
 *
 * - READY is sent once the child is set up (a worker: privileges dropped,
 *   handler loaded; a webhook process: its loop and HTTP engine made).
 *   The store is not part of it: every child connects on first use and
 *   retries on its own, so a store outage never stops a child starting.
 * - COUNTERS: the absolute values of the child's table of codeq_metrics.h
 *   (m.* names: every counter a child keeps is a metrics family); a
 *   report longer than IPC_MAX_COUNTERS spans several frames (the
 *   dispatcher folds each name on its own).
 * - SHUTDOWN sets shutdown (finish what is in hand, take nothing new,
 *   exit 0); ABORT, and the end of the link (the dispatcher gone, or a
 *   send that fails), set aborted and shutdown (stop now).
 * - Signals: a child of codeqd ignores SIGTERM, SIGINT and SIGHUP.  Stop
 *   requests come over the link from the dispatcher, which knows the
 *   leases; a terminal's Ctrl-C or a service manager's signal to the
 *   whole group must not stop a child before the dispatcher can act.
 */
#ifndef CODEQ_CHILD_H
#define CODEQ_CHILD_H

#include <stdint.h>

#include "ipc.h"

struct child_link {
	int fd;			/* this child's end of its socketpair */
	int shutdown;		/* SHUTDOWN, ABORT or the link's end */
	int aborted;		/* ABORT or the link's end */
	int64_t counters_sent;	/* monotonic ms of the last report */
};

/* Takes fd (made non-blocking for reads), resets every signal the
 * dispatcher's loop had set to its default, ignores SIGPIPE and the stop
 * signals above, and unblocks every signal. */
void child_link_init(struct child_link *l, int fd);

/* Sends m, waiting for room: the dispatcher always reads.  A failure
 * means the dispatcher is gone: logged once, aborted set.  0 or -1. */
int child_link_send(struct child_link *l, const struct ipc_msg *m);

/* READY with this process' pid. */
int child_link_ready(struct child_link *l);

/* COUNTERS, when force or a second has passed since the last report. */
void child_link_counters(struct child_link *l, int force);

/* Receives one message without waiting.  IPC_OK: *m is for the caller
 * (SHUTDOWN and ABORT are already noted in l); IPC_EAGAIN: nothing
 * waiting; IPC_EOF: the link ended (aborted set).  A malformed frame is
 * logged and skipped. */
int child_link_recv(struct child_link *l, struct ipc_msg *m);

#endif
