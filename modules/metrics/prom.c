/*
 * The Prometheus text exposition format (see prom.h). Label values escape backslash, double quote
 * and newline; HELP text escapes backslash and newline; numbers are integers where they can be, durations
 * seconds with six decimals (they are kept in microseconds), other doubles with 17 significant digits.
 *
 * Any thread; a buffer belongs to its caller.
 */
#include <stdio.h>
#include <string.h>
#include "modules/metrics/prom.h"

static void puts_(ae_prom_t *p, const char *s)
{
    ae_strbuf_append(p, s, strlen(s));
}

/* Appends s with `\`, newline and, when quoted, `"` escaped. */
static void escaped(ae_prom_t *p, const char *s, int quoted)
{
    for (; *s != '\0'; ++s) {
        if (*s == '\\')
            puts_(p, "\\\\");
        else if (*s == '\n')
            puts_(p, "\\n");
        else if (*s == '"' && quoted)
            puts_(p, "\\\"");
        else
            ae_strbuf_append(p, s, 1);
    }
}

void ae_prom_family(ae_prom_t *p, const char *name, const char *type, const char *help)
{
    puts_(p, "# HELP ");
    puts_(p, name);
    puts_(p, " ");
    escaped(p, help, 0);
    puts_(p, "\n# TYPE ");
    puts_(p, name);
    puts_(p, " ");
    puts_(p, type);
    puts_(p, "\n");
}

/* `name{a="x",b="y"` + extra label (may be NULL) + `} `; no braces when there are no labels at all. */
static void series(ae_prom_t *p, const char *name, const char *const *labels, const char *extra_name, const char *extra_value)
{
    int any = 0;
    puts_(p, name);
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i += 2) {
        puts_(p, any++ ? "," : "{");
        puts_(p, labels[i]);
        puts_(p, "=\"");
        escaped(p, labels[i + 1], 1);
        puts_(p, "\"");
    }
    if (extra_name != NULL) {
        puts_(p, any++ ? "," : "{");
        puts_(p, extra_name);
        puts_(p, "=\"");
        puts_(p, extra_value);
        puts_(p, "\"");
    }
    puts_(p, any ? "} " : " ");
}

static void u64_value(ae_prom_t *p, uint64_t value)
{
    char buf[32];
    ae_strbuf_append(p, buf, (size_t)snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)value));
}

static void double_value(ae_prom_t *p, double value)
{
    char buf[48];
    ae_strbuf_append(p, buf, (size_t)snprintf(buf, sizeof(buf), "%.17g\n", value));
}

static void micros_value(ae_prom_t *p, uint64_t us)
{
    char buf[48];
    ae_strbuf_append(p, buf,
                     (size_t)snprintf(buf, sizeof(buf), "%llu.%06llu\n", (unsigned long long)(us / 1000000),
                                      (unsigned long long)(us % 1000000)));
}

void ae_prom_seconds(ae_prom_t *p, const char *name, const char *const *labels, uint64_t us)
{
    series(p, name, labels, NULL, NULL);
    micros_value(p, us);
}

void ae_prom_u64(ae_prom_t *p, const char *name, const char *const *labels, uint64_t value)
{
    series(p, name, labels, NULL, NULL);
    u64_value(p, value);
}

void ae_prom_double(ae_prom_t *p, const char *name, const char *const *labels, double value)
{
    series(p, name, labels, NULL, NULL);
    double_value(p, value);
}

void ae_prom_histogram(ae_prom_t *p, const char *name, const char *const *labels, const ae_histogram_t *h)
{
    char metric[128], le[32];
    uint64_t cumulative = 0;

    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (size_t i = 0; i != AE_HISTOGRAM_BUCKETS + 1; ++i) {
        cumulative += h->buckets[i];
        if (i != AE_HISTOGRAM_BUCKETS)
            snprintf(le, sizeof(le), "%g", (double)ae_histogram_bounds_us[i] / 1e6);
        else
            snprintf(le, sizeof(le), "+Inf");
        series(p, metric, labels, "le", le);
        u64_value(p, cumulative);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    series(p, metric, labels, NULL, NULL);
    micros_value(p, h->sum_us);
    snprintf(metric, sizeof(metric), "%s_count", name);
    series(p, metric, labels, NULL, NULL);
    u64_value(p, cumulative);
}
