/*
 * utf8.h - text from handlers and operators made safe for JSON.
 *
 * Error texts, worker names and trace contexts are whatever a handler or
 * a caller wrote; jansson refuses a string that is not valid UTF-8, and a
 * byte limit can cut a character in two.  These helpers keep such text
 * (invalid bytes become U+FFFD) instead of losing the value, or the whole
 * document it belongs to.
 */
#ifndef CODEQ_UTF8_H
#define CODEQ_UTF8_H

#include <stddef.h>

#include <jansson.h>

/* Length of the valid UTF-8 sequence at p (1-4; n > 0 bytes there), or 0
 * when p does not start one. */
size_t utf8_seq(const unsigned char *p, size_t n);
/* A malloc()ed copy of s[0..n) with each byte that does not belong to a
 * valid sequence replaced by U+FFFD; its length in *outlen (may be NULL).
 * NULL when out of memory. */
char *utf8_clean(const char *s, size_t n, size_t *outlen);
/* The largest length <= n that does not end inside a multi-byte
 * character of s (which has at least n bytes). */
size_t utf8_cut(const char *s, size_t n);
/* json_string(s) for any bytes (invalid ones as U+FFFD); NULL only when
 * out of memory or s is NULL. */
json_t *json_string_lossy(const char *s);

#endif
