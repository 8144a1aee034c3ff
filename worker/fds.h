/*
 * fds.h - what a handler process inherits of the worker: stdin, stdout,
 * stderr and nothing else (codeq-handler(7)).
 */
#ifndef CODEQ_WORKER_FDS_H
#define CODEQ_WORKER_FDS_H

/* Closes every descriptor >= lowfd.  Only system calls: safe in a
 * vfork()ed child. */
void fds_close_from(int lowfd);

/* Marks every descriptor >= lowfd close-on-exec, so that whatever a
 * .so handler starts (system(3), popen(3)) inherits none of them. */
void fds_cloexec_from(int lowfd);

#endif
