/*
 * Fuzz target: Cache-Control and targeted cache control (CDN-Cache-Control, Anyedge-Cache-Control,
 * Surrogate-Control) parsing, request directives, the store decision and what is then done with
 * the stored freshness (ae_cache_select, ae_cache_stale_on_error, ae_cache_current_age).
 *
 * Input: one byte of settings bits, one byte of status choice, then request header lines, an empty
 * line, response header lines (see fuzz_headers.h).
 */
#include <stdint.h>
#include "modules/cache/policy.h"
#include "t/fuzz/fuzz_headers.h"

static const int statuses[] = {200, 203, 204, 206, 300, 301, 304, 308, 404, 405, 410, 414, 500, 501, 502, 503, 504, 100, 299, 999};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t bits = data[0], status_choice = data[1];
    const char *p = (const char *)data + 2;
    size_t left = size - 2;
    h2o_mem_pool_t pool;
    h2o_headers_t req = {NULL}, res = {NULL};

    h2o_mem_init_pool(&pool);
    fuzz_read_headers(&pool, &p, &left, &req);
    fuzz_read_headers(&pool, &p, &left, &res);

    ae_policy_conf_t conf = ae_policy_conf_default;
    conf.ignore_client_no_cache = bits & 1;
    conf.strip_set_cookie = (bits >> 1) & 1;
    conf.honour_surrogate_control = (bits >> 2) & 1;
    conf.heuristic_percent = (bits & 8) ? 0 : 10 + (bits >> 4);
    if (bits & 0x80)
        conf.negative_ttl_404 = conf.negative_ttl_410 = conf.negative_ttl_5xx = 30;
    int status = statuses[status_choice % (sizeof(statuses) / sizeof(statuses[0]))];
    h2o_iovec_t method = (status_choice & 0x80) ? h2o_iovec_init(H2O_STRLIT("HEAD")) : h2o_iovec_init(H2O_STRLIT("GET"));

    ae_cache_control_t cc;
    static const char *const names[] = {"cache-control", "cdn-cache-control", "anyedge-cache-control", "surrogate-control", "pragma"};
    for (size_t i = 0; i != sizeof(names) / sizeof(names[0]); ++i) {
        ae_cache_control_parse(&req, names[i], &cc);
        ae_cache_control_parse(&res, names[i], &cc);
    }
    for (size_t i = 0; i != res.size; ++i)
        ae_cache_is_cache_only_header(&conf, *res.entries[i].name);

    ae_cache_classify_request(method, &req);
    int64_t now = 1700000000;
    ae_store_decision_t d = ae_cache_decide_store(&conf, method, &req, status, &res, now - 1, now);
    if (d.store && d.reason != NULL)
        __builtin_trap(); /* a stored response has no refusal reason */

    ae_request_directives_t rd;
    ae_cache_request_directives(&conf, &req, &rd);
    for (int64_t later = 0; later <= 86400 * 400; later = later * 7 + 1) {
        ae_cache_current_age(&d.freshness, now + later);
        ae_cache_select(&rd, &d.freshness, now + later);
        ae_cache_stale_on_error(&rd, &d.freshness, 60, now + later);
    }
    for (size_t i = 0; i != res.size; ++i)
        ae_cache_304_updates_header(*res.entries[i].name);

    h2o_mem_clear_pool(&pool);
    return 0;
}
