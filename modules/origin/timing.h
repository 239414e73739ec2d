/*
 * The origin module's private side of ae_origin_timing_t (see origin.h): how a request and the
 * exchange it starts find each other. ae_origin_request_head() notes the request and the head it
 * built; ae_fetch_start(), called with that very head on the same thread, takes the note. No other
 * code lies between the two calls, in the relay or in the cache's fills.
 *
 * Worker threads only: the request and its exchange live on the same worker.
 */
#ifndef ANYEDGE_ORIGIN_TIMING_H
#define ANYEDGE_ORIGIN_TIMING_H

#include "modules/origin/origin.h"

/* request.c: the head just built for req. */
void ae_origin_timing_expect(h2o_req_t *req, h2o_iovec_t head);
/* fetch.c: an exchange starts with `head`; binds it to the request that head was built for. */
void ae_origin_timing_bind(ae_fetch_t *fetch, h2o_iovec_t head);
/* fetch.c: the response head arrived, after first_byte_us. */
void ae_origin_timing_head(ae_fetch_t *fetch, int64_t first_byte_us);
/* fetch.c: the exchange ends (also when cancelled). */
void ae_origin_timing_end(ae_fetch_t *fetch, ae_fetch_result_t result, int64_t total_us);

#endif
