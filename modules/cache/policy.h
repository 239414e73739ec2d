/*
 * HTTP caching policy as pure functions of (request, response, settings, now): RFC 9111 (storage,
 * freshness, age, use of stored responses), RFC 9110 conditionals and ranges as a cache answers
 * them, RFC 9213 targeted cache control, and the cache key. No I/O, no state, so each rule has a
 * unit test (t/unit/test_policy.c). Any thread may call these.
 *
 * Header arguments are h2o header lists whose names are lower-case (as h2o parses them).
 */
#ifndef ANYEDGE_CACHE_POLICY_H
#define ANYEDGE_CACHE_POLICY_H

#include <stdint.h>
#include <time.h>
#include <h2o.h>

#define AE_CC_ABSENT (-1)
#define AE_CC_UNLIMITED INT64_MAX /* max-stale without a value */
#define AE_DELTA_SECONDS_MAX 2147483648LL /* RFC 9111 1.2.2: larger values are taken as this */

/* A site's caching settings (the `cache:` mapping of a site). */
typedef struct ae_policy_conf {
    int ignore_client_no_cache;   /* treat request no-cache / max-age=0 / Pragma: no-cache as absent */
    int strip_set_cookie;         /* store responses with Set-Cookie, without that header; else never store them */
    int honour_surrogate_control; /* Surrogate-Control targets this cache (used when no CDN-Cache-Control) */
    unsigned heuristic_percent;   /* heuristic freshness: this % of (Date - Last-Modified); 0 disables */
    int64_t heuristic_max;        /* cap of the heuristic lifetime, seconds */
    int64_t negative_ttl_404, negative_ttl_410, negative_ttl_5xx; /* when the origin gave no freshness; AE_CC_ABSENT = none */
    int content_type_check;       /* do not store a response whose Content-Type does not fit its URL's extension (deception.h) */
} ae_policy_conf_t;

/* The defaults: honour client no-cache, never store Set-Cookie, honour Surrogate-Control,
 * heuristic 10% capped at 1 day, no negative caching. */
extern const ae_policy_conf_t ae_policy_conf_default;

/* Cache-Control directives; the first occurrence of a directive wins, except that a bare no-cache or
 * private wins over one with a field list (the most restrictive, RFC 9111 4.2.1). */
typedef struct ae_cache_control {
    unsigned no_store : 1, no_cache : 1, is_private : 1, is_public : 1, must_revalidate : 1, proxy_revalidate : 1, immutable : 1,
        only_if_cached : 1, invalid_max_age : 1;
    h2o_iovec_t no_cache_fields, private_fields; /* the field-name lists of no-cache="..." and private="..." (empty if none) */
    int64_t max_age, s_maxage, stale_while_revalidate, stale_if_error, max_stale, min_fresh; /* seconds or AE_CC_ABSENT */
} ae_cache_control_t;

/* Parses every header named `name` (e.g. "cache-control") of `headers`. Returns 1 if there was one. */
int ae_cache_control_parse(const h2o_headers_t *headers, const char *name, ae_cache_control_t *cc);

/* Response headers meant for this cache only, never passed downstream nor stored:
 * CDN-Cache-Control, Anyedge-Cache-Control and, when honoured, Surrogate-Control. */
int ae_cache_is_cache_only_header(const ae_policy_conf_t *conf, h2o_iovec_t name);

typedef enum {
    AE_REQUEST_LOOKUP,          /* GET or HEAD: may be answered from the cache */
    AE_REQUEST_PASS_METHOD,     /* other methods go to the origin, never stored */
    AE_REQUEST_PASS_AUTHORIZED, /* carries Authorization: looked up never, stored only as RFC 9111 3.5 allows */
} ae_request_class_t;

ae_request_class_t ae_cache_classify_request(h2o_iovec_t method, const h2o_headers_t *headers);

/* Does a response to this method invalidate stored responses (RFC 9111 4.4: unsafe methods)? */
int ae_cache_method_invalidates(h2o_iovec_t method);

/* What the cache needs to know later about a stored response's freshness. */
typedef struct ae_freshness {
    int64_t response_time;  /* when the response was received, cache clock */
    int64_t initial_age;    /* corrected_initial_age (RFC 9111 4.2.3) */
    int64_t lifetime;       /* freshness lifetime, seconds (0: stale at once) */
    int64_t stale_while_revalidate, stale_if_error; /* seconds, or AE_CC_ABSENT */
    unsigned must_revalidate : 1; /* must-revalidate, proxy-revalidate or s-maxage: never served stale */
    unsigned no_cache : 1;        /* must be revalidated before every use */
    unsigned heuristic : 1;       /* lifetime is heuristic */
    unsigned immutable : 1;       /* RFC 8246: will not change while fresh */
} ae_freshness_t;

typedef struct ae_store_decision {
    int store;
    const char *reason;         /* why not, a Cache-Status detail token ("no-store", "private", ...) */
    int strip_set_cookie;       /* store it without its Set-Cookie headers */
    h2o_iovec_t omit_fields;    /* no-cache="..."/private="..." field names: stored without these */
    ae_freshness_t freshness;
} ae_store_decision_t;

/* RFC 9111 section 3 plus freshness (4.2): may this response to this request be stored, and how
 * fresh is it? request_time/response_time are when the request was sent and the head arrived. */
ae_store_decision_t ae_cache_decide_store(const ae_policy_conf_t *conf, h2o_iovec_t method, const h2o_headers_t *req_headers, int status,
                                          const h2o_headers_t *res_headers, int64_t request_time, int64_t response_time);

int64_t ae_cache_current_age(const ae_freshness_t *f, int64_t now);

/* RFC 9111 section 4: what a request may do with a stored response. */
typedef enum {
    AE_USE_FRESH,                  /* serve it */
    AE_USE_STALE_ALLOWED,          /* stale, but the request's max-stale accepts it: serve it */
    AE_USE_STALE_WHILE_REVALIDATE, /* serve it now, refresh in the background */
    AE_USE_REVALIDATE,             /* ask the origin (conditionally when validators exist) */
} ae_use_t;

typedef struct ae_request_directives {
    ae_cache_control_t cc;   /* with Pragma: no-cache folded into no_cache when Cache-Control is absent */
} ae_request_directives_t;

void ae_cache_request_directives(const ae_policy_conf_t *conf, const h2o_headers_t *req_headers, ae_request_directives_t *out);
ae_use_t ae_cache_select(const ae_request_directives_t *req, const ae_freshness_t *stored, int64_t now);
/* May a stale response be served because the origin failed (stale-if-error, or the site's grace)? */
int ae_cache_stale_on_error(const ae_request_directives_t *req, const ae_freshness_t *stored, int64_t grace, int64_t now);

/* RFC 9110 13.2: should a GET/HEAD with these request headers get 304 from a stored 200 that has
 * these validators (either may be empty)? If-None-Match (weak comparison) wins over
 * If-Modified-Since. */
int ae_cache_not_modified(const h2o_headers_t *req_headers, h2o_iovec_t etag, h2o_iovec_t last_modified);

/* RFC 9111 3.2: a 304's header replaces the stored one, except Content-Length and the like. */
int ae_cache_304_updates_header(h2o_iovec_t name);

/* RFC 9110 14: one range of a representation of `size` bytes. */
typedef enum { AE_RANGE_NONE, AE_RANGE_OK, AE_RANGE_UNSATISFIABLE } ae_range_result_t;
/* AE_RANGE_NONE: no usable single range (absent, malformed, several ranges): serve the whole 200. */
ae_range_result_t ae_cache_parse_range(h2o_iovec_t range, uint64_t size, uint64_t *first, uint64_t *last);
/* If-Range against the stored validators: 1 when the range may be served. */
int ae_cache_if_range_matches(h2o_iovec_t if_range, h2o_iovec_t etag, h2o_iovec_t last_modified);

/* Vary (RFC 9111 4.1). Returns -1 for Vary: * (never reusable), else the number of names written
 * to names[] (lower-case copies from pool, each once, at most max_names; -1 as well when there are more). */
int ae_cache_vary_names(h2o_mem_pool_t *pool, const h2o_headers_t *res_headers, h2o_iovec_t *names, size_t max_names);
/* The secondary key part for a request: each named header's values, whitespace-normalized. */
h2o_iovec_t ae_cache_vary_key(h2o_mem_pool_t *pool, const h2o_headers_t *req_headers, const h2o_iovec_t *names, size_t num_names);

/* Parses an HTTP-date (RFC 9110 IMF-fixdate, also RFC 850 and asctime forms); -1 if invalid. */
time_t ae_http_date_parse(const char *s, size_t len);

/* ---- HTTP field syntax (RFC 9110 5.6), for policy.c and conditional.c ---- */

static inline int ae_cache_is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* `s` without leading and trailing spaces and tabs. */
h2o_iovec_t ae_cache_trim_ows(h2o_iovec_t s);

/* How a list's double quotes are read: quoted-strings have backslash escapes, entity-tags do not. */
typedef enum { AE_CACHE_QUOTED_STRINGS, AE_CACHE_ENTITY_TAGS } ae_cache_quoting_t;

/* Takes the next non-empty element, trimmed, of the comma-separated list *rest (RFC 9110 5.6.1); a
 * comma between double quotes does not separate. Returns 0 at the end of the list. */
int ae_cache_list_next(h2o_iovec_t *rest, ae_cache_quoting_t quoting, h2o_iovec_t *element);

/* The elements of a list field over all of its header lines, in order:
 *     ae_cache_field_iter_t iter = ae_cache_field_iter(headers, "vary", AE_CACHE_QUOTED_STRINGS);
 *     while (ae_cache_field_next(&iter, &element)) ... */
typedef struct ae_cache_field_iter {
    const h2o_headers_t *headers;
    h2o_iovec_t name;
    ae_cache_quoting_t quoting;
    ssize_t line;     /* the header line being read, -1 before the first */
    h2o_iovec_t rest; /* what is left of it */
} ae_cache_field_iter_t;

ae_cache_field_iter_t ae_cache_field_iter(const h2o_headers_t *headers, const char *name, ae_cache_quoting_t quoting);
int ae_cache_field_next(ae_cache_field_iter_t *iter, h2o_iovec_t *element);

#endif
