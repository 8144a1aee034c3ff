/*
 * metrics.h - a small in-process metrics registry and its Prometheus text
 * exposition (format 0.0.4).
 *
 * A registry holds metric families: counters, gauges and histograms with
 * fixed buckets.  Each family declares its label names once; a series is
 * one tuple of label values.  Label sets are bounded: a family holds at
 * most max_series series (default METRICS_MAX_SERIES) and updates for a
 * new tuple beyond that are dropped and counted in
 * codeq_metrics_dropped_updates_total, so a bug that puts an unbounded
 * value into a label costs a counter, never the process's memory.
 *
 * The registry is not thread-safe: codeq's processes are single-threaded
 * libev loops.
 */
#ifndef CODEQ_METRICS_H
#define CODEQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS	4
#define METRICS_MAX_BUCKETS	24
#define METRICS_MAX_SERIES	512

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *r);

/*
 * Declares a family.  name must match [a-zA-Z_:][a-zA-Z0-9_:]*, counters
 * end in _total; labels is a comma-separated list of label names ("queue,pool")
 * or NULL.  Histogram bounds are the upper bounds of the buckets, strictly
 * increasing, without +Inf (added on output).  Declaring a name twice
 * returns the first family when its type and labels match, else NULL.
 * Returns NULL on a bad name or labels (a programming error: callers
 * declare their families at start-up, so a NULL shows in the first test).
 */
struct metric *metrics_counter(struct metrics *r, const char *name,
    const char *help, const char *labels);
struct metric *metrics_gauge(struct metrics *r, const char *name,
    const char *help, const char *labels);
struct metric *metrics_histogram(struct metrics *r, const char *name,
    const char *help, const char *labels, const double *bounds,
    size_t nbounds);

struct metric *metrics_find(struct metrics *r, const char *name);
void metric_set_max_series(struct metric *m, size_t max);
enum metric_type metric_type(const struct metric *m);
size_t metric_nlabels(const struct metric *m);
size_t metric_nbuckets(const struct metric *m);	/* bounds, without +Inf */
double metric_bound(const struct metric *m, size_t i);

/*
 * Updates.  lv holds exactly as many label values as the family has
 * labels (NULL when it has none).  A NULL value becomes "".  Counters
 * ignore negative and NaN increments (a counter only goes up).
 */
void metric_add(struct metric *m, const char *const *lv, double v);
void metric_set(struct metric *m, const char *const *lv, double v);
void metric_observe(struct metric *m, const char *const *lv, double v);
/* Adds count observations to bucket i (i == nbuckets: the +Inf bucket)
 * and sum to the sum: folds a histogram measured elsewhere. */
void metric_hist_add(struct metric *m, const char *const *lv, size_t bucket,
    uint64_t count, double sum);

/* Current value (counter/gauge) or observation count (histogram); 0 when
 * the series does not exist. */
double metric_get(struct metric *m, const char *const *lv);
double metric_hist_sum(struct metric *m, const char *const *lv);

/* Removes every series of a family (gauges refreshed from a snapshot). */
void metric_clear(struct metric *m);
/* Removes one series (a label set that no longer exists). */
void metric_remove(struct metric *m, const char *const *lv);

/*
 * Renders the whole registry in the text exposition format 0.0.4: a
 * "# HELP" and a "# TYPE" line per family, then its series (histograms as
 * cumulative _bucket{le=...} lines, _sum and _count).  Families without
 * series still get their HELP and TYPE lines; a counter or a histogram
 * without labels gets a zero sample so that rate() works from the start.
 * Returns a malloc()ed NUL-terminated string (length in *len) or NULL when
 * out of memory.
 */
char *metrics_render(struct metrics *r, size_t *len);

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Formats v as the exposition does ("+Inf", "NaN", shortest exact
 * decimal).  buf needs 32 bytes. */
void metrics_format_value(double v, char *buf, size_t len);

#endif
