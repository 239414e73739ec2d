/*
 * Fuzz target: the parsers a cache hit goes through (modules/cache/conditional.c): Range (one
 * byte range against a representation size), If-Range, If-None-Match / If-Modified-Since, and Vary
 * (the names of a response's Vary, then the secondary key built from request headers).
 *
 * Input: 8 bytes of representation size (little-endian), then request header lines, an empty line,
 * response header lines (see fuzz_headers.h). The request's Range/If-Range and the response's
 * ETag/Last-Modified/Vary are used.
 */
#include <stdint.h>
#include "modules/cache/policy.h"
#include "t/fuzz/fuzz_headers.h"

static h2o_iovec_t header_value(const h2o_headers_t *headers, const char *name)
{
    ssize_t i = h2o_find_header_by_str(headers, name, strlen(name), -1);
    return i == -1 ? h2o_iovec_init(NULL, 0) : headers->entries[i].value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t representation = 0;
    for (int i = 7; i >= 0; --i)
        representation = representation << 8 | data[i];
    if (data[7] & 0x80)
        representation &= 0xffff; /* mostly small sizes, where ranges are satisfiable */
    const char *p = (const char *)data + 8;
    size_t left = size - 8;
    h2o_mem_pool_t pool;
    h2o_headers_t req = {NULL}, res = {NULL};

    h2o_mem_init_pool(&pool);
    fuzz_read_headers(&pool, &p, &left, &req);
    fuzz_read_headers(&pool, &p, &left, &res);
    h2o_iovec_t etag = header_value(&res, "etag"), last_modified = header_value(&res, "last-modified");

    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req, H2O_STRLIT("range"), i)) != -1;) {
        uint64_t first = 0, last = 0;
        if (ae_cache_parse_range(req.entries[i].value, representation, &first, &last) == AE_RANGE_OK &&
            (first > last || last >= representation))
            __builtin_trap(); /* a satisfiable range lies within the representation */
    }
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req, H2O_STRLIT("if-range"), i)) != -1;)
        ae_cache_if_range_matches(req.entries[i].value, etag, last_modified);
    ae_cache_not_modified(&req, etag, last_modified);

    h2o_iovec_t names[16];
    int n = ae_cache_vary_names(&pool, &res, names, sizeof(names) / sizeof(names[0]));
    if (n > 0) {
        h2o_iovec_t key = ae_cache_vary_key(&pool, &req, names, (size_t)n);
        if (strlen(key.base) > key.len)
            __builtin_trap();
    }
    for (size_t i = 0; i != res.size; ++i)
        ae_http_date_parse(res.entries[i].value.base, res.entries[i].value.len);

    h2o_mem_clear_pool(&pool);
    return 0;
}
