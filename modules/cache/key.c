/*
 * Cache keys (see key.h). The parts after the path are separated by a tab, which a request target
 * cannot contain, so no two different requests share a key by accident. Pure; any thread.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/cache/key.h"

#define MAX_PARAMS 64
#define MAX_EXTRAS 16 /* headers, and cookies, that count */

static int listed(const h2o_iovec_t *names, size_t n, h2o_iovec_t name)
{
    for (size_t i = 0; i != n; ++i)
        if (h2o_memis(names[i].base, names[i].len, name.base, name.len))
            return 1;
    return 0;
}

static int compare_params(const void *a, const void *b)
{
    const h2o_iovec_t *x = a, *y = b;
    int c = memcmp(x->base, y->base, x->len < y->len ? x->len : y->len);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The query's parameters ("name" or "name=value") that count for the key, in order or sorted. */
static size_t key_params(const ae_key_conf_t *conf, h2o_iovec_t query, h2o_iovec_t *params)
{
    size_t n = 0;
    while (query.len != 0 && n != MAX_PARAMS) {
        const char *amp = memchr(query.base, '&', query.len);
        h2o_iovec_t param = h2o_iovec_init(query.base, amp != NULL ? (size_t)(amp - query.base) : query.len);
        query = amp != NULL ? h2o_iovec_init(amp + 1, query.len - param.len - 1) : h2o_iovec_init(NULL, 0);
        const char *eq = memchr(param.base, '=', param.len);
        h2o_iovec_t name = h2o_iovec_init(param.base, eq != NULL ? (size_t)(eq - param.base) : param.len);
        if (param.len == 0 || (conf->include_params.size != 0 && !listed(conf->include_params.entries, conf->include_params.size, name)) ||
            listed(conf->exclude_params.entries, conf->exclude_params.size, name))
            continue;
        params[n++] = param;
    }
    if (conf->query == AE_KEY_QUERY_SORT)
        qsort(params, n, sizeof(params[0]), compare_params);
    return n;
}

/* The value of cookie `name` in the Cookie headers, or {NULL}. */
static h2o_iovec_t cookie_value(const h2o_headers_t *headers, h2o_iovec_t name)
{
    for (ssize_t i = -1; (i = h2o_find_header(headers, H2O_TOKEN_COOKIE, i)) != -1;) {
        h2o_iovec_t rest = headers->entries[i].value;
        while (rest.len != 0) {
            const char *semi = memchr(rest.base, ';', rest.len);
            h2o_iovec_t pair = h2o_iovec_init(rest.base, semi != NULL ? (size_t)(semi - rest.base) : rest.len);
            rest = semi != NULL ? h2o_iovec_init(semi + 1, rest.len - pair.len - 1) : h2o_iovec_init(NULL, 0);
            while (pair.len != 0 && pair.base[0] == ' ')
                ++pair.base, --pair.len;
            if (pair.len > name.len && memcmp(pair.base, name.base, name.len) == 0 && pair.base[name.len] == '=')
                return h2o_iovec_init(pair.base + name.len + 1, pair.len - name.len - 1);
        }
    }
    return h2o_iovec_init(NULL, 0);
}

h2o_iovec_t ae_cache_key(h2o_mem_pool_t *pool, const ae_key_conf_t *conf, const char *host, h2o_iovec_t path, const h2o_headers_t *headers)
{
    h2o_iovec_t parts[2 + 2 * MAX_PARAMS + 2 * 4 * MAX_EXTRAS];
    size_t n = 0;
    const char *question = memchr(path.base, '?', path.len);
    h2o_iovec_t query = question != NULL ? h2o_iovec_init(question + 1, path.len - (question - path.base) - 1) : h2o_iovec_init(NULL, 0);

    parts[n++] = h2o_iovec_init(host, strlen(host));
    if (conf == NULL || (conf->query == AE_KEY_QUERY_KEEP && conf->include_params.size == 0 && conf->exclude_params.size == 0)) {
        parts[n++] = path;
    } else {
        parts[n++] = h2o_iovec_init(path.base, question != NULL ? (size_t)(question - path.base) : path.len);
        if (conf->query != AE_KEY_QUERY_IGNORE) {
            h2o_iovec_t params[MAX_PARAMS];
            size_t count = key_params(conf, query, params);
            for (size_t i = 0; i != count; ++i) {
                parts[n++] = h2o_iovec_init(i == 0 ? "?" : "&", 1);
                parts[n++] = params[i];
            }
        }
    }
    for (size_t i = 0; conf != NULL && i != conf->headers.size && i != MAX_EXTRAS; ++i) {
        ssize_t at = h2o_find_header_by_str(headers, conf->headers.entries[i].base, conf->headers.entries[i].len, -1);
        parts[n++] = h2o_iovec_init(H2O_STRLIT("\theader:"));
        parts[n++] = conf->headers.entries[i];
        parts[n++] = h2o_iovec_init(H2O_STRLIT("="));
        parts[n++] = at != -1 ? headers->entries[at].value : h2o_iovec_init(NULL, 0);
    }
    for (size_t i = 0; conf != NULL && i != conf->cookies.size && i != MAX_EXTRAS; ++i) {
        parts[n++] = h2o_iovec_init(H2O_STRLIT("\tcookie:"));
        parts[n++] = conf->cookies.entries[i];
        parts[n++] = h2o_iovec_init(H2O_STRLIT("="));
        parts[n++] = cookie_value(headers, conf->cookies.entries[i]);
    }
    return h2o_concat_list(pool, parts, n);
}
