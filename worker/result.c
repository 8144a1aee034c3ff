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
#include "utf8.h"

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
