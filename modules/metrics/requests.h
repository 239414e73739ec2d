/*
 * Request counters: every request to a site's listener (the router's 400 and 421 included), counted
 * when h2o frees it, by site, status class and cache result (its X-Cache). Each worker thread
 * counts into its own block; a scrape sums the blocks.
 */
#ifndef ANYEDGE_METRICS_REQUESTS_H
#define ANYEDGE_METRICS_REQUESTS_H

#include "server/server.h"

/* 1xx..5xx, and "none" for a request that ended before any response was started (the client left) */
#define AE_STATUS_CLASSES 6
typedef enum {
    AE_RESULT_NONE,
    AE_RESULT_HIT,
    AE_RESULT_MISS,
    AE_RESULT_STALE,
    AE_RESULT_REVALIDATED,
    AE_RESULT_PASS,
    AE_RESULTS
} ae_cache_result_t;

typedef struct ae_request_cell {
    uint64_t requests, bytes; /* bytes: the response bodies h2o was given to send */
} ae_request_cell_t;

extern const char *const ae_status_class_names[AE_STATUS_CLASSES];
extern const char *const ae_cache_result_names[AE_RESULTS];

/* Is this the health module's `self` check (a request for health.checks.self.host that no site
 * serves, once a second)? It is neither counted nor logged: /health reports it. */
int ae_metrics_is_self_check(h2o_req_t *req);

/* Main thread, in on_init (after the router registered) and after the workers stopped. */
void ae_metrics_requests_init(ae_server_t *srv);
void ae_metrics_requests_free(void);
/* Any thread: the cell of site index `site` (srv->sites.size: no site), class and result, summed
 * over the threads. */
ae_request_cell_t ae_metrics_requests_get(size_t site, int status_class, ae_cache_result_t result);

#endif
