/*
 * Unit tests of cache keys: query kept, sorted, filtered or ignored; headers and cookies added.
 */
#include <string.h>
#include "modules/cache/key.h"
#include "t/unit/tap.h"

static h2o_mem_pool_t pool;

static int key_is(const ae_key_conf_t *conf, const char *path, const h2o_headers_t *headers, const char *expected)
{
    h2o_iovec_t key = ae_cache_key(&pool, conf, "www.example.com", h2o_iovec_init(path, strlen(path)), headers);
    if (h2o_memis(key.base, key.len, expected, strlen(expected)))
        return 1;
    printf("# got '%.*s'\n", (int)key.len, key.base);
    return 0;
}

static void add_names(void *_vector, const char *a, const char *b)
{
    H2O_VECTOR(h2o_iovec_t) *vector = _vector;
    h2o_vector_reserve(&pool, vector, 2);
    vector->entries[vector->size++] = h2o_iovec_init(a, strlen(a));
    if (b != NULL)
        vector->entries[vector->size++] = h2o_iovec_init(b, strlen(b));
}

int main(void)
{
    h2o_headers_t none = {NULL}, headers = {NULL};
    h2o_mem_init_pool(&pool);
    h2o_add_header(&pool, &headers, H2O_TOKEN_COOKIE, NULL, H2O_STRLIT("a=1; lang=de; b=2"));
    h2o_add_header_by_str(&pool, &headers, H2O_STRLIT("x-device"), 0, NULL, H2O_STRLIT("mobile"));

    ae_key_conf_t keep = {AE_KEY_QUERY_KEEP};
    ok(key_is(NULL, "/a?b=1&a=2", &none, "www.example.com/a?b=1&a=2"), "no rules: host, path and query as they are");
    ok(key_is(&keep, "/a?b=1&a=2", &none, "www.example.com/a?b=1&a=2"), "keep: the same");

    ae_key_conf_t sort = {AE_KEY_QUERY_SORT};
    ok(key_is(&sort, "/a?b=1&a=2&a=1", &none, "www.example.com/a?a=1&a=2&b=1"), "sort: parameters in order");
    ok(key_is(&sort, "/a", &none, "www.example.com/a"), "sort: no query stays none");

    ae_key_conf_t ignore = {AE_KEY_QUERY_IGNORE};
    ok(key_is(&ignore, "/a?b=1", &none, "www.example.com/a"), "ignore: no query");

    ae_key_conf_t exclude = {AE_KEY_QUERY_KEEP};
    add_names(&exclude.exclude_params, "utm_source", "fbclid");
    ok(key_is(&exclude, "/a?utm_source=x&id=7&fbclid=y", &none, "www.example.com/a?id=7"), "exclude-params drops them");
    ok(key_is(&exclude, "/a?utm_source=x", &none, "www.example.com/a"), "exclude-params: nothing left, no '?'");

    ae_key_conf_t include = {AE_KEY_QUERY_SORT};
    add_names(&include.include_params, "id", "page");
    ok(key_is(&include, "/a?z=1&page=2&id=7&x", &none, "www.example.com/a?id=7&page=2"), "include-params keeps only them (sorted)");

    ae_key_conf_t extras = {AE_KEY_QUERY_KEEP};
    add_names(&extras.headers, "x-device", NULL);
    add_names(&extras.cookies, "lang", "missing");
    ok(key_is(&extras, "/a", &headers, "www.example.com/a\theader:x-device=mobile\tcookie:lang=de\tcookie:missing="),
       "headers and cookies are added by name");
    ok(key_is(&extras, "/a", &none, "www.example.com/a\theader:x-device=\tcookie:lang=\tcookie:missing="), "absent ones add empty values");

    h2o_mem_clear_pool(&pool);
    return done_testing();
}
