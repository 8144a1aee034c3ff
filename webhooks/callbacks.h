/*
 * callbacks.h - the callbacks process: result webhooks from the durable
 * outbox (codeq:{Q}:outbox).
 *
 * codeqd forks it and calls callbacks_main() in the child.  It takes due
 * outbox items under a visibility lease, batches them per endpoint, POSTs
 * them, and acks, reschedules with backoff or dead-letters each item
 * (docs/webhooks.md).  Delivery is at-least-once across restarts of this
 * process, codeqd and the store.  It exits 0 on SIGTERM, IPC_SHUTDOWN or
 * EOF on ipc_fd.
 */
#ifndef CODEQ_CALLBACKS_H
#define CODEQ_CALLBACKS_H

struct codeq_config;

/* ipc_fd: the socket to codeqd, or -1 (run standalone).  Returns the
 * process's exit status. */
int callbacks_main(const struct codeq_config *cfg, int ipc_fd);

#endif
