/*
 * callbacks.h - the callbacks process: result webhooks from the durable
 * outbox (codeq:{Q}:outbox).
 *
 * codeqd runs it as a child (`codeq-webhooks callbacks`, the callbacks row
 * of dispatcher/roles.c; webhooks/main.c calls callbacks_main()).  It takes due
 * outbox items under a visibility lease, batches them per endpoint, POSTs
 * them, and acks, reschedules with backoff or dead-letters each item
 * (docs/webhooks.md).  Delivery is at-least-once across restarts of this
 * process, codeqd and the store.  It exits 0 on SHUTDOWN or ABORT from
 * codeqd or the end of its link (common/child.h); run on its own (ipc_fd
 * -1, the tests), on SIGTERM or SIGINT.
 */
#ifndef CODEQ_CALLBACKS_H
#define CODEQ_CALLBACKS_H

struct codeq_config;

/* ipc_fd: the socket to codeqd, or -1 (run standalone).  Returns the
 * process's exit status. */
int callbacks_main(const struct codeq_config *cfg, int ipc_fd);

#endif
