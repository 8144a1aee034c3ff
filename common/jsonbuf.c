/*
 * jsonbuf.c - JSON text written straight into a growing buffer (see
 * jsonbuf.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
#include "utf8.h"

void
jb_put(struct jsonbuf *b, const char *s, size_t n)
{
	size_t cap;
	char *np;

	if (b->oom || n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
jb_puts(struct jsonbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

void
jb_int(struct jsonbuf *b, int64_t v)
{
	char num[24];
	int k = snprintf(num, sizeof(num), "%" PRId64, v);

	jb_put(b, num, (size_t)k);
}

static int
utf8_valid(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq((const unsigned char *)s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Escaped as jansson does: ", \ and the control characters (\b \f \n \r
 * \t by name, the others as \u00XX); everything else as it is, UTF-8
 * included.  Invalid UTF-8 is replaced first, as json_string_lossy does. */
void
jb_string(struct jsonbuf *b, const char *s)
{
	size_t n = strlen(s), i, start = 0;
	char *clean = NULL, esc[8];
	const char *e;

	if (!utf8_valid(s, n)) {
		if ((clean = utf8_clean(s, n, &n)) == NULL) {
			b->oom = 1;
			return;
		}
		s = clean;
	}
	JB_LIT(b, "\"");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jb_put(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", c);
			e = esc;
		}
		jb_puts(b, e);
	}
	jb_put(b, s + start, n - start);
	JB_LIT(b, "\"");
	free(clean);
}

char *
jb_finish(struct jsonbuf *b, size_t *len)
{
	char *p = b->p;

	if (b->oom || p == NULL) {
		free(p);
		memset(b, 0, sizeof(*b));
		return NULL;
	}
	if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}
