/*
 * notifier.h - the notifier process: WORK_AVAILABLE webhooks.
 *
 * codeqd forks it and calls notifier_main() in the child.  It listens on
 * the store's codeq:ready channel, coalesces the signals over
 * [notifier] coalesce, and sends one batched POST per subscriber
 * (docs/webhooks.md).  A periodic depth scan covers signals lost while it
 * was disconnected.  It exits 0 on SIGTERM, IPC_SHUTDOWN or EOF on ipc_fd.
 */
#ifndef CODEQ_NOTIFIER_H
#define CODEQ_NOTIFIER_H

struct codeq_config;

/* ipc_fd: the socket to codeqd, or -1 (run standalone).  Returns the
 * process's exit status. */
int notifier_main(const struct codeq_config *cfg, int ipc_fd);

#endif
