/*
 * The Prometheus text exposition format (version 0.0.4): a growing buffer of metric families, each
 * with its HELP and TYPE lines, samples with escaped label values, and histograms with cumulative
 * buckets whose +Inf bucket and _count are the same number.
 *
 * Pure string building, no I/O; any thread, one buffer per caller.
 */
#ifndef ANYEDGE_METRICS_PROM_H
#define ANYEDGE_METRICS_PROM_H

#include <stddef.h>
#include <stdint.h>
#include "server/histogram.h"
#include "server/strbuf.h"

typedef ae_strbuf_t ae_prom_t;

/* Labels of a sample: name/value pairs in a NULL-terminated list, e.g. {"site", "a.test", NULL}.
 * Values are escaped here; names must be valid label names. */
typedef const char *const ae_prom_labels_t[];

/* `# HELP name help` and `# TYPE name type` ("counter", "gauge", "histogram"). */
void ae_prom_family(ae_prom_t *p, const char *name, const char *type, const char *help);
/* `name{labels} value`; labels may be NULL. */
void ae_prom_u64(ae_prom_t *p, const char *name, const char *const *labels, uint64_t value);
void ae_prom_double(ae_prom_t *p, const char *name, const char *const *labels, double value);
/* A duration kept in microseconds, as seconds (exact: six decimals). */
void ae_prom_seconds(ae_prom_t *p, const char *name, const char *const *labels, uint64_t us);
/* name_bucket{labels,le="..."} for every bound and +Inf (in seconds), name_sum and name_count. */
void ae_prom_histogram(ae_prom_t *p, const char *name, const char *const *labels, const ae_histogram_t *h);

#endif
