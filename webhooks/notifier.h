/*
 * notifier.h - the notifier process: WORK_AVAILABLE webhooks.
 *
 * codeqd runs it as a child (`codeq-webhooks notifier`, the notifier row of
 * dispatcher/roles.c; webhooks/main.c calls notifier_main()).  It listens on
 * the store's codeq:ready channel, coalesces the signals over
 * [notifier] coalesce, and sends one batched POST per subscriber
 * (docs/webhooks.md).  A periodic depth scan covers signals lost while it
 * was disconnected.  It exits 0 on SHUTDOWN or ABORT from codeqd or the
 * end of its link (common/child.h); run on its own (ipc_fd -1, the
 * tests), on SIGTERM or SIGINT.
 */
#ifndef CODEQ_NOTIFIER_H
#define CODEQ_NOTIFIER_H

struct codeq_config;

/* ipc_fd: the socket to codeqd, or -1 (run standalone).  Returns the
 * process's exit status. */
int notifier_main(const struct codeq_config *cfg, int ipc_fd);

#endif
