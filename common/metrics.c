/*
 * metrics.c - the metrics registry and the Prometheus text exposition.
 *
 * Families and series live in plain arrays: a process has a few dozen
 * families and each family a bounded number of series, so a linear scan
 * guarded by a hash of the label values is both simple and fast enough
 * for the per-task update rate of a worker pool.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
#include "metrics.h"

struct series {
	char **lv;		/* nlabels values */
	uint64_t hash;
	double value;		/* counter, gauge */
	uint64_t *buckets;	/* histogram: nb + 1 non-cumulative counts */
	double sum;
};

struct metric {
	struct metrics *r;
	char *name;
	char *help;
	enum metric_type type;
	char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	double bounds[METRICS_MAX_BUCKETS];
	size_t nb;
	struct series *s;
	size_t ns, cap;
	size_t max_series;
};

struct metrics {
	struct metric **m;
	size_t n, cap;
	struct metric *dropped;	/* updates refused by the series bound */
};

static const char *const no_labels[METRICS_MAX_LABELS];

static int
valid_name(const char *s, int colon)
{
	if (s == NULL || *s == '\0' || isdigit((unsigned char)*s))
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' &&
		    !(colon && *s == ':'))
			return 0;
	return 1;
}

static int
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Frees every series' contents (not the array); m->ns is then 0. */
static void
series_free_all(struct metric *m)
{
	size_t i, j;

	for (i = 0; i < m->ns; i++) {
		for (j = 0; j < m->nlabels; j++)
			free(m->s[i].lv[j]);
		free(m->s[i].lv);
		free(m->s[i].buckets);
	}
	m->ns = 0;
}

static void
metric_free(struct metric *m)
{
	size_t j;

	if (m == NULL)
		return;
	series_free_all(m);
	free(m->s);
	for (j = 0; j < m->nlabels; j++)
		free(m->labels[j]);
	free(m->name);
	free(m->help);
	free(m);
}

void
metrics_free(struct metrics *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		metric_free(r->m[i]);
	free(r->m);
	free(r);
}

/* Splits "a,b" into m->labels; 0 or -1 for a bad list. */
static int
parse_labels(struct metric *m, const char *labels)
{
	const char *p = labels, *e;
	size_t j;

	if (labels == NULL || *labels == '\0')
		return 0;
	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (m->nlabels == METRICS_MAX_LABELS)
			return -1;
		if ((m->labels[m->nlabels] = strndup(p, e - p)) == NULL)
			return -1;
		m->nlabels++;
		if (!valid_name(m->labels[m->nlabels - 1], 0) ||
		    strncmp(m->labels[m->nlabels - 1], "__", 2) == 0 ||
		    strcmp(m->labels[m->nlabels - 1], "le") == 0)
			return -1;
		for (j = 0; j + 1 < m->nlabels; j++)
			if (strcmp(m->labels[j], m->labels[m->nlabels - 1]) == 0)
				return -1;
		if (*e == '\0')
			return 0;
		p = e + 1;
	}
}

static uint64_t
hash_lv(const char *const *lv, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		for (p = (const unsigned char *)(lv[i] ? lv[i] : ""); *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;	/* separator */
	}
	return h;
}

/* Finds the series of lv, creating it when create is set and the family
 * is below its bound.  NULL when absent, refused or out of memory. */
static struct series *
series_get(struct metric *m, const char *const *lv, int create)
{
	struct series *s, *ns;
	uint64_t h;
	size_t i, j;

	if (lv == NULL)
		lv = no_labels;
	h = hash_lv(lv, m->nlabels);
	for (i = 0; i < m->ns; i++) {
		s = &m->s[i];
		if (s->hash != h)
			continue;
		for (j = 0; j < m->nlabels; j++)
			if (strcmp(s->lv[j], lv[j] ? lv[j] : "") != 0)
				break;
		if (j == m->nlabels)
			return s;
	}
	if (!create)
		return NULL;
	if (m->ns >= m->max_series) {
		if (m->r->dropped != NULL && m->r->dropped != m) {
			const char *dl[1] = { m->name };
			metric_add(m->r->dropped, dl, 1);
		}
		return NULL;
	}
	if (m->ns == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4;
		if ((ns = realloc(m->s, cap * sizeof(*ns))) == NULL)
			return NULL;
		m->s = ns;
		m->cap = cap;
	}
	s = &m->s[m->ns];
	memset(s, 0, sizeof(*s));
	s->hash = h;
	if ((s->lv = calloc(m->nlabels ? m->nlabels : 1, sizeof(char *))) == NULL)
		return NULL;
	if (m->type == METRIC_HISTOGRAM &&
	    (s->buckets = calloc(m->nb + 1, sizeof(uint64_t))) == NULL)
		goto fail;
	for (j = 0; j < m->nlabels; j++)
		if ((s->lv[j] = strdup(lv[j] ? lv[j] : "")) == NULL)
			goto fail;
	m->ns++;
	return s;
fail:
	for (j = 0; j < m->nlabels; j++)
		free(s->lv[j]);
	free(s->lv);
	free(s->buckets);
	return NULL;
}

static struct metric *
declare(struct metrics *r, enum metric_type type, const char *name,
    const char *help, const char *labels, const double *bounds, size_t nb)
{
	struct metric *m, **nm;
	size_t i;

	if ((m = metrics_find(r, name)) != NULL) {
		struct metric tmp = { 0 };
		int same = m->type == type;

		if (parse_labels(&tmp, labels) != 0 || tmp.nlabels != m->nlabels)
			same = 0;
		for (i = 0; same && i < tmp.nlabels; i++)
			same = strcmp(tmp.labels[i], m->labels[i]) == 0;
		for (i = 0; i < tmp.nlabels; i++)
			free(tmp.labels[i]);
		return same ? m : NULL;
	}
	if (!valid_name(name, 1) || help == NULL)
		return NULL;
	if (type == METRIC_COUNTER && !has_suffix(name, "_total"))
		return NULL;
	if (type == METRIC_HISTOGRAM && (nb == 0 || nb > METRICS_MAX_BUCKETS))
		return NULL;
	for (i = 1; i < nb; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->r = r;
	m->type = type;
	m->max_series = METRICS_MAX_SERIES;
	if ((m->name = strdup(name)) == NULL || (m->help = strdup(help)) == NULL ||
	    parse_labels(m, labels) != 0)
		goto fail;
	for (i = 0; i < nb && type == METRIC_HISTOGRAM; i++) {
		if (isinf(bounds[i]) || isnan(bounds[i]))
			goto fail;
		m->bounds[i] = bounds[i];
	}
	m->nb = type == METRIC_HISTOGRAM ? nb : 0;
	/* A family without labels has exactly one series: create it now so
	 * that it is exposed (as 0) before its first update. */
	if (m->nlabels == 0 && series_get(m, NULL, 1) == NULL)
		goto fail;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		if ((nm = realloc(r->m, cap * sizeof(*nm))) == NULL)
			goto fail;
		r->m = nm;
		r->cap = cap;
	}
	r->m[r->n++] = m;
	return m;
fail:
	metric_free(m);
	return NULL;
}

struct metrics *
metrics_new(void)
{
	struct metrics *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->dropped = declare(r, METRIC_COUNTER,
	    "codeq_metrics_dropped_updates_total",
	    "Metric updates dropped because the family reached its bound on label sets.",
	    "metric", NULL, 0);
	if (r->dropped == NULL) {
		metrics_free(r);
		return NULL;
	}
	return r;
}

struct metric *
metrics_counter(struct metrics *r, const char *name, const char *help,
    const char *labels)
{
	return declare(r, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *
metrics_gauge(struct metrics *r, const char *name, const char *help,
    const char *labels)
{
	return declare(r, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *
metrics_histogram(struct metrics *r, const char *name, const char *help,
    const char *labels, const double *bounds, size_t nbounds)
{
	return declare(r, METRIC_HISTOGRAM, name, help, labels, bounds, nbounds);
}

struct metric *
metrics_find(struct metrics *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->m[i]->name, name) == 0)
			return r->m[i];
	return NULL;
}

void
metric_set_max_series(struct metric *m, size_t max)
{
	m->max_series = max;
}

enum metric_type
metric_type(const struct metric *m)
{
	return m->type;
}

size_t
metric_nlabels(const struct metric *m)
{
	return m->nlabels;
}

size_t
metric_nbuckets(const struct metric *m)
{
	return m->nb;
}

double
metric_bound(const struct metric *m, size_t i)
{
	return i < m->nb ? m->bounds[i] : INFINITY;
}

void
metric_add(struct metric *m, const char *const *lv, double v)
{
	struct series *s;

	if (m == NULL || m->type == METRIC_HISTOGRAM)
		return;
	if (m->type == METRIC_COUNTER && !(v >= 0))
		return;
	if ((s = series_get(m, lv, 1)) != NULL)
		s->value += v;
}

void
metric_set(struct metric *m, const char *const *lv, double v)
{
	struct series *s;

	if (m == NULL || m->type == METRIC_HISTOGRAM)
		return;
	if ((s = series_get(m, lv, 1)) != NULL)
		s->value = v;
}

void
metric_observe(struct metric *m, const char *const *lv, double v)
{
	size_t i;

	if (m == NULL || m->type != METRIC_HISTOGRAM || isnan(v))
		return;
	for (i = 0; i < m->nb && v > m->bounds[i]; i++)
		;
	metric_hist_add(m, lv, i, 1, v);
}

void
metric_hist_add(struct metric *m, const char *const *lv, size_t bucket,
    uint64_t count, double sum)
{
	struct series *s;

	if (m == NULL || m->type != METRIC_HISTOGRAM || bucket > m->nb)
		return;
	if ((s = series_get(m, lv, 1)) == NULL)
		return;
	s->buckets[bucket] += count;
	if (!isnan(sum))
		s->sum += sum;
}

double
metric_get(struct metric *m, const char *const *lv)
{
	struct series *s;
	double n = 0;
	size_t i;

	if (m == NULL || (s = series_get(m, lv, 0)) == NULL)
		return 0;
	if (m->type != METRIC_HISTOGRAM)
		return s->value;
	for (i = 0; i <= m->nb; i++)
		n += (double)s->buckets[i];
	return n;
}

double
metric_hist_sum(struct metric *m, const char *const *lv)
{
	struct series *s;

	if (m == NULL || m->type != METRIC_HISTOGRAM ||
	    (s = series_get(m, lv, 0)) == NULL)
		return 0;
	return s->sum;
}

void
metric_clear(struct metric *m)
{
	if (m == NULL)
		return;
	series_free_all(m);
	if (m->nlabels == 0)
		(void)series_get(m, NULL, 1);
}

void
metric_remove(struct metric *m, const char *const *lv)
{
	struct series *s;
	size_t j;

	if (m == NULL || m->nlabels == 0 || (s = series_get(m, lv, 0)) == NULL)
		return;
	for (j = 0; j < m->nlabels; j++)
		free(s->lv[j]);
	free(s->lv);
	free(s->buckets);
	*s = m->s[--m->ns];
}

/* ---- Exposition --------------------------------------------------- */

/* Escapes a HELP text (\\ and \n) or a label value (also \"). */
static void
buf_escaped(struct jsonbuf *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			jb_put(b, "\\\\", 2);
		else if (*s == '\n')
			jb_put(b, "\\n", 2);
		else if (quote && *s == '"')
			jb_put(b, "\\\"", 2);
		else
			jb_put(b, s, 1);
	}
}

void
metrics_format_value(double v, char *buf, size_t len)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
		return;
	}
	/* The shortest decimal that reads back as the same double, so that
	 * 0.1 prints as 0.1 and not 0.10000000000000001. */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

static void
buf_value(struct jsonbuf *b, double v)
{
	char tmp[32];

	metrics_format_value(v, tmp, sizeof(tmp));
	jb_puts(b, tmp);
}

/* name{l1="v1",l2="v2"[,le="x"]} */
static void
buf_series_name(struct jsonbuf *b, const struct metric *m, const struct series *s,
    const char *suffix, const char *le)
{
	size_t j;
	int first = 1;

	jb_puts(b, m->name);
	jb_puts(b, suffix);
	if (m->nlabels == 0 && le == NULL)
		return;
	jb_put(b, "{", 1);
	for (j = 0; j < m->nlabels; j++) {
		if (!first)
			jb_put(b, ",", 1);
		first = 0;
		jb_puts(b, m->labels[j]);
		jb_put(b, "=\"", 2);
		buf_escaped(b, s->lv[j], 1);
		jb_put(b, "\"", 1);
	}
	if (le != NULL) {
		if (!first)
			jb_put(b, ",", 1);
		jb_puts(b, "le=\"");
		jb_puts(b, le);
		jb_put(b, "\"", 1);
	}
	jb_put(b, "}", 1);
}

static void
render_histogram(struct jsonbuf *b, const struct metric *m, const struct series *s)
{
	char le[32];
	double cum = 0;
	size_t i;

	for (i = 0; i <= m->nb; i++) {
		cum += (double)s->buckets[i];
		if (i < m->nb)
			metrics_format_value(m->bounds[i], le, sizeof(le));
		else
			snprintf(le, sizeof(le), "+Inf");
		buf_series_name(b, m, s, "_bucket", le);
		jb_put(b, " ", 1);
		buf_value(b, cum);
		jb_put(b, "\n", 1);
	}
	buf_series_name(b, m, s, "_sum", NULL);
	jb_put(b, " ", 1);
	buf_value(b, s->sum);
	jb_put(b, "\n", 1);
	buf_series_name(b, m, s, "_count", NULL);
	jb_put(b, " ", 1);
	buf_value(b, cum);
	jb_put(b, "\n", 1);
}

static const char *
type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	default:
		return "histogram";
	}
}

char *
metrics_render(struct metrics *r, size_t *len)
{
	struct jsonbuf b = { 0 };
	const struct metric *m;
	size_t i, k;

	for (i = 0; i < r->n; i++) {
		m = r->m[i];
		jb_puts(&b, "# HELP ");
		jb_puts(&b, m->name);
		jb_put(&b, " ", 1);
		buf_escaped(&b, m->help, 0);
		jb_puts(&b, "\n# TYPE ");
		jb_puts(&b, m->name);
		jb_put(&b, " ", 1);
		jb_puts(&b, type_name(m->type));
		jb_put(&b, "\n", 1);
		for (k = 0; k < m->ns; k++) {
			if (m->type == METRIC_HISTOGRAM) {
				render_histogram(&b, m, &m->s[k]);
				continue;
			}
			buf_series_name(&b, m, &m->s[k], "", NULL);
			jb_put(&b, " ", 1);
			buf_value(&b, m->s[k].value);
			jb_put(&b, "\n", 1);
		}
	}
	if (!b.oom && b.p == NULL) {
		/* No metric: an empty exposition, not a failure. */
		if (len != NULL)
			*len = 0;
		return calloc(1, 1);
	}
	return jb_finish(&b, len);
}
