/*
 * Fills: the one origin fetch per cache key that is under way anywhere in the process, and the
 * clients (on any worker thread) that are served from it as it arrives. See fill.c.
 */
#ifndef ANYEDGE_CACHE_FILL_H
#define ANYEDGE_CACHE_FILL_H

#include "modules/cache/record.h"
#include "server/server.h"

typedef enum {
    AE_FILL_SHARED,  /* join a fill for the same key if there is one (GET and HEAD lookups) */
    AE_FILL_PRIVATE, /* a fetch of its own that may still be stored (requests with Authorization) */
} ae_fill_mode_t;

typedef struct ae_fill_request {
    ae_site_t *site;
    h2o_iovec_t key;     /* what requests share a fill by: the URL's key, or a variant's when the URL varies */
    h2o_iovec_t primary; /* the URL's key */
    ae_fill_mode_t mode;
    const char *fwd;           /* the Cache-Status reason: "uri-miss", "stale", "request" */
    const ae_record_t *stored; /* the stored response to revalidate (and fall back on), or NULL */
} ae_fill_request_t;

/* Answers req from the origin through the fill for the key, joining one under way. */
void ae_fill_serve(h2o_req_t *req, const ae_fill_request_t *fr);
/* Starts a fill for the key that no client waits for (a background refresh), unless one is under way. */
void ae_fill_refresh(h2o_req_t *req, const ae_fill_request_t *fr);

/* Counters since start, for metrics (any thread): origin fetches started by fills, and requests
 * that joined a fill under way instead of fetching (collapsed). */
void ae_fill_get_stats(uint64_t *fetches, uint64_t *collapsed);

/* Per worker thread: the receiver through which fills wake their clients on that thread. */
void ae_fill_thread_init(ae_thread_t *thread, h2o_multithread_receiver_t *receiver);
void ae_fill_thread_dispose(h2o_multithread_receiver_t *receiver);

#endif
