/*
 * HTTP caching policy as pure functions of (request, response, now): whether a request may use the
 * cache, whether a response may be stored, and for how long it stays fresh. No I/O, no state, so
 * each rule has a unit test (t/unit/test_policy.c). Any thread may call these.
 */
#ifndef ANYEDGE_CACHE_POLICY_H
#define ANYEDGE_CACHE_POLICY_H

#include <stdint.h>
#include <time.h>
#include <h2o.h>

#define AE_CC_ABSENT (-1)

typedef struct ae_cache_control {
    unsigned no_store : 1, no_cache : 1, is_private : 1, is_public : 1, must_revalidate : 1;
    int64_t max_age, s_maxage; /* seconds, or AE_CC_ABSENT */
} ae_cache_control_t;

/* Parses every Cache-Control header of `headers`; the first occurrence of a directive wins. */
void ae_cache_control_parse(const h2o_headers_t *headers, ae_cache_control_t *cc);

typedef enum {
    AE_REQUEST_LOOKUP,         /* GET or HEAD: may be answered from the cache */
    AE_REQUEST_PASS_METHOD,    /* other methods go to the origin, never stored */
    AE_REQUEST_PASS_AUTHORIZED /* carries Authorization: passed, never stored */
} ae_request_class_t;

ae_request_class_t ae_cache_classify_request(h2o_iovec_t method, const h2o_headers_t *headers);

typedef struct ae_store_decision {
    int store;
    int64_t ttl;         /* freshness lifetime left at `now`, seconds */
    int64_t initial_age; /* the Age the origin reported, seconds */
    const char *reason;  /* why it is not stored, a Cache-Status detail token */
} ae_store_decision_t;

ae_store_decision_t ae_cache_decide_store(int status, const h2o_headers_t *headers, time_t now);

/* Parses an HTTP-date (RFC 9110 IMF-fixdate, also RFC 850 and asctime forms); -1 if invalid. */
time_t ae_http_date_parse(const char *s, size_t len);

#endif
