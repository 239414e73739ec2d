/*
 * Request counters (see requests.h): an h2o logger on the router's path, so that h2o calls it for
 * every request it frees there, whoever answered it (a site's handlers, or the router with 400 or
 * 421). Blocks of counters per worker thread, allocated before the workers start and freed after
 * they stopped; each starts on its own cache line.
 *
 * The logger runs on the request's worker thread and writes only that thread's block.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/health/health.h"
#include "modules/metrics/requests.h"

#define CACHE_LINE 64

const char *const ae_status_class_names[AE_STATUS_CLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
const char *const ae_cache_result_names[AE_RESULTS] = {"none", "HIT", "MISS", "STALE", "REVALIDATED", "PASS"};

static ae_request_cell_t **blocks; /* [thread][(site * AE_STATUS_CLASSES + class) * AE_RESULTS + result] */
static size_t num_blocks, num_sites;

static size_t cell_index(size_t site, int status_class, ae_cache_result_t result)
{
    return (site * AE_STATUS_CLASSES + (size_t)status_class) * AE_RESULTS + result;
}

static int status_class(int status)
{
    return status >= 100 && status < 600 ? status / 100 : 0;
}

static ae_cache_result_t cache_result(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-cache"), -1);
    if (i == -1)
        return AE_RESULT_NONE;
    h2o_iovec_t v = req->res.headers.entries[i].value;
    for (int r = AE_RESULT_HIT; r != AE_RESULTS; ++r)
        if (h2o_memis(v.base, v.len, ae_cache_result_names[r], strlen(ae_cache_result_names[r])))
            return (ae_cache_result_t)r;
    return AE_RESULT_NONE;
}

int ae_metrics_is_self_check(h2o_req_t *req)
{
    const char *self_host = ae_health_conf.self_host;
    h2o_iovec_t host = req->input.authority;
    const char *colon = memchr(host.base, ':', host.len);
    if (self_host == NULL || ae_request_site(req) != NULL)
        return 0;
    if (colon != NULL)
        host.len = colon - host.base;
    return h2o_lcstris(host.base, host.len, self_host, strlen(self_host));
}

static void on_log_access(h2o_logger_t *self, h2o_req_t *req)
{
    if (ae_metrics_is_self_check(req))
        return;
    ae_thread_t *thread = ae_thread_of(req->conn->ctx);
    ae_site_t *site = ae_request_site(req);
    ae_request_cell_t *cell = &blocks[thread->index][cell_index(site != NULL ? site->index : num_sites,
                                                                status_class(req->res.status), cache_result(req))];
    ae_counter_add(&cell->requests, 1);
    ae_counter_add(&cell->bytes, req->bytes_sent);
}

void ae_metrics_requests_init(ae_server_t *srv)
{
    size_t cells = cell_index(srv->sites.size + 1, 0, 0);
    size_t size = (cells * sizeof(ae_request_cell_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;

    num_sites = srv->sites.size;
    num_blocks = srv->num_threads;
    blocks = calloc(num_blocks, sizeof(*blocks));
    for (size_t i = 0; i != num_blocks; ++i) {
        blocks[i] = aligned_alloc(CACHE_LINE, size);
        memset(blocks[i], 0, size);
    }
    h2o_logger_t *logger = h2o_create_logger(srv->site_pathconf, sizeof(*logger));
    logger->log_access = on_log_access;
}

void ae_metrics_requests_free(void)
{
    for (size_t i = 0; i != num_blocks; ++i)
        free(blocks[i]);
    free(blocks);
    blocks = NULL;
    num_blocks = 0;
}

ae_request_cell_t ae_metrics_requests_get(size_t site, int status_class, ae_cache_result_t result)
{
    ae_request_cell_t sum = {0, 0};
    size_t at = cell_index(site, status_class, result);
    for (size_t i = 0; i != num_blocks; ++i) {
        sum.requests += ae_counter_get(&blocks[i][at].requests);
        sum.bytes += ae_counter_get(&blocks[i][at].bytes);
    }
    return sum;
}
