/*
 * HTTP caching policy (see policy.h): Cache-Control parsing, request classification and the
 * storage/freshness decision of RFC 9111 as far as this release implements it: a response is stored
 * when it has explicit freshness (s-maxage, max-age, or Expires against Date) that has not run out,
 * and none of no-store, private, no-cache, Set-Cookie or Vary forbids it. Pure functions; any thread.
 */
#include <string.h>
#include <strings.h>
#include "modules/cache/policy.h"

#define MAX_DELTA_SECONDS 2147483648LL /* RFC 9111 1.2.2: larger values are taken as this */

static int64_t parse_delta_seconds(h2o_iovec_t value)
{
    int64_t v = 0;
    size_t i = 0;
    if (value.len >= 2 && value.base[0] == '"' && value.base[value.len - 1] == '"') {
        ++value.base;
        value.len -= 2;
    }
    if (value.len == 0)
        return AE_CC_ABSENT;
    for (; i != value.len; ++i) {
        char c = value.base[i];
        if (c < '0' || c > '9')
            return AE_CC_ABSENT;
        if (v < MAX_DELTA_SECONDS)
            v = v * 10 + (c - '0');
    }
    return v < MAX_DELTA_SECONDS ? v : MAX_DELTA_SECONDS;
}

static void apply_directive(ae_cache_control_t *cc, h2o_iovec_t name, h2o_iovec_t value)
{
#define IS(s) h2o_lcstris(name.base, name.len, H2O_STRLIT(s))
    if (IS("no-store")) {
        cc->no_store = 1;
    } else if (IS("no-cache")) {
        cc->no_cache = 1;
    } else if (IS("private")) {
        cc->is_private = 1;
    } else if (IS("public")) {
        cc->is_public = 1;
    } else if (IS("must-revalidate")) {
        cc->must_revalidate = 1;
    } else if (IS("max-age")) {
        if (cc->max_age == AE_CC_ABSENT)
            cc->max_age = parse_delta_seconds(value);
    } else if (IS("s-maxage")) {
        if (cc->s_maxage == AE_CC_ABSENT)
            cc->s_maxage = parse_delta_seconds(value);
    }
#undef IS
}

void ae_cache_control_parse(const h2o_headers_t *headers, ae_cache_control_t *cc)
{
    *cc = (ae_cache_control_t){.max_age = AE_CC_ABSENT, .s_maxage = AE_CC_ABSENT};
    for (ssize_t i = -1; (i = h2o_find_header(headers, H2O_TOKEN_CACHE_CONTROL, i)) != -1;) {
        h2o_iovec_t iter = headers->entries[i].value, value;
        const char *name;
        size_t name_len;
        while ((name = h2o_next_token(&iter, ',', &name_len, &value)) != NULL)
            apply_directive(cc, h2o_iovec_init(name, name_len), value);
    }
}

ae_request_class_t ae_cache_classify_request(h2o_iovec_t method, const h2o_headers_t *headers)
{
    if (!h2o_memis(method.base, method.len, H2O_STRLIT("GET")) && !h2o_memis(method.base, method.len, H2O_STRLIT("HEAD")))
        return AE_REQUEST_PASS_METHOD;
    if (h2o_find_header(headers, H2O_TOKEN_AUTHORIZATION, -1) != -1)
        return AE_REQUEST_PASS_AUTHORIZED;
    return AE_REQUEST_LOOKUP;
}

static int month_of(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i != 12; ++i)
        if (memcmp(months + i * 3, s, 3) == 0)
            return i;
    return -1;
}

time_t ae_http_date_parse(const char *s, size_t len)
{
    char buf[64], month[4];
    struct tm tm = {0};
    int consumed = 0;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    const char *comma = strchr(buf, ',');
    if (comma != NULL) {
        /* IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" or RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" */
        if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, month, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &consumed) != 6 &&
            sscanf(comma + 1, " %2d-%3s-%2d %2d:%2d:%2d GMT%n", &tm.tm_mday, month, &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &consumed) != 6)
            return -1;
        if (comma[1 + consumed] != '\0')
            return -1;
        if (tm.tm_year < 100)
            tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
    } else {
        /* asctime "Sun Nov  6 08:49:37 1994" */
        char wday[4];
        if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, month, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tm.tm_year,
                   &consumed) != 7 ||
            buf[consumed] != '\0')
            return -1;
    }
    if ((tm.tm_mon = month_of(month)) < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    return timegm(&tm);
}

static time_t header_date(const h2o_headers_t *headers, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(headers, token, -1);
    if (i == -1)
        return -1;
    return ae_http_date_parse(headers->entries[i].value.base, headers->entries[i].value.len);
}

/* The freshness lifetime the origin gave, or AE_CC_ABSENT when it gave none. */
static int64_t freshness_lifetime(const ae_cache_control_t *cc, const h2o_headers_t *headers, time_t now)
{
    if (cc->s_maxage != AE_CC_ABSENT)
        return cc->s_maxage;
    if (cc->max_age != AE_CC_ABSENT)
        return cc->max_age;
    if (h2o_find_header(headers, H2O_TOKEN_EXPIRES, -1) == -1)
        return AE_CC_ABSENT;
    time_t expires = header_date(headers, H2O_TOKEN_EXPIRES), date = header_date(headers, H2O_TOKEN_DATE);
    if (expires == -1)
        return 0; /* an invalid Expires means already expired (RFC 9111 5.3) */
    return expires - (date != -1 ? date : now);
}

static int64_t age_header(const h2o_headers_t *headers)
{
    ssize_t i = h2o_find_header(headers, H2O_TOKEN_AGE, -1);
    if (i == -1)
        return 0;
    int64_t age = parse_delta_seconds(headers->entries[i].value);
    return age == AE_CC_ABSENT ? 0 : age;
}

ae_store_decision_t ae_cache_decide_store(int status, const h2o_headers_t *headers, time_t now)
{
    ae_store_decision_t d = {0};
    ae_cache_control_t cc;

    ae_cache_control_parse(headers, &cc);
    if (status < 200 || status == 206 || status == 304) {
        d.reason = "status";
    } else if (cc.no_store) {
        d.reason = "no-store";
    } else if (cc.is_private) {
        d.reason = "private";
    } else if (cc.no_cache) {
        d.reason = "no-cache"; /* storable, but useless until revalidation exists */
    } else if (h2o_find_header(headers, H2O_TOKEN_SET_COOKIE, -1) != -1) {
        d.reason = "set-cookie";
    } else if (h2o_find_header(headers, H2O_TOKEN_VARY, -1) != -1) {
        d.reason = "vary";
    } else {
        int64_t lifetime = freshness_lifetime(&cc, headers, now);
        d.initial_age = age_header(headers);
        if (lifetime == AE_CC_ABSENT) {
            d.reason = "no-freshness";
        } else if ((d.ttl = lifetime - d.initial_age) <= 0) {
            d.reason = "stale";
        } else {
            d.store = 1;
        }
    }
    return d;
}
