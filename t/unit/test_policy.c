/*
 * Unit tests of the caching policy: Cache-Control parsing, request classes, HTTP dates and the
 * store/freshness decision.
 */
#include <string.h>
#include "modules/cache/policy.h"
#include "t/unit/tap.h"

static h2o_mem_pool_t pool;

/* Builds headers from "name", "value", ... pairs ending with NULL. */
static h2o_headers_t make_headers(const char *name, ...)
{
    h2o_headers_t headers = {NULL};
    va_list args;
    va_start(args, name);
    for (; name != NULL; name = va_arg(args, const char *)) {
        const char *value = va_arg(args, const char *);
        h2o_add_header_by_str(&pool, &headers, h2o_strdup(&pool, name, SIZE_MAX).base, strlen(name), 1, NULL, value, strlen(value));
    }
    va_end(args);
    return headers;
}

static void test_cache_control(void)
{
    ae_cache_control_t cc;
    h2o_headers_t h = make_headers("cache-control", "public, max-age=60, s-maxage=\"120\"", "cache-control", "MUST-REVALIDATE", NULL);
    ae_cache_control_parse(&h, &cc);
    ok(cc.is_public && cc.must_revalidate && cc.max_age == 60 && cc.s_maxage == 120, "directives across two headers, quoted, any case");

    h = make_headers("cache-control", "max-age=10, max-age=99", NULL);
    ae_cache_control_parse(&h, &cc);
    ok(cc.max_age == 10, "the first max-age wins");

    h = make_headers("cache-control", "max-age=99999999999999999999", NULL);
    ae_cache_control_parse(&h, &cc);
    ok(cc.max_age == 2147483648LL, "a huge max-age is capped at 2^31");

    h = make_headers("cache-control", "max-age=-5, no-store", NULL);
    ae_cache_control_parse(&h, &cc);
    ok(cc.max_age == AE_CC_ABSENT && cc.no_store, "a negative max-age is ignored");

    h = make_headers("x-other", "1", NULL);
    ae_cache_control_parse(&h, &cc);
    ok(cc.max_age == AE_CC_ABSENT && cc.s_maxage == AE_CC_ABSENT && !cc.no_store, "no Cache-Control: nothing set");
}

static void test_classify(void)
{
    h2o_headers_t none = {NULL}, auth = make_headers("authorization", "Basic eDp5", NULL);
    ok(ae_cache_classify_request(h2o_iovec_init(H2O_STRLIT("GET")), &none) == AE_REQUEST_LOOKUP, "GET looks up");
    ok(ae_cache_classify_request(h2o_iovec_init(H2O_STRLIT("HEAD")), &none) == AE_REQUEST_LOOKUP, "HEAD looks up");
    ok(ae_cache_classify_request(h2o_iovec_init(H2O_STRLIT("POST")), &none) == AE_REQUEST_PASS_METHOD, "POST passes");
    ok(ae_cache_classify_request(h2o_iovec_init(H2O_STRLIT("PURGEX")), &none) == AE_REQUEST_PASS_METHOD, "unknown methods pass");
    ok(ae_cache_classify_request(h2o_iovec_init(H2O_STRLIT("GET")), &auth) == AE_REQUEST_PASS_AUTHORIZED, "Authorization passes");
}

static void test_dates(void)
{
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT")) == 784111777, "IMF-fixdate");
    ok(ae_http_date_parse(H2O_STRLIT("Sunday, 06-Nov-94 08:49:37 GMT")) == 784111777, "RFC 850 date");
    ok(ae_http_date_parse(H2O_STRLIT("Sun Nov  6 08:49:37 1994")) == 784111777, "asctime date");
    ok(ae_http_date_parse(H2O_STRLIT("0")) == -1, "'0' is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Foo 1994 08:49:37 GMT")) == -1, "a bad month is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT trailing")) == -1, "trailing text is invalid");
}

static void test_decide(void)
{
    const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    h2o_headers_t h;
    ae_store_decision_t d;

    h = make_headers("cache-control", "max-age=60", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(d.store && d.ttl == 60, "max-age=60 is stored for 60s");

    h = make_headers("cache-control", "max-age=60, s-maxage=300", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(d.store && d.ttl == 300, "s-maxage wins over max-age");

    h = make_headers("cache-control", "max-age=60", "age", "20", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(d.store && d.ttl == 40 && d.initial_age == 20, "the origin's Age is counted");

    h = make_headers("cache-control", "max-age=60", "age", "90", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(!d.store && strcmp(d.reason, "stale") == 0, "older than max-age: not stored");

    h = make_headers("date", "Sun, 06 Nov 1994 08:49:37 GMT", "expires", "Sun, 06 Nov 1994 08:59:37 GMT", NULL);
    d = ae_cache_decide_store(200, &h, now + 5);
    ok(d.store && d.ttl == 600, "Expires - Date gives the lifetime");

    h = make_headers("expires", "0", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(!d.store && strcmp(d.reason, "stale") == 0, "an invalid Expires means expired");

    h = make_headers("cache-control", "max-age=0", "expires", "Sun, 06 Nov 1994 09:49:37 GMT", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(!d.store, "max-age wins over Expires");

    h = make_headers("content-type", "text/plain", NULL);
    d = ae_cache_decide_store(200, &h, now);
    ok(!d.store && strcmp(d.reason, "no-freshness") == 0, "no freshness information: not stored");

    static const char *forbidding[][2] = {{"cache-control", "max-age=60, no-store"},
                                          {"cache-control", "private, max-age=60"},
                                          {"cache-control", "no-cache, max-age=60"}};
    for (size_t i = 0; i != sizeof(forbidding) / sizeof(forbidding[0]); ++i) {
        h = make_headers(forbidding[i][0], forbidding[i][1], NULL);
        d = ae_cache_decide_store(200, &h, now);
        ok(!d.store, "'%s' is not stored (%s)", forbidding[i][1], d.reason);
    }

    h = make_headers("cache-control", "max-age=60", "set-cookie", "a=b", NULL);
    ok(!ae_cache_decide_store(200, &h, now).store, "Set-Cookie is not stored");
    h = make_headers("cache-control", "max-age=60", "vary", "accept-encoding", NULL);
    ok(!ae_cache_decide_store(200, &h, now).store, "Vary is not stored yet");

    h = make_headers("cache-control", "max-age=60", NULL);
    ok(!ae_cache_decide_store(206, &h, now).store, "206 is not stored");
    ok(!ae_cache_decide_store(304, &h, now).store, "304 is not stored");
    ok(ae_cache_decide_store(404, &h, now).store, "404 with max-age is stored");
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    test_cache_control();
    test_classify();
    test_dates();
    test_decide();
    h2o_mem_clear_pool(&pool);
    return done_testing();
}
