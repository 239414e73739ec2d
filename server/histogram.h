/*
 * Latency histograms with fixed buckets (in the manner of Prometheus' defaults, stretched to a
 * minute): a thread observes into its own histogram with plain loads and stores (ae_counter_add);
 * whoever reports them sums the threads' copies at read time. Buckets are not cumulative here; the
 * exposition makes them so.
 */
#ifndef ANYEDGE_HISTOGRAM_H
#define ANYEDGE_HISTOGRAM_H

#include <stdint.h>
#include "server/server.h"

#define AE_HISTOGRAM_BUCKETS 15

/* Upper bounds of the buckets, in microseconds; a last, unbounded bucket (+Inf) follows. */
static const uint64_t ae_histogram_bounds_us[AE_HISTOGRAM_BUCKETS] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

typedef struct ae_histogram {
    uint64_t buckets[AE_HISTOGRAM_BUCKETS + 1]; /* observations in (bound[i-1], bound[i]]; the last: above all bounds */
    uint64_t sum_us;
} ae_histogram_t; /* the count is the buckets' sum: it always matches them */

/* The owning thread only. */
static inline void ae_histogram_observe(ae_histogram_t *h, uint64_t us)
{
    size_t i = 0;
    while (i != AE_HISTOGRAM_BUCKETS && us > ae_histogram_bounds_us[i])
        ++i;
    ae_counter_add(&h->buckets[i], 1);
    ae_counter_add(&h->sum_us, us);
}

/* Any thread: adds a thread's histogram into `sum`. */
static inline void ae_histogram_merge(ae_histogram_t *sum, const ae_histogram_t *h)
{
    for (size_t i = 0; i != AE_HISTOGRAM_BUCKETS + 1; ++i)
        sum->buckets[i] += ae_counter_get(&h->buckets[i]);
    sum->sum_us += ae_counter_get(&h->sum_us);
}

#endif
