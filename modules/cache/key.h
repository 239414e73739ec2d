/*
 * The cache key of a request: the site's host, the path, the query as the site's key rules shape it
 * (kept as is, sorted, filtered to some parameters, or ignored), and the request headers and
 * cookies the site adds. Pure functions; any thread.
 */
#ifndef ANYEDGE_CACHE_KEY_H
#define ANYEDGE_CACHE_KEY_H

#include <h2o.h>

typedef enum { AE_KEY_QUERY_KEEP, AE_KEY_QUERY_SORT, AE_KEY_QUERY_IGNORE } ae_key_query_t;

typedef struct ae_key_conf {
    ae_key_query_t query;
    H2O_VECTOR(h2o_iovec_t) include_params; /* when not empty: only these parameters count */
    H2O_VECTOR(h2o_iovec_t) exclude_params; /* these never count */
    H2O_VECTOR(h2o_iovec_t) headers;        /* lower-case request header names added to the key */
    H2O_VECTOR(h2o_iovec_t) cookies;        /* cookie names whose values are added to the key */
} ae_key_conf_t;

/* host must be the site's canonical host; path is the request target (path and query). */
h2o_iovec_t ae_cache_key(h2o_mem_pool_t *pool, const ae_key_conf_t *conf, const char *host, h2o_iovec_t path, const h2o_headers_t *headers);

#endif
