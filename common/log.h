/*
 * log.h - one line per event, key=value, on stderr.
 *
 *   level=info proc=worker pid=123 msg="task completed" queue=q task=q:1
 *
 * When stderr is the journal (JOURNAL_STREAM matches stderr's device and
 * inode) lines get the sd-daemon "<N>" priority prefix instead of a
 * timestamp.  Values containing blanks or quotes are quoted and escaped.
 */
#ifndef CODEQ_LOG_H
#define CODEQ_LOG_H

#include <stdarg.h>

enum log_level { LOG_L_DEBUG = 0, LOG_L_INFO, LOG_L_NOTICE, LOG_L_WARNING, LOG_L_ERROR };

/* proc: "dispatcher", "worker", "notifier", "callbacks", "codeq". */
void log_init(const char *proc, enum log_level min);
void log_set_proc(const char *proc);	/* after fork */
int log_level_parse(const char *s, enum log_level *out);
enum log_level log_get_level(void);

/* kv: alternating key, value strings, ended by NULL.  Example:
 *   log_kv(LOG_L_INFO, "task completed", "queue", q, "task", id, NULL); */
void log_kv(enum log_level lvl, const char *msg, ...);

/* The line log_kv would write, without its newline, into buf (always
 * NUL-terminated; long lines are cut and end in "..."). */
size_t log_vformat(char *buf, size_t cap, enum log_level lvl, const char *msg,
    va_list ap);
size_t log_format(char *buf, size_t cap, enum log_level lvl, const char *msg,
    ...);
/* Where lines go (default: 2, stderr) and whether they use the journal's
 * "<N>" prefix instead of a timestamp (default: detected by log_init). */
void log_set_fd(int fd);
void log_set_journal(int on);

#define log_debug(...)   log_kv(LOG_L_DEBUG, __VA_ARGS__, (char *)0)
#define log_info(...)    log_kv(LOG_L_INFO, __VA_ARGS__, (char *)0)
#define log_notice(...)  log_kv(LOG_L_NOTICE, __VA_ARGS__, (char *)0)
#define log_warning(...) log_kv(LOG_L_WARNING, __VA_ARGS__, (char *)0)
#define log_error(...)   log_kv(LOG_L_ERROR, __VA_ARGS__, (char *)0)

#endif
