/*
 * result.c - verdicts and the stored form of a handler's output.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "handler.h"

void
run_result_free(struct run_result *r)
{
	free(r->result);
	free(r->error);
	r->result = r->error = NULL;
}

void
run_result_set(struct run_result *r, enum run_verdict v, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	r->verdict = v;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(r->error);
	r->error = s;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned c = p[0];
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Copy of s with each invalid UTF-8 byte replaced by U+FFFD. */
static char *
utf8_clean(const char *s, size_t n, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	size_t i = 0, k;

	if ((out = malloc(n * 3 + 1)) == NULL)
		return NULL;
	o = out;
	while (i < n) {
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

char *
result_normalize(const char *out, size_t len)
{
	json_error_t jerr;
	json_t *j;
	char *clean, *s;
	size_t start = 0, clen;

	while (len > 0 && strchr(" \t\r\n", out[len - 1]) != NULL)
		len--;
	while (start < len && strchr(" \t\r\n", out[start]) != NULL)
		start++;
	if (start == len)
		return strdup("null");
	j = json_loadb(out + start, len - start, JSON_DECODE_ANY, &jerr);
	if (j != NULL) {
		json_decref(j);
		return strndup(out + start, len - start);
	}
	/* Not JSON: stored as one JSON string of the (trimmed) output. */
	if ((clean = utf8_clean(out + start, len - start, &clen)) == NULL)
		return NULL;
	j = json_stringn(clean, clen);
	free(clean);
	if (j == NULL)
		return NULL;
	s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(j);
	return s;
}
