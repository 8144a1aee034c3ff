/*
 * jsonbuf.h - JSON text written straight into a growing buffer.
 *
 * The webhook bodies (a batch of result events, a WORK_AVAILABLE batch of
 * a thousand queues) are flat and their shape is fixed: building them as
 * jansson objects (an allocation and a hash table per object, then a
 * dump) cost more than half of the webhook process' time.  Writers put
 * literal punctuation and keys themselves and use jb_string for every
 * value that comes from outside, which escapes exactly as jansson's
 * json_dumps does, so a body reads the same either way (the unit tests
 * compare them).
 *
 * An allocation failure sticks (oom): later writes do nothing and
 * jb_finish returns NULL, so a writer checks once, at the end.
 */
#ifndef CODEQ_JSONBUF_H
#define CODEQ_JSONBUF_H

#include <stddef.h>
#include <stdint.h>

struct jsonbuf {
	char *p;		/* NUL-terminated once anything was written */
	size_t len, cap;
	int oom;
};

void jb_put(struct jsonbuf *b, const char *s, size_t n);
void jb_puts(struct jsonbuf *b, const char *s);
#define JB_LIT(b, s) jb_put((b), (s), sizeof(s) - 1)
void jb_int(struct jsonbuf *b, int64_t v);
/* s (any bytes; invalid UTF-8 becomes U+FFFD) as a JSON string. */
void jb_string(struct jsonbuf *b, const char *s);
/* The text and its length, the caller's to free(); NULL (the buffer
 * freed) when an allocation failed or nothing was written. */
char *jb_finish(struct jsonbuf *b, size_t *len);

#endif
