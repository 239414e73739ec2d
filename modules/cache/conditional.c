/*
 * What a cache does with a stored response beyond deciding to use it (see policy.h): answers
 * If-None-Match and If-Modified-Since (RFC 9110 13), tells which fields a 304 updates (RFC 9111
 * 3.2), serves a single byte range under If-Range (RFC 9110 14, 13.1.5), and builds the Vary
 * secondary key (RFC 9111 4.1). Storage, freshness and the choice to use a stored response are in
 * policy.c. Pure functions of their arguments; any thread.
 */
#include <string.h>
#include "modules/cache/policy.h"

/* ---- If-None-Match and If-Modified-Since (RFC 9110 13) ---- */

static int is_weak(h2o_iovec_t etag)
{
    return etag.len >= 2 && etag.base[0] == 'W' && etag.base[1] == '/';
}

/* RFC 9110 8.8.3.2: the same opaque-tag, whether either is weak or not. */
static int weak_match(h2o_iovec_t a, h2o_iovec_t b)
{
    if (is_weak(a))
        a = h2o_iovec_init(a.base + 2, a.len - 2);
    if (is_weak(b))
        b = h2o_iovec_init(b.base + 2, b.len - 2);
    return a.len != 0 && h2o_memis(a.base, a.len, b.base, b.len);
}

/* RFC 9110 8.8.3.2: both strong and the same. */
static int strong_match(h2o_iovec_t a, h2o_iovec_t b)
{
    return !is_weak(a) && !is_weak(b) && a.len != 0 && h2o_memis(a.base, a.len, b.base, b.len);
}

/* If-None-Match (13.1.2): does "*" or one of its entity-tags match the stored one? */
static int none_match_fails(const h2o_headers_t *req_headers, h2o_iovec_t etag)
{
    ae_cache_field_iter_t iter = ae_cache_field_iter(req_headers, "if-none-match", AE_CACHE_ENTITY_TAGS);
    h2o_iovec_t tag;
    if (etag.len == 0)
        return 0;
    while (ae_cache_field_next(&iter, &tag))
        if (h2o_memis(tag.base, tag.len, H2O_STRLIT("*")) || weak_match(tag, etag))
            return 1;
    return 0;
}

/* If-Modified-Since (13.1.3): ignored unless one valid date; then is Last-Modified no later? */
static int not_modified_since(const h2o_headers_t *req_headers, h2o_iovec_t last_modified)
{
    ssize_t i = h2o_find_header_by_str(req_headers, H2O_STRLIT("if-modified-since"), -1);
    if (i == -1 || h2o_find_header_by_str(req_headers, H2O_STRLIT("if-modified-since"), i) != -1)
        return 0;
    int64_t since = ae_http_date_parse(req_headers->entries[i].value.base, req_headers->entries[i].value.len),
            modified = ae_http_date_parse(last_modified.base, last_modified.len);
    return since != -1 && modified != -1 && modified <= since;
}

int ae_cache_not_modified(const h2o_headers_t *req_headers, h2o_iovec_t etag, h2o_iovec_t last_modified)
{
    if (h2o_find_header_by_str(req_headers, H2O_STRLIT("if-none-match"), -1) != -1)
        return none_match_fails(req_headers, etag);
    return not_modified_since(req_headers, last_modified);
}

int ae_cache_304_updates_header(h2o_iovec_t name)
{
    static const char *const kept[] = {"content-length", "content-range", "transfer-encoding", "connection", "keep-alive", "te",
                                       "trailer",        "upgrade",       "proxy-connection"};
    for (size_t i = 0; i != sizeof(kept) / sizeof(kept[0]); ++i)
        if (h2o_lcstris(name.base, name.len, kept[i], strlen(kept[i])))
            return 0;
    return 1;
}

/* ---- ranges (RFC 9110 14) ---- */

/* A run of digits, saturating at UINT64_MAX (past any size). Returns 0 unless all digits. */
static int parse_position(h2o_iovec_t s, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i != s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return 0;
        unsigned digit = s.base[i] - '0';
        *v = *v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : *v * 10 + digit;
    }
    return s.len != 0;
}

/* suffix-range "-N": the last N bytes (14.1.1). */
static ae_range_result_t suffix_range(h2o_iovec_t suffix, uint64_t size, uint64_t *first, uint64_t *last)
{
    uint64_t length;
    if (!parse_position(suffix, &length))
        return AE_RANGE_NONE;
    if (length == 0)
        return AE_RANGE_UNSATISFIABLE;
    if (size == 0)
        return AE_RANGE_NONE; /* satisfiable, by the whole empty representation: a 200 */
    *first = length < size ? size - length : 0;
    *last = size - 1;
    return AE_RANGE_OK;
}

/* int-range "first-" or "first-last" (14.1.1). */
static ae_range_result_t int_range(h2o_iovec_t from, h2o_iovec_t to, uint64_t size, uint64_t *first, uint64_t *last)
{
    uint64_t a, b = UINT64_MAX;
    if (!parse_position(from, &a) || (to.len != 0 && !parse_position(to, &b)) || b < a)
        return AE_RANGE_NONE;
    if (a >= size)
        return AE_RANGE_UNSATISFIABLE;
    *first = a;
    *last = b < size - 1 ? b : size - 1;
    return AE_RANGE_OK;
}

ae_range_result_t ae_cache_parse_range(h2o_iovec_t range, uint64_t size, uint64_t *first, uint64_t *last)
{
    static const char unit[] = "bytes=";
    h2o_iovec_t set, spec, another;

    if (range.len < sizeof(unit) - 1 || !h2o_lcstris(range.base, sizeof(unit) - 1, H2O_STRLIT(unit)))
        return AE_RANGE_NONE;
    set = h2o_iovec_init(range.base + sizeof(unit) - 1, range.len - (sizeof(unit) - 1));
    if (!ae_cache_list_next(&set, AE_CACHE_QUOTED_STRINGS, &spec) || ae_cache_list_next(&set, AE_CACHE_QUOTED_STRINGS, &another))
        return AE_RANGE_NONE;
    const char *dash = memchr(spec.base, '-', spec.len);
    if (dash == NULL)
        return AE_RANGE_NONE;
    h2o_iovec_t from = h2o_iovec_init(spec.base, dash - spec.base), to = h2o_iovec_init(dash + 1, spec.base + spec.len - dash - 1);
    return from.len == 0 ? suffix_range(to, size, first, last) : int_range(from, to, size, first, last);
}

/* If-Range (13.1.5): an entity-tag must match strongly, a date exactly. */
int ae_cache_if_range_matches(h2o_iovec_t if_range, h2o_iovec_t etag, h2o_iovec_t last_modified)
{
    h2o_iovec_t validator = ae_cache_trim_ows(if_range);
    if (validator.len != 0 && (validator.base[0] == '"' || is_weak(validator)))
        return strong_match(validator, etag);
    int64_t date = ae_http_date_parse(validator.base, validator.len),
            modified = ae_http_date_parse(last_modified.base, last_modified.len);
    return date != -1 && date == modified;
}

/* ---- Vary (RFC 9111 4.1) ---- */

static int is_listed(h2o_iovec_t name, const h2o_iovec_t *names, size_t num_names)
{
    for (size_t i = 0; i != num_names; ++i)
        if (h2o_lcstris(name.base, name.len, names[i].base, names[i].len))
            return 1;
    return 0;
}

int ae_cache_vary_names(h2o_mem_pool_t *pool, const h2o_headers_t *res_headers, h2o_iovec_t *names, size_t max_names)
{
    ae_cache_field_iter_t iter = ae_cache_field_iter(res_headers, "vary", AE_CACHE_QUOTED_STRINGS);
    h2o_iovec_t name;
    size_t n = 0;

    while (ae_cache_field_next(&iter, &name)) {
        if (h2o_memis(name.base, name.len, H2O_STRLIT("*")))
            return -1;
        if (is_listed(name, names, n))
            continue;
        if (n == max_names)
            return -1;
        names[n] = h2o_strdup(pool, name.base, name.len);
        h2o_strtolower(names[n].base, names[n].len);
        ++n;
    }
    return (int)n;
}

/* The vary key is built in two passes, measuring (dst NULL) then writing; each put_* returns the
 * position after what it put at `at`. */
static size_t put(char *dst, size_t at, const char *s, size_t len)
{
    if (dst != NULL)
        memcpy(dst + at, s, len);
    return at + len;
}

/* A value trimmed, each run of whitespace in it as one space. */
static size_t put_folded(char *dst, size_t at, h2o_iovec_t value)
{
    value = ae_cache_trim_ows(value);
    for (size_t i = 0; i != value.len; ++i) {
        if (ae_cache_is_ows(value.base[i]) && ae_cache_is_ows(value.base[i - 1])) /* i > 0: the value starts with no whitespace */
            continue;
        at = put(dst, at, ae_cache_is_ows(value.base[i]) ? " " : value.base + i, 1);
    }
    return at;
}

/* "name:" then the request's values of that header joined with ", " (empty ones left out), then "\n". */
static size_t put_vary_line(char *dst, size_t at, const h2o_headers_t *req_headers, h2o_iovec_t name)
{
    const char *separator = "";
    at = put(dst, put(dst, at, name.base, name.len), H2O_STRLIT(":"));
    for (ssize_t i = -1; (i = h2o_find_header_by_str(req_headers, name.base, name.len, i)) != -1;) {
        if (ae_cache_trim_ows(req_headers->entries[i].value).len == 0)
            continue;
        at = put_folded(dst, put(dst, at, separator, strlen(separator)), req_headers->entries[i].value);
        separator = ", ";
    }
    return put(dst, at, H2O_STRLIT("\n"));
}

static size_t put_vary_key(char *dst, const h2o_headers_t *req_headers, const h2o_iovec_t *names, size_t num_names)
{
    size_t at = 0;
    for (size_t i = 0; i != num_names; ++i)
        at = put_vary_line(dst, at, req_headers, names[i]);
    return at;
}

h2o_iovec_t ae_cache_vary_key(h2o_mem_pool_t *pool, const h2o_headers_t *req_headers, const h2o_iovec_t *names, size_t num_names)
{
    size_t len = put_vary_key(NULL, req_headers, names, num_names);
    char *key = h2o_mem_alloc_pool(pool, len + 1);
    put_vary_key(key, req_headers, names, num_names);
    key[len] = '\0';
    return h2o_iovec_init(key, len);
}
