/*
 * Unit tests of the caching policy (policy.c, conditional.c): field syntax, Cache-Control and the
 * targeted fields, request classes, HTTP dates, the store/freshness decision, age, the use of a
 * stored response, stale-on-error, conditionals, 304 updates, ranges, If-Range and Vary. One test
 * per rule, edge cases included.
 */
#include <string.h>
#include "modules/cache/policy.h"
#include "t/unit/tap.h"

#define NOW 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define IOV(s) h2o_iovec_init(H2O_STRLIT(s))
#define IS(v, s) h2o_memis((v).base, (v).len, H2O_STRLIT(s))

static h2o_mem_pool_t pool;
static const h2o_headers_t none = {NULL};

/* Builds headers from "name", "value", ... pairs ending with NULL. */
__attribute__((sentinel)) static h2o_headers_t make_headers(const char *name, ...)
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

/* An IMF-fixdate for `t`, from the pool. */
static const char *http_date(time_t t)
{
    struct tm gmt;
    char *buf = h2o_mem_alloc_pool(&pool, H2O_TIMESTR_RFC1123_LEN + 1);
    h2o_time2str_rfc1123(buf, gmtime_r(&t, &gmt));
    return buf;
}

static ae_cache_control_t parse_cc(h2o_headers_t headers)
{
    ae_cache_control_t cc;
    ae_cache_control_parse(&headers, "cache-control", &cc);
    return cc;
}

static ae_cache_control_t cc_of(const char *value)
{
    return parse_cc(make_headers("cache-control", value, NULL));
}

/* A GET with `req` headers answered at NOW (sent at NOW too) with `status` and `res` headers. */
static ae_store_decision_t decide_as(const ae_policy_conf_t *conf, h2o_headers_t req, int status, h2o_headers_t res)
{
    return ae_cache_decide_store(conf, IOV("GET"), &req, status, &res, NOW, NOW);
}

static ae_store_decision_t decide(int status, h2o_headers_t res)
{
    return decide_as(&ae_policy_conf_default, none, status, res);
}

static int refused(ae_store_decision_t d, const char *reason)
{
    return !d.store && d.reason != NULL && strcmp(d.reason, reason) == 0;
}

static ae_request_directives_t request(const ae_policy_conf_t *conf, h2o_headers_t headers)
{
    ae_request_directives_t directives;
    ae_cache_request_directives(conf, &headers, &directives);
    return directives;
}

static ae_request_directives_t request_cc(const char *value)
{
    return request(&ae_policy_conf_default, make_headers("cache-control", value, NULL));
}

static ae_use_t select_for(const char *request_cache_control, const ae_freshness_t *stored, int64_t now)
{
    ae_request_directives_t r = request_cc(request_cache_control);
    return ae_cache_select(&r, stored, now);
}

static int stale_on_error_for(const char *request_cache_control, const ae_freshness_t *stored, int64_t grace, int64_t now)
{
    ae_request_directives_t r = request_cc(request_cache_control);
    return ae_cache_stale_on_error(&r, stored, grace, now);
}

/* A stored response received at NOW with this lifetime, no age, no stale windows. */
static ae_freshness_t stored_for(int64_t lifetime)
{
    return (ae_freshness_t){
        .response_time = NOW, .lifetime = lifetime, .stale_while_revalidate = AE_CC_ABSENT, .stale_if_error = AE_CC_ABSENT};
}

/* ---- field syntax ---- */

static void test_list_syntax(void)
{
    h2o_iovec_t rest = IOV(" a ,, \"b, c\" ,\td=\"x\\\",y\" ,"), e;
    ok(ae_cache_list_next(&rest, AE_CACHE_QUOTED_STRINGS, &e) && IS(e, "a"), "list: first element, trimmed");
    ok(ae_cache_list_next(&rest, AE_CACHE_QUOTED_STRINGS, &e) && IS(e, "\"b, c\""),
       "list: empty elements skipped, quoted comma kept");
    ok(ae_cache_list_next(&rest, AE_CACHE_QUOTED_STRINGS, &e) && IS(e, "d=\"x\\\",y\""),
       "list: an escaped quote does not end a string");
    ok(!ae_cache_list_next(&rest, AE_CACHE_QUOTED_STRINGS, &e), "list: a trailing comma ends it");

    rest = IOV("\"a\\\", \"b\"");
    ok(ae_cache_list_next(&rest, AE_CACHE_ENTITY_TAGS, &e) && IS(e, "\"a\\\""),
       "entity-tags: a backslash is an ordinary character");
    ok(ae_cache_list_next(&rest, AE_CACHE_ENTITY_TAGS, &e) && IS(e, "\"b\""), "entity-tags: the next tag");

    rest = IOV("");
    ok(!ae_cache_list_next(&rest, AE_CACHE_QUOTED_STRINGS, &e), "an empty list has no element");
    ok(IS(ae_cache_trim_ows(IOV(" \t x y\t ")), "x y") && ae_cache_trim_ows(IOV(" \t")).len == 0, "trim_ows");

    h2o_headers_t h = make_headers("vary", "a, b", "other", "x", "vary", "", "vary", "c", NULL);
    ae_cache_field_iter_t iter = ae_cache_field_iter(&h, "vary", AE_CACHE_QUOTED_STRINGS);
    int in_order = ae_cache_field_next(&iter, &e) && IS(e, "a") && ae_cache_field_next(&iter, &e) && IS(e, "b") &&
                   ae_cache_field_next(&iter, &e) && IS(e, "c") && !ae_cache_field_next(&iter, &e);
    ok(in_order, "a field's elements over all its lines, in order");
}

/* ---- Cache-Control ---- */

static void test_cache_control_parse(void)
{
    ae_cache_control_t cc;
    h2o_headers_t h;

    h = make_headers("cache-control", "PUBLIC, Max-Age=60, s-maxage=\"120\"", "cache-control", "MUST-REVALIDATE", NULL);
    ok(ae_cache_control_parse(&h, "cache-control", &cc) == 1, "parse says the field is present");
    ok(cc.is_public && cc.must_revalidate && cc.max_age == 60 && cc.s_maxage == 120, "directives across lines, quoted, any case");
    h = make_headers("x-other", "1", NULL);
    ok(ae_cache_control_parse(&h, "cache-control", &cc) == 0, "parse says the field is absent");
    ok(cc.max_age == AE_CC_ABSENT && cc.s_maxage == AE_CC_ABSENT && cc.stale_while_revalidate == AE_CC_ABSENT &&
           cc.stale_if_error == AE_CC_ABSENT && cc.max_stale == AE_CC_ABSENT && cc.min_fresh == AE_CC_ABSENT && !cc.no_store &&
           !cc.no_cache && !cc.is_private && cc.no_cache_fields.len == 0 && cc.private_fields.len == 0,
       "no Cache-Control: nothing set");
    h = make_headers("cache-control", "", NULL);
    ok(ae_cache_control_parse(&h, "cache-control", &cc) == 1 && cc.max_age == AE_CC_ABSENT, "an empty Cache-Control is present");

    ok(cc_of("max-age=10, max-age=99").max_age == 10, "the first max-age wins");
    ok(parse_cc(make_headers("cache-control", "max-age=10", "cache-control", "max-age=99", NULL)).max_age == 10,
       "the first max-age wins across lines");
    cc = cc_of("max-age=abc, max-age=5");
    ok(cc.invalid_max_age && cc.max_age == AE_CC_ABSENT, "a first invalid max-age wins over a later valid one");
    ok(cc_of("max-age=99999999999999999999").max_age == AE_DELTA_SECONDS_MAX, "a huge max-age is capped at 2^31");
    ok(cc_of("max-age=2147483647").max_age == 2147483647LL, "2^31-1 is kept");
    ok(cc_of("max-age=007").max_age == 7, "leading zeros");

    static const char *const invalid[] = {"max-age=-5",   "max-age=1.5", "max-age=abc", "max-age=",  "max-age",
                                          "max-age=\"\"", "max-age=+5",  "max-age=6 0", "s-maxage=x"};
    for (size_t i = 0; i != sizeof(invalid) / sizeof(invalid[0]); ++i) {
        cc = cc_of(invalid[i]);
        ok(cc.invalid_max_age && cc.max_age == AE_CC_ABSENT && cc.s_maxage == AE_CC_ABSENT, "'%s' is invalid", invalid[i]);
    }
    ok(!cc_of("max-age=5").invalid_max_age, "a valid max-age is not invalid");
    ok(cc_of("max-age = 5").max_age == 5, "spaces around '=' are tolerated");

    cc = cc_of("no-cache");
    ok(cc.no_cache && cc.no_cache_fields.len == 0, "bare no-cache");
    cc = cc_of("no-cache=\"Set-Cookie, X-Foo\", max-age=5");
    ok(!cc.no_cache && IS(cc.no_cache_fields, "Set-Cookie, X-Foo") && cc.max_age == 5, "no-cache with a quoted field list");
    cc = cc_of("no-cache=x-foo");
    ok(!cc.no_cache && IS(cc.no_cache_fields, "x-foo"), "no-cache with a token field");
    cc = cc_of("no-cache=\"\"");
    ok(cc.no_cache && cc.no_cache_fields.len == 0, "no-cache with an empty list is bare");
    cc = cc_of("no-cache=\"a\", no-cache");
    ok(cc.no_cache && cc.no_cache_fields.len == 0, "bare no-cache wins over an earlier list");
    cc = cc_of("no-cache, no-cache=\"a\"");
    ok(cc.no_cache && cc.no_cache_fields.len == 0, "bare no-cache wins over a later list");
    cc = cc_of("no-cache=\"a\", no-cache=\"b\"");
    ok(!cc.no_cache && IS(cc.no_cache_fields, "a"), "the first no-cache list wins");

    cc = cc_of("private");
    ok(cc.is_private && cc.private_fields.len == 0, "bare private");
    cc = cc_of("private=\"x-user, set-cookie\"");
    ok(!cc.is_private && IS(cc.private_fields, "x-user, set-cookie"), "private with a field list");
    cc = cc_of("private=\"a\", PRIVATE");
    ok(cc.is_private && cc.private_fields.len == 0, "bare private wins over a list");

    cc = cc_of("max-stale");
    ok(cc.max_stale == AE_CC_UNLIMITED, "max-stale without a value is unlimited");
    ok(cc_of("max-stale=30").max_stale == 30, "max-stale=30");
    ok(cc_of("max-stale=x").max_stale == AE_CC_ABSENT, "an invalid max-stale is ignored");
    cc = cc_of("stale-while-revalidate=30, stale-if-error=\"600\", min-fresh=5");
    ok(cc.stale_while_revalidate == 30 && cc.stale_if_error == 600 && cc.min_fresh == 5,
       "stale-while-revalidate, stale-if-error, min-fresh");
    ok(cc_of("stale-if-error=1, stale-if-error=2").stale_if_error == 1, "the first stale-if-error wins");
    ok(cc_of("stale-while-revalidate").stale_while_revalidate == AE_CC_ABSENT, "stale-while-revalidate without a value is ignored");
    cc = cc_of("immutable, only-if-cached, proxy-revalidate, no-store");
    ok(cc.immutable && cc.only_if_cached && cc.proxy_revalidate && cc.no_store && !cc.must_revalidate, "the other flags");
    cc = cc_of("foo=\"a\\\", max-age=0\", max-age=7, bar, =5, max-agex=3");
    ok(cc.max_age == 7 && !cc.invalid_max_age, "unknown directives and quoted commas do not confuse");
    cc = cc_of("private=\"a, b\", max-age=5");
    ok(IS(cc.private_fields, "a, b") && cc.max_age == 5, "a comma inside a quoted list does not split");
}

static void test_targeted(void)
{
    ae_policy_conf_t no_surrogate = ae_policy_conf_default;
    no_surrogate.honour_surrogate_control = 0;
    ae_store_decision_t d;

    d = decide(200, make_headers("cache-control", "no-store", "cdn-cache-control", "max-age=600", NULL));
    ok(d.store && d.freshness.lifetime == 600, "CDN-Cache-Control replaces Cache-Control");
    d = decide(200, make_headers("cache-control", "max-age=60", "cdn-cache-control", "no-store", NULL));
    ok(refused(d, "no-store"), "CDN-Cache-Control: no-store refuses what Cache-Control allows");
    d = decide(200, make_headers("cache-control", "no-store", "cdn-cache-control", "max-age=600, &&&&&", NULL));
    ok(refused(d, "no-store"), "an invalid CDN-Cache-Control (not a dictionary) is ignored as a whole");
    d = decide(200, make_headers("cache-control", "no-store", "cdn-cache-control", "max-age=\"600\"", NULL));
    ok(refused(d, "no-store"), "an invalid CDN-Cache-Control (a string for max-age) is ignored as a whole");
    d = decide(200, make_headers("cdn-cache-control", "max-age=600", "anyedge-cache-control", "max-age=5", "cache-control",
                                 "max-age=60", NULL));
    ok(d.store && d.freshness.lifetime == 5, "Anyedge-Cache-Control wins over CDN-Cache-Control");
    d = decide(200, make_headers("anyedge-cache-control", "", "cdn-cache-control", "max-age=600", NULL));
    ok(d.store && d.freshness.lifetime == 600, "an empty targeted field is ignored");
    d = decide(200, make_headers("cdn-cache-control", "public", "expires", http_date(NOW + 600), NULL));
    ok(refused(d, "no-freshness"), "a targeted field replaces Expires too");
    d = decide(200, make_headers("cdn-cache-control", "max-age=60", "cdn-cache-control", "private", NULL));
    ok(refused(d, "private"), "a targeted field over several lines");

    d = decide(200, make_headers("cache-control", "max-age=60", "surrogate-control", "max-age=120", NULL));
    ok(d.store && d.freshness.lifetime == 120, "Surrogate-Control's max-age replaces Cache-Control");
    d = decide_as(&no_surrogate, none, 200, make_headers("cache-control", "max-age=60", "surrogate-control", "max-age=120", NULL));
    ok(d.store && d.freshness.lifetime == 60, "Surrogate-Control is ignored when not honoured");
    d = decide(200, make_headers("cache-control", "max-age=60", "surrogate-control", "no-store", NULL));
    ok(refused(d, "no-store"), "Surrogate-Control: no-store");
    d = decide(200, make_headers("cache-control", "private", "surrogate-control", "max-age=120, must-revalidate", NULL));
    ok(d.store && d.freshness.lifetime == 120 && !d.freshness.must_revalidate,
       "only max-age and no-store of Surrogate-Control count");
    d = decide(200, make_headers("cache-control", "max-age=60", "surrogate-control", "content=\"ESI/1.0\"", NULL));
    ok(d.store && d.freshness.lifetime == 60, "a Surrogate-Control without max-age or no-store leaves Cache-Control");
    d = decide(
        200, make_headers("cache-control", "max-age=60", "surrogate-control", "max-age=1", "cdn-cache-control", "max-age=9", NULL));
    ok(d.store && d.freshness.lifetime == 9, "CDN-Cache-Control wins over Surrogate-Control");

    d = decide(200, make_headers("pragma", "no-cache", "expires", http_date(NOW + 60), NULL));
    ok(d.store && d.freshness.no_cache, "Pragma: no-cache without Cache-Control is no-cache");
    d = decide(200, make_headers("pragma", "no-cache", "cache-control", "max-age=60", NULL));
    ok(d.store && !d.freshness.no_cache, "Pragma is ignored when Cache-Control is present");

    ok(ae_cache_is_cache_only_header(&ae_policy_conf_default, IOV("cdn-cache-control")), "CDN-Cache-Control is cache-only");
    ok(ae_cache_is_cache_only_header(&ae_policy_conf_default, IOV("Anyedge-Cache-Control")), "Anyedge-Cache-Control is cache-only");
    ok(ae_cache_is_cache_only_header(&ae_policy_conf_default, IOV("surrogate-control")),
       "honoured Surrogate-Control is cache-only");
    ok(!ae_cache_is_cache_only_header(&no_surrogate, IOV("surrogate-control")), "unhonoured Surrogate-Control is passed on");
    ok(!ae_cache_is_cache_only_header(&ae_policy_conf_default, IOV("cache-control")), "Cache-Control is passed on");
}

/* ---- requests ---- */

static void test_classify(void)
{
    h2o_headers_t auth = make_headers("authorization", "Basic eDp5", NULL);
    ok(ae_cache_classify_request(IOV("GET"), &none) == AE_REQUEST_LOOKUP, "GET looks up");
    ok(ae_cache_classify_request(IOV("HEAD"), &none) == AE_REQUEST_LOOKUP, "HEAD looks up");
    ok(ae_cache_classify_request(IOV("get"), &none) == AE_REQUEST_PASS_METHOD, "methods are case-sensitive");
    ok(ae_cache_classify_request(IOV("POST"), &none) == AE_REQUEST_PASS_METHOD, "POST passes");
    ok(ae_cache_classify_request(IOV("PURGEX"), &none) == AE_REQUEST_PASS_METHOD, "unknown methods pass");
    ok(ae_cache_classify_request(IOV("GET"), &auth) == AE_REQUEST_PASS_AUTHORIZED, "Authorization passes");
    ok(ae_cache_classify_request(IOV("POST"), &auth) == AE_REQUEST_PASS_METHOD, "a POST with Authorization passes by method");

    static const char *const safe[] = {"GET", "HEAD", "OPTIONS", "TRACE"}, *const unsafe[] = {"POST", "PUT", "DELETE", "PATCH",
                                                                                              "FOO"};
    for (size_t i = 0; i != sizeof(safe) / sizeof(safe[0]); ++i)
        ok(!ae_cache_method_invalidates(h2o_iovec_init(safe[i], strlen(safe[i]))), "%s does not invalidate", safe[i]);
    for (size_t i = 0; i != sizeof(unsafe) / sizeof(unsafe[0]); ++i)
        ok(ae_cache_method_invalidates(h2o_iovec_init(unsafe[i], strlen(unsafe[i]))), "%s invalidates", unsafe[i]);
}

static void test_request_directives(void)
{
    ae_policy_conf_t ignoring = ae_policy_conf_default;
    ignoring.ignore_client_no_cache = 1;
    ae_request_directives_t r;

    ok(request(&ae_policy_conf_default, make_headers("pragma", "no-cache", NULL)).cc.no_cache,
       "Pragma: no-cache alone is no-cache");
    ok(request(&ae_policy_conf_default, make_headers("pragma", "x, No-Cache", NULL)).cc.no_cache,
       "Pragma is a case-insensitive list");
    r = request(&ae_policy_conf_default, make_headers("pragma", "no-cache", "cache-control", "max-age=5", NULL));
    ok(!r.cc.no_cache && r.cc.max_age == 5, "Pragma is ignored beside Cache-Control");
    ok(request_cc("max-age=0").cc.max_age == 0, "max-age=0 is kept by default");
    ok(request_cc("no-cache").cc.no_cache, "no-cache is kept by default");
    ok(request_cc("only-if-cached").cc.only_if_cached, "only-if-cached");

    ok(!request(&ignoring, make_headers("cache-control", "no-cache", NULL)).cc.no_cache,
       "ignore_client_no_cache: no-cache dropped");
    ok(!request(&ignoring, make_headers("pragma", "no-cache", NULL)).cc.no_cache, "ignore_client_no_cache: Pragma dropped");
    ok(request(&ignoring, make_headers("cache-control", "max-age=0", NULL)).cc.max_age == AE_CC_ABSENT,
       "ignore_client_no_cache: max-age=0 dropped");
    ok(request(&ignoring, make_headers("cache-control", "max-age=5", NULL)).cc.max_age == 5,
       "ignore_client_no_cache: max-age=5 kept");
}

/* ---- HTTP dates ---- */

static void test_dates(void)
{
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT")) == NOW, "IMF-fixdate");
    ok(ae_http_date_parse(H2O_STRLIT("Sunday, 06-Nov-94 08:49:37 GMT")) == NOW, "RFC 850 date");
    ok(ae_http_date_parse(H2O_STRLIT("Sun Nov  6 08:49:37 1994")) == NOW, "asctime date");
    ok(ae_http_date_parse(H2O_STRLIT("0")) == -1, "'0' is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("")) == -1, "empty is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Foo 1994 08:49:37 GMT")) == -1, "a bad month is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 25:49:37 GMT")) == -1, "a bad hour is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT trailing")) == -1, "trailing text is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Thu, 18 Aug 50 02:01:18 GMT")) == -1, "a two-digit year in an IMF-fixdate is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06  Nov 1994 08:49:37 GMT")) == -1, "doubled spaces are invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 8:49:37 GMT")) == -1, "a one-digit hour is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun Nov 06 08:49:37 1994")) == NOW, "asctime with a two-digit day");
    ok(ae_http_date_parse(H2O_STRLIT("Xyz, 06 Nov 1994 08:49:37 GMT")) == -1, "an unknown day name is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sunday, 06-Nov-94 08:49:37 UTC")) == -1, "a zone other than GMT is invalid");
    ok(ae_http_date_parse(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT")) == -1,
       "two dates are invalid");
    ok(ae_http_date_parse(http_date(NOW + 86400 * 365), H2O_TIMESTR_RFC1123_LEN) == NOW + 86400 * 365, "a round trip");
}

/* ---- storing ---- */

static void test_store_refusals(void)
{
    ae_policy_conf_t strip = ae_policy_conf_default;
    strip.strip_set_cookie = 1;
    h2o_headers_t fresh = make_headers("cache-control", "max-age=60", NULL), auth = make_headers("authorization", "Bearer x", NULL);
    ae_store_decision_t d;

    ok(refused(decide(100, fresh), "status"), "1xx is not stored");
    ok(refused(decide(206, fresh), "status"), "206 is not stored");
    ok(refused(decide(304, fresh), "status"), "304 is not stored");
    ok(refused(decide(304, make_headers("cache-control", "no-store", NULL)), "status"), "the status is checked first");
    ok(decide(404, fresh).store && decide(301, fresh).store && decide(500, fresh).store, "other finals with max-age are stored");
    ok(refused(ae_cache_decide_store(&ae_policy_conf_default, IOV("HEAD"), &none, 200, &fresh, NOW, NOW), "method"),
       "HEAD is not stored");
    ok(refused(ae_cache_decide_store(&ae_policy_conf_default, IOV("POST"), &none, 200, &fresh, NOW, NOW), "method"),
       "POST is not stored");

    ok(refused(decide_as(&ae_policy_conf_default, make_headers("cache-control", "no-store", NULL), 200, fresh), "request-no-store"),
       "request no-store");
    ok(refused(decide(200, make_headers("cache-control", "max-age=60, no-store", NULL)), "no-store"), "no-store");
    ok(refused(decide(200, make_headers("cache-control", "max-age=60, private", NULL)), "private"), "bare private");

    ok(refused(decide_as(&ae_policy_conf_default, auth, 200, fresh), "authorization"), "Authorization without permission");
    static const char *const sharing[] = {"public, max-age=60", "s-maxage=60", "must-revalidate, max-age=60"};
    for (size_t i = 0; i != sizeof(sharing) / sizeof(sharing[0]); ++i)
        ok(decide_as(&ae_policy_conf_default, auth, 200, make_headers("cache-control", sharing[i], NULL)).store,
           "Authorization with '%s' is stored", sharing[i]);
    ok(refused(decide_as(&ae_policy_conf_default, auth, 200, make_headers("cache-control", "proxy-revalidate, max-age=60", NULL)),
               "authorization"),
       "proxy-revalidate does not allow sharing an authorized response");

    h2o_headers_t cookie = make_headers("cache-control", "max-age=60", "set-cookie", "a=b", NULL);
    ok(refused(decide(200, cookie), "set-cookie"), "Set-Cookie is not stored by default");
    d = decide_as(&strip, none, 200, cookie);
    ok(d.store && d.strip_set_cookie, "strip_set_cookie: stored without Set-Cookie");
    ok(!decide_as(&strip, none, 200, fresh).strip_set_cookie, "strip_set_cookie: nothing to strip");
    d = decide(200, make_headers("cache-control", "max-age=60, private=\"Set-Cookie\"", "set-cookie", "a=b", NULL));
    ok(d.store && !d.strip_set_cookie && h2o_contains_token(d.omit_fields.base, d.omit_fields.len, H2O_STRLIT("set-cookie"), ','),
       "private=\"Set-Cookie\": stored, the cookie omitted");

    ok(refused(decide(200, make_headers("cache-control", "max-age=60", "vary", "*", NULL)), "vary-star"), "Vary: *");
    ok(refused(decide(200, make_headers("cache-control", "max-age=60", "vary", "accept, *", NULL)), "vary-star"),
       "Vary: accept, *");
    ok(refused(decide(200, make_headers("cache-control", "max-age=60", "vary", "accept", "vary", " * ", NULL)), "vary-star"),
       "Vary: * on a second line");
    ok(decide(200, make_headers("cache-control", "max-age=60", "vary", "accept-encoding", NULL)).store,
       "other Vary values are stored");
}

static void test_omitted_fields(void)
{
    ae_store_decision_t d;

    d = decide(200, make_headers("cache-control", "max-age=60, no-cache", NULL));
    ok(d.store && d.freshness.no_cache && d.omit_fields.len == 0, "bare no-cache: stored, revalidated on every use");
    d = decide(200, make_headers("cache-control", "max-age=60, no-cache=\"x-a, X-B\"", NULL));
    ok(d.store && !d.freshness.no_cache && h2o_contains_token(d.omit_fields.base, d.omit_fields.len, H2O_STRLIT("x-a"), ',') &&
           h2o_contains_token(d.omit_fields.base, d.omit_fields.len, H2O_STRLIT("x-b"), ','),
       "no-cache=\"x-a, X-B\": stored without them");
    d = decide(200, make_headers("cache-control", "max-age=60, private=\"x-c\"", NULL));
    ok(d.store && !d.freshness.no_cache && IS(d.omit_fields, "x-c"), "private=\"x-c\": stored without it");
    d = decide(200, make_headers("cache-control", "max-age=60, private=\"x-c\", no-cache=\"x-a\"", NULL));
    ok(d.store && d.freshness.no_cache && IS(d.omit_fields, "x-c"), "both lists: private omitted, the rest revalidated each use");
}

static void test_lifetime(void)
{
    ae_store_decision_t d;

    d = decide(200, make_headers("cache-control", "max-age=60", NULL));
    ok(d.store && d.freshness.lifetime == 60 && d.freshness.initial_age == 0 && d.freshness.response_time == NOW &&
           !d.freshness.heuristic,
       "max-age=60");
    d = decide(200, make_headers("cache-control", "max-age=60, s-maxage=300", NULL));
    ok(d.store && d.freshness.lifetime == 300, "s-maxage wins over max-age");
    d = decide(200, make_headers("cache-control", "s-maxage=0, max-age=300", "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.lifetime == 0, "s-maxage=0 wins over max-age");
    d = decide(200, make_headers("cache-control", "max-age=0", "expires", http_date(NOW + 3600), "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.lifetime == 0, "max-age wins over Expires");
    d = decide(200, make_headers("cache-control", "max-age=1.5", "expires", http_date(NOW + 3600), "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.lifetime == 0, "an invalid max-age means stale, whatever Expires says");
    ok(refused(decide(200, make_headers("cache-control", "max-age=-1", NULL)), "stale"),
       "invalid max-age without validators: not stored");
    d = decide(200, make_headers("cache-control", "max-age=x, s-maxage=90", NULL));
    ok(d.store && d.freshness.lifetime == 90, "a valid s-maxage wins over an invalid max-age");

    d = decide(200, make_headers("date", http_date(NOW - 5), "expires", http_date(NOW + 595), NULL));
    ok(d.store && d.freshness.lifetime == 600 && d.freshness.initial_age == 5, "Expires - Date");
    d = decide(200, make_headers("expires", http_date(NOW + 600), NULL));
    ok(d.store && d.freshness.lifetime == 600, "Expires without Date counts from the response time");
    d = decide(200, make_headers("date", "yesterday", "expires", http_date(NOW + 600), NULL));
    ok(d.store && d.freshness.lifetime == 600 && d.freshness.initial_age == 0, "an invalid Date is the response time");
    ok(refused(decide(200, make_headers("expires", "0", NULL)), "stale"), "Expires: 0 is expired");
    d = decide(200, make_headers("expires", "0", "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.lifetime == 0, "Expires: 0 with a validator: stored stale");
    d = decide(200, make_headers("expires", http_date(NOW + 600), "expires", http_date(NOW + 600), "last-modified",
                                 http_date(NOW - 99999), NULL));
    ok(d.store && d.freshness.lifetime == 0 && !d.freshness.heuristic, "two Expires lines mean stale");
    ok(refused(decide(200, make_headers("expires", http_date(NOW - 60), NULL)), "stale"), "Expires in the past");

    d = decide(200, make_headers("cache-control", "max-age=60, stale-while-revalidate=30, stale-if-error=600", NULL));
    ok(d.freshness.stale_while_revalidate == 30 && d.freshness.stale_if_error == 600, "the stale windows are kept");
    d = decide(200, make_headers("cache-control", "max-age=60", NULL));
    ok(d.freshness.stale_while_revalidate == AE_CC_ABSENT && d.freshness.stale_if_error == AE_CC_ABSENT &&
           !d.freshness.must_revalidate && !d.freshness.no_cache,
       "no stale windows, no flags");
    ok(decide(200, make_headers("cache-control", "max-age=60, must-revalidate", NULL)).freshness.must_revalidate,
       "must-revalidate");
    ok(decide(200, make_headers("cache-control", "max-age=60, proxy-revalidate", NULL)).freshness.must_revalidate,
       "proxy-revalidate");
    ok(decide(200, make_headers("cache-control", "s-maxage=60", NULL)).freshness.must_revalidate,
       "s-maxage implies proxy-revalidate");
}

static void test_heuristic_and_negative(void)
{
    ae_policy_conf_t conf = ae_policy_conf_default;
    ae_store_decision_t d;

    d = decide(200, make_headers("date", http_date(NOW), "last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.heuristic && d.freshness.lifetime == 1000, "heuristic: 10%% of Date - Last-Modified");
    d = decide(200, make_headers("last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.lifetime == 1000, "heuristic without Date: from the response time");
    d = decide(200, make_headers("last-modified", http_date(NOW - 86400 * 100), NULL));
    ok(d.store && d.freshness.lifetime == 86400, "heuristic capped at a day");
    conf.heuristic_percent = 50;
    conf.heuristic_max = 3000;
    ok(decide_as(&conf, none, 200, make_headers("last-modified", http_date(NOW - 1000), NULL)).freshness.lifetime == 500,
       "heuristic 50%%");
    ok(decide_as(&conf, none, 200, make_headers("last-modified", http_date(NOW - 10000), NULL)).freshness.lifetime == 3000,
       "heuristic_max");
    d = decide(200, make_headers("date", http_date(NOW), "last-modified", http_date(NOW + 60), NULL));
    ok(d.store && d.freshness.heuristic && d.freshness.lifetime == 0, "Last-Modified after Date: heuristic lifetime 0");
    d = decide(200, make_headers("cache-control", "max-age=5", "last-modified", http_date(NOW - 10000), NULL));
    ok(d.freshness.lifetime == 5 && !d.freshness.heuristic, "no heuristic beside explicit freshness");
    conf = ae_policy_conf_default;
    conf.heuristic_percent = 0;
    ok(refused(decide_as(&conf, none, 200, make_headers("last-modified", http_date(NOW - 10000), NULL)), "no-freshness"),
       "heuristic disabled: no freshness");

    static const int heuristic[] = {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501},
                     other[] = {201, 302, 307, 400, 403, 500, 503};
    for (size_t i = 0; i != sizeof(heuristic) / sizeof(heuristic[0]); ++i)
        ok(decide(heuristic[i], make_headers("last-modified", http_date(NOW - 10000), NULL)).freshness.heuristic,
           "%d is heuristically cacheable", heuristic[i]);
    for (size_t i = 0; i != sizeof(other) / sizeof(other[0]); ++i)
        ok(refused(decide(other[i], make_headers("last-modified", http_date(NOW - 10000), "etag", "\"e\"", NULL)), "no-freshness"),
           "%d is not heuristically cacheable", other[i]);
    d = decide(302, make_headers("cache-control", "public", "last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.heuristic && d.freshness.lifetime == 1000, "public allows a heuristic for any status");

    ok(refused(decide(200, make_headers("content-type", "text/plain", NULL)), "no-freshness"), "no freshness, no validator");
    ok(refused(decide(200, make_headers("etag", "\"e\"", NULL)), "no-freshness"), "no freshness, even with an ETag");
    d = decide(200, make_headers("cache-control", "no-cache", "last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.no_cache && d.freshness.heuristic,
       "no-cache with a heuristic lifetime: stored, revalidated on every use");
    d = decide(200, make_headers("cache-control", "no-cache, max-age=0", "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.no_cache && d.freshness.lifetime == 0, "no-cache, max-age=0 with an ETag: stored, to revalidate");

    conf = ae_policy_conf_default;
    conf.negative_ttl_404 = 30;
    conf.negative_ttl_410 = 40;
    conf.negative_ttl_5xx = 5;
    d = decide_as(&conf, none, 404, make_headers("last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.lifetime == 30 && !d.freshness.heuristic, "negative TTL for 404, before the heuristic");
    ok(decide_as(&conf, none, 410, none).freshness.lifetime == 40, "negative TTL for 410");
    ok(decide_as(&conf, none, 503, none).freshness.lifetime == 5 && decide_as(&conf, none, 500, none).store,
       "negative TTL for 5xx");
    ok(decide_as(&conf, none, 404, make_headers("cache-control", "max-age=3", NULL)).freshness.lifetime == 3,
       "explicit freshness wins over a negative TTL");
    ok(refused(decide_as(&conf, none, 403, none), "no-freshness"), "no negative TTL for 403");
    ok(refused(decide(503, none), "no-freshness"), "no negative caching by default");
    d = decide(404, make_headers("last-modified", http_date(NOW - 10000), NULL));
    ok(d.store && d.freshness.heuristic, "without a negative TTL, a 404 may be heuristic");
    conf.negative_ttl_404 = 0;
    ok(refused(decide_as(&conf, none, 404, none), "stale"), "a negative TTL of 0 is stale at once");
}

static void test_age(void)
{
    ae_store_decision_t d;
    h2o_headers_t req = {NULL};

    d = decide(200, make_headers("cache-control", "max-age=60", "age", "20", NULL));
    ok(d.store && d.freshness.initial_age == 20, "the origin's Age is counted");
    ok(refused(decide(200, make_headers("cache-control", "max-age=60", "age", "60", NULL)), "stale"), "Age = max-age: stale");
    d = decide(200, make_headers("cache-control", "max-age=60", "age", "90", "etag", "\"e\"", NULL));
    ok(d.store && d.freshness.initial_age == 90, "stale on arrival with an ETag: stored");
    d = decide(200, make_headers("cache-control", "max-age=60", "age", "90", "last-modified", http_date(NOW - 100), NULL));
    ok(d.store, "stale on arrival with Last-Modified: stored");
    ok(decide(200, make_headers("cache-control", "max-age=60", "age", "abc", NULL)).freshness.initial_age == 0,
       "an invalid Age is 0");
    ok(decide(200, make_headers("cache-control", "max-age=60", "age", "30, 0", NULL)).freshness.initial_age == 30,
       "an Age with a list: its first value counts");
    ok(decide(200, make_headers("cache-control", "max-age=60", "age", "-5", NULL)).freshness.initial_age == 0,
       "a negative Age is 0");
    ok(decide(200, make_headers("cache-control", "max-age=60", "age", "7", "age", "30", NULL)).freshness.initial_age == 7,
       "the first Age counts");

    h2o_headers_t res = make_headers("cache-control", "max-age=600", "age", "10", "date", http_date(NOW - 5), NULL);
    d = ae_cache_decide_store(&ae_policy_conf_default, IOV("GET"), &req, 200, &res, NOW - 3, NOW);
    ok(d.freshness.initial_age == 13, "corrected_age_value = Age + response_delay");
    res = make_headers("cache-control", "max-age=600", "age", "10", "date", http_date(NOW - 20), NULL);
    d = ae_cache_decide_store(&ae_policy_conf_default, IOV("GET"), &req, 200, &res, NOW - 3, NOW);
    ok(d.freshness.initial_age == 20, "apparent_age wins when larger");
    res = make_headers("cache-control", "max-age=600", "date", http_date(NOW + 100), NULL);
    ok(decide(200, res).freshness.initial_age == 0, "a Date in the future gives no apparent age");

    ae_freshness_t f = stored_for(60);
    f.initial_age = 10;
    ok(ae_cache_current_age(&f, NOW + 5) == 15, "current_age = initial age + resident time");
    ok(ae_cache_current_age(&f, NOW - 5) == 10, "a clock gone back adds no resident time");
}

/* ---- using a stored response ---- */

static void test_select(void)
{
    ae_request_directives_t plain = request(&ae_policy_conf_default, none);
    ae_freshness_t f = stored_for(60);

    ok(ae_cache_select(&plain, &f, NOW + 59) == AE_USE_FRESH, "fresh");
    ok(ae_cache_select(&plain, &f, NOW + 60) == AE_USE_REVALIDATE, "stale");
    ok(select_for("", &f, NOW + 60) == AE_USE_REVALIDATE, "age = lifetime is stale");
    ok(select_for("no-cache", &f, NOW) == AE_USE_REVALIDATE, "request no-cache");
    f.immutable = 1;
    ok(select_for("no-cache", &f, NOW) == AE_USE_FRESH && select_for("max-age=0", &f, NOW) == AE_USE_FRESH,
       "immutable and fresh: a reload's no-cache or max-age=0 is answered from the cache");
    ok(select_for("no-cache", &f, NOW + 60) == AE_USE_REVALIDATE, "immutable but stale: revalidated");
    f.immutable = 0;
    f.no_cache = 1;
    ok(select_for("", &f, NOW) == AE_USE_REVALIDATE, "stored no-cache");
    f = stored_for(60);

    ok(select_for("max-age=20", &f, NOW + 30) == AE_USE_REVALIDATE, "older than the request's max-age");
    ok(select_for("max-age=30", &f, NOW + 30) == AE_USE_FRESH, "as old as the request's max-age");
    ok(select_for("max-age=0", &f, NOW) == AE_USE_REVALIDATE, "max-age=0 revalidates even at age 0");
    ok(select_for("max-age=1", &f, NOW) == AE_USE_FRESH, "max-age=1 at age 0");
    ok(select_for("min-fresh=31", &f, NOW + 30) == AE_USE_REVALIDATE, "not fresh for min-fresh more");
    ok(select_for("min-fresh=30", &f, NOW + 30) == AE_USE_FRESH, "fresh for exactly min-fresh more");

    ok(select_for("", &f, NOW + 70) == AE_USE_REVALIDATE, "stale");
    ok(select_for("max-stale", &f, NOW + 100000) == AE_USE_STALE_ALLOWED, "max-stale without a value");
    ok(select_for("max-stale=10", &f, NOW + 70) == AE_USE_STALE_ALLOWED, "within max-stale");
    ok(select_for("max-stale=9", &f, NOW + 70) == AE_USE_REVALIDATE, "beyond max-stale");
    ok(select_for("max-age=5, max-stale", &f, NOW + 70) == AE_USE_REVALIDATE, "max-age limits max-stale");
    f.stale_while_revalidate = 10;
    ok(select_for("", &f, NOW + 70) == AE_USE_STALE_WHILE_REVALIDATE, "within stale-while-revalidate");
    ok(select_for("", &f, NOW + 71) == AE_USE_REVALIDATE, "beyond stale-while-revalidate");
    ok(select_for("max-stale=20", &f, NOW + 70) == AE_USE_STALE_ALLOWED, "max-stale comes before stale-while-revalidate");
    f.must_revalidate = 1;
    ok(select_for("", &f, NOW + 30) == AE_USE_FRESH, "must-revalidate: fresh is fresh");
    ok(select_for("", &f, NOW + 70) == AE_USE_REVALIDATE, "must-revalidate: no stale-while-revalidate");
    ok(select_for("max-stale", &f, NOW + 70) == AE_USE_REVALIDATE, "must-revalidate: no max-stale");
}

static void test_stale_on_error(void)
{
    ae_freshness_t f = stored_for(60);

    ok(stale_on_error_for("", &f, AE_CC_ABSENT, NOW + 10), "not stale: yes");
    ok(!stale_on_error_for("", &f, AE_CC_ABSENT, NOW + 60), "stale, nothing allows it: no");
    ok(stale_on_error_for("", &f, 100, NOW + 160), "within the site's grace");
    ok(!stale_on_error_for("", &f, 100, NOW + 161), "beyond the site's grace");
    ok(!stale_on_error_for("", &f, 0, NOW + 61), "grace 0");
    f.stale_if_error = 30;
    ok(stale_on_error_for("", &f, 5, NOW + 90), "within the response's stale-if-error");
    ok(!stale_on_error_for("", &f, 5, NOW + 91), "beyond the response's stale-if-error");
    ok(stale_on_error_for("stale-if-error=100", &f, 5, NOW + 160), "within the request's stale-if-error");
    ok(!stale_on_error_for("stale-if-error=100", &f, 5, NOW + 161), "beyond them all");
    f.must_revalidate = 1;
    ok(!stale_on_error_for("", &f, 1000, NOW + 61), "never stale against must-revalidate");
    ok(stale_on_error_for("", &f, AE_CC_ABSENT, NOW + 10), "must-revalidate, but fresh: yes");
    f = stored_for(60);
    f.no_cache = 1;
    ok(!stale_on_error_for("", &f, 1000, NOW + 10), "never against no-cache, even fresh");
}

/* ---- conditionals ---- */

static int not_modified(h2o_headers_t req, const char *etag, const char *last_modified)
{
    return ae_cache_not_modified(&req, h2o_iovec_init(etag, strlen(etag)), h2o_iovec_init(last_modified, strlen(last_modified)));
}

static void test_not_modified(void)
{
    const char *lm = http_date(NOW - 100);

    ok(!not_modified(none, "\"a\"", lm), "no conditional");
    ok(not_modified(make_headers("if-none-match", "\"a\"", NULL), "\"a\"", ""), "If-None-Match: the same tag");
    ok(!not_modified(make_headers("if-none-match", "\"b\"", NULL), "\"a\"", ""), "If-None-Match: another tag");
    ok(not_modified(make_headers("if-none-match", "W/\"a\"", NULL), "\"a\"", ""), "weak comparison: W/ in the request");
    ok(not_modified(make_headers("if-none-match", "\"a\"", NULL), "W/\"a\"", ""), "weak comparison: W/ in the store");
    ok(not_modified(make_headers("if-none-match", "\"x\", \"y\",W/\"a\"", NULL), "\"a\"", ""), "a tag in a list");
    ok(not_modified(make_headers("if-none-match", "\"x\"", "if-none-match", "\"a\"", NULL), "\"a\"", ""), "a tag on a second line");
    ok(not_modified(make_headers("if-none-match", "\"x\", \"a,b\"", NULL), "\"a,b\"", ""), "a tag with a comma");
    ok(not_modified(make_headers("if-none-match", "\"a\\\", \"b\"", NULL), "\"a\\\"", ""), "a backslash in a tag is no escape");
    ok(!not_modified(make_headers("if-none-match", "a", NULL), "\"a\"", ""), "an unquoted tag does not match");
    ok(not_modified(make_headers("if-none-match", "*", NULL), "\"a\"", ""), "* matches a stored ETag");
    ok(!not_modified(make_headers("if-none-match", "*", NULL), "", lm), "* needs a stored ETag");
    ok(!not_modified(make_headers("if-none-match", "\"a\"", NULL), "", lm), "no stored ETag: no match");
    ok(!not_modified(make_headers("if-none-match", "\"b\"", "if-modified-since", http_date(NOW), NULL), "\"a\"", lm),
       "If-Modified-Since is ignored beside If-None-Match");

    ok(not_modified(make_headers("if-modified-since", http_date(NOW), NULL), "", lm), "modified before the date");
    ok(not_modified(make_headers("if-modified-since", lm, NULL), "", lm), "modified at the date");
    ok(!not_modified(make_headers("if-modified-since", http_date(NOW - 101), NULL), "", lm), "modified after the date");
    ok(!not_modified(make_headers("if-modified-since", "yesterday", NULL), "", lm), "an invalid date is ignored");
    ok(!not_modified(make_headers("if-modified-since", http_date(NOW), NULL), "\"a\"", ""), "no stored Last-Modified");
    ok(!not_modified(make_headers("if-modified-since", http_date(NOW), NULL), "", "garbage"), "an invalid stored Last-Modified");
    ok(!not_modified(make_headers("if-modified-since", http_date(NOW), "if-modified-since", http_date(NOW), NULL), "", lm),
       "several If-Modified-Since are ignored");
}

static void test_304_updates(void)
{
    static const char *const kept[] = {
        "content-length", "Content-Length", "content-range",   "transfer-encoding", "connection", "keep-alive", "te",
        "trailer",        "upgrade",        "proxy-connection"};
    static const char *const updated[] = {"etag",          "cache-control", "expires",          "date",
                                          "last-modified", "content-type",  "content-encoding", "x-custom"};
    for (size_t i = 0; i != sizeof(kept) / sizeof(kept[0]); ++i)
        ok(!ae_cache_304_updates_header(h2o_iovec_init(kept[i], strlen(kept[i]))), "a 304 does not update %s", kept[i]);
    for (size_t i = 0; i != sizeof(updated) / sizeof(updated[0]); ++i)
        ok(ae_cache_304_updates_header(h2o_iovec_init(updated[i], strlen(updated[i]))), "a 304 updates %s", updated[i]);
}

/* ---- ranges ---- */

static int range_is(const char *range, uint64_t size, ae_range_result_t want, uint64_t want_first, uint64_t want_last)
{
    uint64_t first = 12345, last = 12345;
    ae_range_result_t got = ae_cache_parse_range(h2o_iovec_init(range, strlen(range)), size, &first, &last);
    return got == want && (want != AE_RANGE_OK || (first == want_first && last == want_last));
}

static void test_range(void)
{
    ok(range_is("bytes=0-99", 1000, AE_RANGE_OK, 0, 99), "first-last");
    ok(range_is("bytes=500-", 1000, AE_RANGE_OK, 500, 999), "first-");
    ok(range_is("bytes=-100", 1000, AE_RANGE_OK, 900, 999), "suffix");
    ok(range_is("bytes=-2000", 1000, AE_RANGE_OK, 0, 999), "a suffix longer than the body");
    ok(range_is("bytes=990-2000", 1000, AE_RANGE_OK, 990, 999), "last clamped");
    ok(range_is("bytes=0-99999999999999999999999", 1000, AE_RANGE_OK, 0, 999), "a huge last clamped");
    ok(range_is("BYTES=5-5", 1000, AE_RANGE_OK, 5, 5), "the unit is case-insensitive");
    ok(range_is("bytes=0-1,", 1000, AE_RANGE_OK, 0, 1), "an empty list element is ignored");
    ok(range_is("bytes= 0-1 ", 1000, AE_RANGE_OK, 0, 1), "whitespace around the range");
    ok(range_is("bytes=999-999", 1000, AE_RANGE_OK, 999, 999), "the last byte");

    ok(range_is("bytes=1000-", 1000, AE_RANGE_UNSATISFIABLE, 0, 0), "first at the size: unsatisfiable");
    ok(range_is("bytes=1000-2000", 1000, AE_RANGE_UNSATISFIABLE, 0, 0), "first beyond the size: unsatisfiable");
    ok(range_is("bytes=99999999999999999999999-", 1000, AE_RANGE_UNSATISFIABLE, 0, 0), "a huge first: unsatisfiable");
    ok(range_is("bytes=-0", 1000, AE_RANGE_UNSATISFIABLE, 0, 0), "suffix -0: unsatisfiable");
    ok(range_is("bytes=0-", 0, AE_RANGE_UNSATISFIABLE, 0, 0), "an empty body: unsatisfiable");
    ok(range_is("bytes=0-0", 0, AE_RANGE_UNSATISFIABLE, 0, 0), "an empty body: 0-0 unsatisfiable");
    ok(range_is("bytes=-5", 0, AE_RANGE_NONE, 0, 0), "an empty body: a suffix is the whole (empty) 200");

    static const char *const ignored[] = {"",          "bytes=",      "bytes=5-2",  "bytes=a-b", "bytes=-",   "bytes=1",
                                          "bytes=--5", "bytes=1-2-3", "bytes=0 -1", "items=0-1", "bytes 0-1", "bytes=0-1,5-6",
                                          "bytes=,",   "bytes=0-1,x", "bytes=+1-2", "bytes"};
    for (size_t i = 0; i != sizeof(ignored) / sizeof(ignored[0]); ++i)
        ok(range_is(ignored[i], 1000, AE_RANGE_NONE, 0, 0), "'%s' is ignored", ignored[i]);
}

static int if_range(const char *value, const char *etag, const char *last_modified)
{
    return ae_cache_if_range_matches(h2o_iovec_init(value, strlen(value)), h2o_iovec_init(etag, strlen(etag)),
                                     h2o_iovec_init(last_modified, strlen(last_modified)));
}

static void test_if_range(void)
{
    const char *lm = http_date(NOW - 100);

    ok(if_range("\"a\"", "\"a\"", lm), "the same strong tag");
    ok(if_range(" \"a\" ", "\"a\"", lm), "surrounding whitespace");
    ok(!if_range("\"b\"", "\"a\"", lm), "another tag");
    ok(!if_range("W/\"a\"", "W/\"a\"", lm), "a weak tag never matches");
    ok(!if_range("\"a\"", "W/\"a\"", lm), "a weak stored tag never matches");
    ok(!if_range("\"a\"", "", lm), "no stored tag");
    ok(if_range(lm, "\"a\"", lm), "the same date");
    ok(if_range(lm, "", "Sunday, 06-Nov-94 08:47:57 GMT"), "the same date in another form");
    ok(!if_range(http_date(NOW), "", lm), "another date");
    ok(!if_range(lm, "\"a\"", ""), "no stored Last-Modified");
    ok(!if_range("garbage", "\"a\"", "garbage"), "not a date");
    ok(!if_range("", "", ""), "empty");
}

/* ---- Vary ---- */

static void test_vary(void)
{
    h2o_iovec_t names[4];
    h2o_headers_t h;

    h = make_headers("vary", "Accept-Encoding, User-Agent", "vary", "accept-encoding,X-Foo", NULL);
    ok(ae_cache_vary_names(&pool, &h, names, 4) == 3 && IS(names[0], "accept-encoding") && IS(names[1], "user-agent") &&
           IS(names[2], "x-foo"),
       "names from every line, lower-case, each once");
    ok(ae_cache_vary_names(&pool, &h, names, 3) == 3, "exactly max_names");
    ok(ae_cache_vary_names(&pool, &h, names, 2) == -1, "more than max_names");
    ok(ae_cache_vary_names(&pool, &none, names, 4) == 0, "no Vary");
    h = make_headers("vary", "*", NULL);
    ok(ae_cache_vary_names(&pool, &h, names, 4) == -1, "Vary: *");
    h = make_headers("vary", "accept", "vary", "x-a, *", NULL);
    ok(ae_cache_vary_names(&pool, &h, names, 4) == -1, "* on a later line");
    h = make_headers("vary", "a, b, c, *", NULL);
    ok(ae_cache_vary_names(&pool, &h, names, 1) == -1, "* after too many names");

    h2o_iovec_t key_names[] = {IOV("accept-encoding"), IOV("x-foo")};
    h = make_headers("accept-encoding", "  gzip, \t  br  ", "accept-encoding", " deflate", NULL);
    ok(IS(ae_cache_vary_key(&pool, &h, key_names, 2), "accept-encoding:gzip, br, deflate\nx-foo:\n"),
       "values joined, whitespace trimmed and folded, an absent header empty");
    h2o_headers_t same = make_headers("accept-encoding", "gzip, br, deflate", NULL),
                  other = make_headers("accept-encoding", "gzip", NULL);
    h2o_iovec_t a = ae_cache_vary_key(&pool, &h, key_names, 2), b = ae_cache_vary_key(&pool, &same, key_names, 2),
                c = ae_cache_vary_key(&pool, &other, key_names, 2);
    ok(h2o_memis(a.base, a.len, b.base, b.len), "the same values on one line give the same key");
    ok(!h2o_memis(a.base, a.len, c.base, c.len), "other values give another key");
    h = make_headers("accept-encoding", "gzip", "accept-encoding", "  ", NULL);
    ok(IS(ae_cache_vary_key(&pool, &h, key_names, 1), "accept-encoding:gzip\n"), "an empty value is left out");
    ok(ae_cache_vary_key(&pool, &h, key_names, 0).len == 0, "no names: an empty key");
}

int main(void)
{
    h2o_mem_init_pool(&pool);
    test_list_syntax();
    test_cache_control_parse();
    test_targeted();
    test_classify();
    test_request_directives();
    test_dates();
    test_store_refusals();
    test_omitted_fields();
    test_lifetime();
    test_heuristic_and_negative();
    test_age();
    test_select();
    test_stale_on_error();
    test_not_modified();
    test_304_updates();
    test_range();
    test_if_range();
    test_vary();
    h2o_mem_clear_pool(&pool);
    return done_testing();
}
