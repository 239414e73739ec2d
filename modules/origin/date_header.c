/*
 * Sending a response head with the Date the origin gave it: a proxy passes Date on, and a cache
 * serves the stored one rather than its own clock (RFC 9110 6.6.1, RFC 9111 4). h2o writes the Date
 * of the context's timestamp cache into every head it sends, so for the one h2o_send() that writes
 * the head the cache is pointed at the origin's date, and restored right after. A Date that is not
 * an IMF-fixdate is left to h2o's clock, as RFC 9110 allows for an invalid one.
 *
 * Worker threads, on the thread that owns the request.
 */
#include <string.h>
#include "modules/origin/origin.h"

static int is_imf_fixdate_shaped(h2o_iovec_t date)
{
    return date.len == H2O_TIMESTR_RFC1123_LEN && memcmp(date.base + date.len - 4, " GMT", 4) == 0 && date.base[3] == ',';
}

h2o_iovec_t ae_origin_date(const h2o_headers_t *headers)
{
    ssize_t i = h2o_find_header(headers, H2O_TOKEN_DATE, -1);
    return i != -1 ? headers->entries[i].value : h2o_iovec_init(NULL, 0);
}

void ae_send_head_with_date(h2o_req_t *req, h2o_iovec_t date, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    h2o_context_t *ctx = req->conn->ctx;
    if (!is_imf_fixdate_shaped(date)) {
        h2o_send(req, bufs, bufcnt, state);
        return;
    }
    h2o_get_timestamp(ctx, NULL, NULL); /* bring the cache up to date first, so h2o does not refresh it inside */
    h2o_timestamp_string_t *saved = ctx->_timestamp_cache.value, *origin = h2o_mem_alloc_shared(NULL, sizeof(*origin), NULL);
    memcpy(origin->rfc1123, date.base, date.len);
    origin->rfc1123[date.len] = '\0';
    memcpy(origin->log, saved->log, sizeof(origin->log));
    ctx->_timestamp_cache.value = origin;
    h2o_send(req, bufs, bufcnt, state);
    ctx->_timestamp_cache.value = saved;
    h2o_mem_release_shared(origin);
}
