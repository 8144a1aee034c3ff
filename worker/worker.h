/*
 * worker.h - the claim-and-lease worker, one process forked by codeqd.
 */
#ifndef CODEQ_WORKER_H
#define CODEQ_WORKER_H

#include "codeq.h"
#include "conf.h"

/*
 * Runs a worker of pool until the dispatcher says SHUTDOWN or ABORT (or
 * goes away).  ipc_fd is this worker's end of its socketpair.  url and opt
 * say how to reach the store.  Returns the process exit status:
 * 0, or WORKER_EXIT_CONFIG (handler.h) when the handler cannot start.
 */
int worker_main(const struct codeq_config *cfg, const struct pool_config *pool,
    const char *url, const codeq_options *opt, int ipc_fd);

/* Switches to the pool's user (when root and `user` is set): setgid,
 * initgroups, setuid, and a check that root cannot be regained. */
int worker_drop_privileges(const char *user, char *err, size_t errlen);

#endif
