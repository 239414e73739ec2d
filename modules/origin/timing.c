/*
 * Per-request origin timing (see timing.h and origin.h). The record is a shared allocation in the
 * request's pool, found through the request's env; the exchange points to it while both live:
 * whichever goes first unlinks the other (the record's dispose runs when h2o frees the request,
 * after the loggers have read it). A request that starts a second exchange keeps the latest.
 *
 * Worker threads only, the request's own.
 */
#include "modules/origin/timing.h"

#define TIMING_VALUE "anyedge.origin-timing"

/* The request whose head was built last on this thread, until an exchange takes it. */
static __thread struct {
    h2o_req_t *req;
    const char *head;
} expected;

static void on_request_freed(void *_timing)
{
    ae_origin_timing_t *timing = _timing;
    if (timing->fetch != NULL)
        timing->fetch->_timing = NULL;
}

void ae_origin_timing_expect(h2o_req_t *req, h2o_iovec_t head)
{
    expected.req = req;
    expected.head = head.base;
}

void ae_origin_timing_bind(ae_fetch_t *fetch, h2o_iovec_t head)
{
    h2o_req_t *req = expected.req;
    int matches = req != NULL && head.base == expected.head;

    expected.req = NULL;
    expected.head = NULL;
    if (!matches)
        return;
    ae_origin_timing_t *timing = ae_request_value(req, H2O_STRLIT(TIMING_VALUE));
    if (timing == NULL) {
        timing = h2o_mem_alloc_shared(&req->pool, sizeof(*timing), on_request_freed);
        ae_request_set_value(req, H2O_STRLIT(TIMING_VALUE), timing);
    } else if (timing->fetch != NULL) {
        timing->fetch->_timing = NULL; /* an earlier exchange of the same request: the new one counts */
    }
    *timing = (ae_origin_timing_t){.fetch = fetch, .first_byte_us = -1, .total_us = -1};
    fetch->_timing = timing;
}

void ae_origin_timing_head(ae_fetch_t *fetch, int64_t first_byte_us)
{
    if (fetch->_timing == NULL)
        return;
    fetch->_timing->status = fetch->status;
    fetch->_timing->first_byte_us = first_byte_us;
}

void ae_origin_timing_end(ae_fetch_t *fetch, ae_fetch_result_t result, int64_t total_us)
{
    ae_origin_timing_t *timing = fetch->_timing;
    if (timing == NULL)
        return;
    timing->total_us = total_us;
    timing->result = result;
    timing->fetch = NULL;
    fetch->_timing = NULL;
}

const ae_origin_timing_t *ae_origin_request_timing(h2o_req_t *req)
{
    return ae_request_value(req, H2O_STRLIT(TIMING_VALUE));
}
