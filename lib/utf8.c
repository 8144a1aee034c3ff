/*
 * utf8.c - text made valid UTF-8 for JSON (see utf8.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned c = p[0];
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

char *
utf8_clean(const char *s, size_t n, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	size_t i = 0, k;

	/* Each byte becomes at most three (U+FFFD). */
	if (n > (SIZE_MAX - 1) / 3 || (out = malloc(n * 3 + 1)) == NULL)
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
	if (outlen != NULL)
		*outlen = (size_t)(o - out);
	return out;
}

size_t
utf8_cut(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = n;

	/* Back over continuation bytes to the lead byte of the last
	 * character, then keep it only if it is complete. */
	while (start > 0 && n - start < 4 && (p[start - 1] & 0xc0) == 0x80)
		start--;
	if (start == 0 || p[start - 1] < 0xc0)
		return n;	/* ASCII, or no lead byte: nothing to split */
	start--;
	if (utf8_seq(p + start, n - start) == n - start)
		return n;
	return start;
}

json_t *
json_string_lossy(const char *s)
{
	json_t *j;
	char *clean;
	size_t len;

	if (s == NULL)
		return NULL;
	if ((j = json_string(s)) != NULL)
		return j;
	if ((clean = utf8_clean(s, strlen(s), &len)) == NULL)
		return NULL;
	j = json_stringn(clean, len);
	free(clean);
	return j;
}
