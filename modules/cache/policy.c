/*
 * HTTP caching policy (see policy.h): Cache-Control and the fields targeted at this cache (RFC 9111
 * 5.2, RFC 9213), whether a response is stored and how fresh it is (RFC 9111 3 and 4.2, with
 * heuristics and negative caching), and what a request may do with a stored response (RFC 9111 4,
 * RFC 5861); with the field syntax and HTTP-dates they are read with. Conditionals, ranges and Vary
 * are in conditional.c. Pure functions of their arguments, no allocation: parsed values (field
 * lists) point into the header values they came from. Any thread.
 */
#include <ctype.h>
#include <string.h>
#include "modules/cache/policy.h"

const ae_policy_conf_t ae_policy_conf_default = {
    .ignore_client_no_cache = 0,
    .strip_set_cookie = 0,
    .honour_surrogate_control = 1,
    .heuristic_percent = 10,
    .heuristic_max = 86400,
    .negative_ttl_404 = AE_CC_ABSENT,
    .negative_ttl_410 = AE_CC_ABSENT,
    .negative_ttl_5xx = AE_CC_ABSENT,
};

/* The response fields that target this cache, strongest first (RFC 9213 2.1). */
static const char ANYEDGE_CACHE_CONTROL[] = "anyedge-cache-control", CDN_CACHE_CONTROL[] = "cdn-cache-control",
                  SURROGATE_CONTROL[] = "surrogate-control";

/* ---- field syntax (RFC 9110 5.6) ---- */

h2o_iovec_t ae_cache_trim_ows(h2o_iovec_t s)
{
    while (s.len != 0 && ae_cache_is_ows(s.base[0]))
        ++s.base, --s.len;
    while (s.len != 0 && ae_cache_is_ows(s.base[s.len - 1]))
        --s.len;
    return s;
}

int ae_cache_list_next(h2o_iovec_t *rest, ae_cache_quoting_t quoting, h2o_iovec_t *element)
{
    while (rest->len != 0) {
        size_t end = 0;
        for (int quoted = 0; end != rest->len && (quoted || rest->base[end] != ','); ++end) {
            if (rest->base[end] == '"')
                quoted = !quoted;
            else if (quoted && quoting == AE_CACHE_QUOTED_STRINGS && rest->base[end] == '\\' && end + 1 != rest->len)
                ++end;
        }
        *element = ae_cache_trim_ows(h2o_iovec_init(rest->base, end));
        end += end != rest->len; /* and the comma */
        rest->base += end;
        rest->len -= end;
        if (element->len != 0)
            return 1;
    }
    return 0;
}

ae_cache_field_iter_t ae_cache_field_iter(const h2o_headers_t *headers, const char *name, ae_cache_quoting_t quoting)
{
    return (ae_cache_field_iter_t){headers, h2o_iovec_init(name, strlen(name)), quoting, -1, h2o_iovec_init(NULL, 0)};
}

int ae_cache_field_next(ae_cache_field_iter_t *iter, h2o_iovec_t *element)
{
    while (!ae_cache_list_next(&iter->rest, iter->quoting, element)) {
        if ((iter->line = h2o_find_header_by_str(iter->headers, iter->name.base, iter->name.len, iter->line)) == -1)
            return 0;
        iter->rest = iter->headers->entries[iter->line].value;
    }
    return 1;
}

static int has_header(const h2o_headers_t *headers, const char *name)
{
    return h2o_find_header_by_str(headers, name, strlen(name), -1) != -1;
}

/* ---- HTTP-dates (RFC 9110 5.6.7) ---- */

/* The date of the first `name` header, or -1. */
static int64_t header_date(const h2o_headers_t *headers, const char *name)
{
    ssize_t i = h2o_find_header_by_str(headers, name, strlen(name), -1);
    return i == -1 ? -1 : ae_http_date_parse(headers->entries[i].value.base, headers->entries[i].value.len);
}

/* ---- Cache-Control directives (RFC 9111 5.2) ---- */

/* The directives this cache knows. Those from MAX_AGE on take an argument, and their first
 * occurrence wins; the flags before them are idempotent, except no-cache and private (see below). */
enum directive_kind {
    NO_STORE,
    NO_CACHE,
    PRIVATE,
    PUBLIC,
    MUST_REVALIDATE,
    PROXY_REVALIDATE,
    IMMUTABLE,
    ONLY_IF_CACHED,
    MAX_AGE,
    S_MAXAGE,
    STALE_WHILE_REVALIDATE,
    STALE_IF_ERROR,
    MAX_STALE,
    MIN_FRESH,
    NUM_DIRECTIVE_KINDS,
    UNKNOWN_DIRECTIVE = NUM_DIRECTIVE_KINDS
};

static const char *const directive_names[NUM_DIRECTIVE_KINDS] = {
    "no-store",  "no-cache",       "private", "public",   "must-revalidate",        "proxy-revalidate",
    "immutable", "only-if-cached", "max-age", "s-maxage", "stale-while-revalidate", "stale-if-error",
    "max-stale", "min-fresh",
};

typedef struct directive {
    enum directive_kind kind;
    int has_argument;
    h2o_iovec_t argument; /* without the quotes of a quoted-string (RFC 9111 5.2: both forms are accepted) */
} directive_t;

static enum directive_kind directive_kind_of(h2o_iovec_t name)
{
    for (int kind = 0; kind != NUM_DIRECTIVE_KINDS; ++kind)
        if (h2o_lcstris(name.base, name.len, directive_names[kind], strlen(directive_names[kind])))
            return kind;
    return UNKNOWN_DIRECTIVE;
}

/* One list element, `name` or `name=argument`. */
static directive_t directive_of(h2o_iovec_t element)
{
    const char *eq = memchr(element.base, '=', element.len);
    if (eq == NULL)
        return (directive_t){directive_kind_of(element), 0, h2o_iovec_init(NULL, 0)};
    directive_t d = {directive_kind_of(ae_cache_trim_ows(h2o_iovec_init(element.base, eq - element.base))), 1,
                     ae_cache_trim_ows(h2o_iovec_init(eq + 1, element.base + element.len - eq - 1))};
    if (d.argument.len >= 2 && d.argument.base[0] == '"' && d.argument.base[d.argument.len - 1] == '"')
        d.argument = h2o_iovec_init(d.argument.base + 1, d.argument.len - 2);
    return d;
}

/* delta-seconds (RFC 9111 1.2.2), capped at 2^31; AE_CC_ABSENT unless it is all digits. */
static int64_t parse_delta_seconds(h2o_iovec_t s)
{
    int64_t v = 0;
    if (s.len == 0)
        return AE_CC_ABSENT;
    for (size_t i = 0; i != s.len; ++i) {
        if (s.base[i] < '0' || s.base[i] > '9')
            return AE_CC_ABSENT;
        if ((v = v * 10 + (s.base[i] - '0')) > AE_DELTA_SECONDS_MAX)
            v = AE_DELTA_SECONDS_MAX;
    }
    return v;
}

/* no-cache and private: bare, they cover the whole response; with a field list, only those fields.
 * Bare is the more restrictive and wins in any order (RFC 9111 4.2.1); else the first list wins.
 * An empty list (no-cache="") is taken as bare. Returns whether the directive is now bare. */
static int merge_field_list(int bare, h2o_iovec_t *fields, const directive_t *d)
{
    if (bare || d->argument.len == 0) {
        *fields = h2o_iovec_init(NULL, 0);
        return 1;
    }
    if (fields->len == 0)
        *fields = d->argument;
    return 0;
}

/* Stores a freshness argument; one that is not delta-seconds makes the response stale (RFC 9111 4.2.1). */
static void set_freshness_argument(ae_cache_control_t *cc, int64_t *slot, const directive_t *d)
{
    if ((*slot = parse_delta_seconds(d->argument)) == AE_CC_ABSENT)
        cc->invalid_max_age = 1;
}

static void apply_directive(ae_cache_control_t *cc, const directive_t *d)
{
    switch (d->kind) {
    case NO_STORE:
        cc->no_store = 1;
        break;
    case NO_CACHE:
        cc->no_cache = merge_field_list(cc->no_cache, &cc->no_cache_fields, d);
        break;
    case PRIVATE:
        cc->is_private = merge_field_list(cc->is_private, &cc->private_fields, d);
        break;
    case PUBLIC:
        cc->is_public = 1;
        break;
    case MUST_REVALIDATE:
        cc->must_revalidate = 1;
        break;
    case PROXY_REVALIDATE:
        cc->proxy_revalidate = 1;
        break;
    case IMMUTABLE:
        cc->immutable = 1;
        break;
    case ONLY_IF_CACHED:
        cc->only_if_cached = 1;
        break;
    case MAX_AGE:
        set_freshness_argument(cc, &cc->max_age, d);
        break;
    case S_MAXAGE:
        set_freshness_argument(cc, &cc->s_maxage, d);
        break;
    case STALE_WHILE_REVALIDATE:
        cc->stale_while_revalidate = parse_delta_seconds(d->argument);
        break;
    case STALE_IF_ERROR:
        cc->stale_if_error = parse_delta_seconds(d->argument);
        break;
    case MAX_STALE:
        cc->max_stale = d->has_argument ? parse_delta_seconds(d->argument) : AE_CC_UNLIMITED;
        break;
    case MIN_FRESH:
        cc->min_fresh = parse_delta_seconds(d->argument);
        break;
    case UNKNOWN_DIRECTIVE:
        break;
    }
}

static ae_cache_control_t no_directives(void)
{
    return (ae_cache_control_t){.max_age = AE_CC_ABSENT,
                                .s_maxage = AE_CC_ABSENT,
                                .stale_while_revalidate = AE_CC_ABSENT,
                                .stale_if_error = AE_CC_ABSENT,
                                .max_stale = AE_CC_ABSENT,
                                .min_fresh = AE_CC_ABSENT};
}

/* Parses every `name` header into *cc; returns how many list elements there were. */
static size_t parse_directives(const h2o_headers_t *headers, const char *name, ae_cache_control_t *cc)
{
    ae_cache_field_iter_t iter = ae_cache_field_iter(headers, name, AE_CACHE_QUOTED_STRINGS);
    unsigned seen = 0;
    size_t count = 0;
    h2o_iovec_t element;

    *cc = no_directives();
    for (; ae_cache_field_next(&iter, &element); ++count) {
        directive_t d = directive_of(element);
        if (d.kind >= MAX_AGE && d.kind != UNKNOWN_DIRECTIVE) {
            if ((seen & (1u << d.kind)) != 0)
                continue;
            seen |= 1u << d.kind;
        }
        apply_directive(cc, &d);
    }
    return count;
}

int ae_cache_control_parse(const h2o_headers_t *headers, const char *name, ae_cache_control_t *cc)
{
    parse_directives(headers, name, cc);
    return h2o_find_header_by_str(headers, name, strlen(name), -1) != -1;
}

/* Cache-Control; without any, Pragma: no-cache means no-cache (RFC 9111 5.4). */
static void cache_control_or_pragma(const h2o_headers_t *headers, ae_cache_control_t *cc)
{
    ae_cache_control_t pragma;
    if (ae_cache_control_parse(headers, "cache-control", cc))
        return;
    parse_directives(headers, "pragma", &pragma);
    cc->no_cache = pragma.no_cache;
}

/* Surrogate-Control, as far as it is used: max-age and no-store. 0 when it says neither. */
static int parse_surrogate_control(const h2o_headers_t *headers, ae_cache_control_t *cc)
{
    ae_cache_control_t all;
    parse_directives(headers, SURROGATE_CONTROL, &all);
    if (!all.no_store && all.max_age == AE_CC_ABSENT && !all.invalid_max_age)
        return 0;
    *cc = no_directives();
    cc->no_store = all.no_store;
    cc->max_age = all.max_age;
    cc->invalid_max_age = all.invalid_max_age;
    return 1;
}

/* Is `element` a Structured Field dictionary member (RFC 8941 3.2), with an integer where RFC 9111
 * wants delta-seconds? Parameters after ';' are not checked. */
static int is_valid_sf_member(h2o_iovec_t element)
{
    const char *semi = memchr(element.base, ';', element.len);
    size_t len = semi != NULL ? (size_t)(semi - element.base) : element.len, i = 0;
    const char *p = element.base;
    if (len == 0 || !((p[0] >= 'a' && p[0] <= 'z') || p[0] == '*'))
        return 0;
    while (i != len && ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || strchr("_-.*", p[i]) != NULL))
        ++i;
    h2o_iovec_t key = h2o_iovec_init(p, i);
    if (i == len)
        return 1; /* a boolean true */
    if (p[i++] != '=' || i == len)
        return 0;
    h2o_iovec_t value = h2o_iovec_init(p + i, len - i);
    int is_integer = 1;
    for (size_t j = value.base[0] == '-' ? 1 : 0; j != value.len; ++j)
        is_integer &= value.base[j] >= '0' && value.base[j] <= '9';
    if (h2o_memis(key.base, key.len, H2O_STRLIT("max-age")) || h2o_memis(key.base, key.len, H2O_STRLIT("s-maxage")) ||
        h2o_memis(key.base, key.len, H2O_STRLIT("stale-while-revalidate")) || h2o_memis(key.base, key.len, H2O_STRLIT("stale-if-error")))
        return is_integer && value.len <= 15;
    return is_integer || value.base[0] == '"' || value.base[0] == '?' || value.base[0] == '*' || isalpha((unsigned char)value.base[0]);
}

/* A targeted field that is present and a valid Structured Field dictionary; an invalid one is
 * ignored as a whole (RFC 9213 2.1). */
static int parse_targeted(const h2o_headers_t *headers, const char *name, ae_cache_control_t *cc)
{
    ae_cache_field_iter_t iter = ae_cache_field_iter(headers, name, AE_CACHE_QUOTED_STRINGS);
    h2o_iovec_t element;
    while (ae_cache_field_next(&iter, &element))
        if (!is_valid_sf_member(element))
            return 0;
    return parse_directives(headers, name, cc) != 0;
}

/* The directives this cache obeys for a response. The first non-empty, valid field targeting it
 * replaces Cache-Control and Expires (RFC 9213 2.1); returns 1 when one did. */
static int response_directives(const ae_policy_conf_t *conf, const h2o_headers_t *headers, ae_cache_control_t *cc)
{
    if (parse_targeted(headers, ANYEDGE_CACHE_CONTROL, cc) || parse_targeted(headers, CDN_CACHE_CONTROL, cc) ||
        (conf->honour_surrogate_control && parse_surrogate_control(headers, cc)))
        return 1;
    cache_control_or_pragma(headers, cc);
    return 0;
}

int ae_cache_is_cache_only_header(const ae_policy_conf_t *conf, h2o_iovec_t name)
{
    return h2o_lcstris(name.base, name.len, H2O_STRLIT(ANYEDGE_CACHE_CONTROL)) ||
           h2o_lcstris(name.base, name.len, H2O_STRLIT(CDN_CACHE_CONTROL)) ||
           (conf->honour_surrogate_control && h2o_lcstris(name.base, name.len, H2O_STRLIT(SURROGATE_CONTROL)));
}

/* ---- requests ---- */

static int is_method(h2o_iovec_t method, const char *name)
{
    return h2o_memis(method.base, method.len, name, strlen(name));
}

ae_request_class_t ae_cache_classify_request(h2o_iovec_t method, const h2o_headers_t *headers)
{
    if (!is_method(method, "GET") && !is_method(method, "HEAD"))
        return AE_REQUEST_PASS_METHOD;
    return has_header(headers, "authorization") ? AE_REQUEST_PASS_AUTHORIZED : AE_REQUEST_LOOKUP;
}

int ae_cache_method_invalidates(h2o_iovec_t method)
{
    return !is_method(method, "GET") && !is_method(method, "HEAD") && !is_method(method, "OPTIONS") && !is_method(method, "TRACE");
}

void ae_cache_request_directives(const ae_policy_conf_t *conf, const h2o_headers_t *req_headers, ae_request_directives_t *out)
{
    cache_control_or_pragma(req_headers, &out->cc);
    if (conf->ignore_client_no_cache) {
        out->cc.no_cache = 0;
        if (out->cc.max_age == 0)
            out->cc.max_age = AE_CC_ABSENT;
    }
}

/* ---- freshness and age (RFC 9111 4.2) ---- */

/* date_value: the Date header, else when the response arrived (RFC 9110 6.6.1). */
static int64_t date_value(const h2o_headers_t *headers, int64_t response_time)
{
    int64_t date = header_date(headers, "date");
    return date != -1 ? date : response_time;
}

/* Expires - Date. A missing Expires gives AE_CC_ABSENT; an invalid one, or several, mean already
 * expired (RFC 9111 5.3, 4.2.1). */
static int64_t expires_lifetime(const h2o_headers_t *headers, int64_t date)
{
    ssize_t first = h2o_find_header_by_str(headers, H2O_STRLIT("expires"), -1);
    if (first == -1)
        return AE_CC_ABSENT;
    if (h2o_find_header_by_str(headers, H2O_STRLIT("expires"), first) != -1)
        return 0;
    int64_t expires = ae_http_date_parse(headers->entries[first].value.base, headers->entries[first].value.len);
    return expires == -1 || expires < date ? 0 : expires - date;
}

/* The lifetime the origin gave (RFC 9111 4.2.1): s-maxage, else max-age, else Expires - Date, which
 * a targeted field replaces. AE_CC_ABSENT when none; an invalid max-age or s-maxage gives 0. */
static int64_t explicit_lifetime(const ae_cache_control_t *cc, int targeted, const h2o_headers_t *headers, int64_t date)
{
    if (cc->s_maxage != AE_CC_ABSENT)
        return cc->s_maxage;
    if (cc->invalid_max_age)
        return 0;
    if (cc->max_age != AE_CC_ABSENT)
        return cc->max_age;
    return targeted ? AE_CC_ABSENT : expires_lifetime(headers, date);
}

/* RFC 9110 15.1: the statuses a cache may give a heuristic lifetime. */
static int is_heuristically_cacheable(int status)
{
    static const int statuses[] = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501};
    for (size_t i = 0; i != sizeof(statuses) / sizeof(statuses[0]); ++i)
        if (statuses[i] == status)
            return 1;
    return 0;
}

/* The site's lifetime for an error the origin gave no freshness, or AE_CC_ABSENT. */
static int64_t negative_ttl(const ae_policy_conf_t *conf, int status)
{
    if (status == 404)
        return conf->negative_ttl_404;
    if (status == 410)
        return conf->negative_ttl_410;
    return status >= 500 && status <= 599 ? conf->negative_ttl_5xx : AE_CC_ABSENT;
}

/* RFC 9111 4.2.2: a fraction of the time since Last-Modified, capped; AE_CC_ABSENT without one. */
static int64_t heuristic_lifetime(const ae_policy_conf_t *conf, const h2o_headers_t *headers, int64_t date)
{
    int64_t last_modified = header_date(headers, "last-modified");
    if (conf->heuristic_percent == 0 || last_modified == -1)
        return AE_CC_ABSENT;
    int64_t lifetime = last_modified < date ? (date - last_modified) * (int64_t)conf->heuristic_percent / 100 : 0;
    return lifetime < conf->heuristic_max ? lifetime : conf->heuristic_max;
}

/* The freshness lifetime, explicit, else negative, else heuristic (only for the statuses RFC 9110
 * allows, or `public`); AE_CC_ABSENT when there is none. */
static int64_t freshness_lifetime(const ae_policy_conf_t *conf, int status, const ae_cache_control_t *cc, int targeted,
                                  const h2o_headers_t *headers, int64_t date, ae_freshness_t *f)
{
    int64_t lifetime = explicit_lifetime(cc, targeted, headers, date);
    if (lifetime == AE_CC_ABSENT)
        lifetime = negative_ttl(conf, status);
    if (lifetime == AE_CC_ABSENT && (is_heuristically_cacheable(status) || cc->is_public) &&
        (lifetime = heuristic_lifetime(conf, headers, date)) != AE_CC_ABSENT)
        f->heuristic = 1;
    return lifetime;
}

/* The Age: the first value of the first Age line ("7200, 0" is 7200), 0 when absent or invalid. */
static int64_t age_value(const h2o_headers_t *headers)
{
    ssize_t i = h2o_find_header_by_str(headers, H2O_STRLIT("age"), -1);
    if (i == -1)
        return 0;
    h2o_iovec_t value = headers->entries[i].value;
    const char *comma = memchr(value.base, ',', value.len);
    if (comma != NULL)
        value.len = comma - value.base;
    int64_t age = parse_delta_seconds(ae_cache_trim_ows(value));
    return age == AE_CC_ABSENT ? 0 : age;
}

/* corrected_initial_age (RFC 9111 4.2.3). A clock that went back counts as no delay. */
static int64_t initial_age(const h2o_headers_t *headers, int64_t date, int64_t request_time, int64_t response_time)
{
    int64_t apparent_age = response_time > date ? response_time - date : 0;
    int64_t response_delay = response_time > request_time ? response_time - request_time : 0;
    int64_t corrected_age_value = age_value(headers) + response_delay;
    return apparent_age > corrected_age_value ? apparent_age : corrected_age_value;
}

int64_t ae_cache_current_age(const ae_freshness_t *f, int64_t now)
{
    return f->initial_age + (now > f->response_time ? now - f->response_time : 0);
}

/* ---- storing (RFC 9111 3) ---- */

/* The fields stored without. private="..." fields must not be stored; no-cache="..." ones must
 * not be sent without revalidation, which leaving them out achieves. There is one list only (no
 * memory to join two): with both, the private one is omitted and the whole response is
 * revalidated on every use, which covers the no-cache fields. */
static h2o_iovec_t omitted_fields(const ae_cache_control_t *cc, ae_freshness_t *f)
{
    if (cc->private_fields.len == 0)
        return cc->no_cache_fields;
    if (cc->no_cache_fields.len != 0)
        f->no_cache = 1;
    return cc->private_fields;
}

/* Set-Cookie that would be stored (not named by the omitted fields). */
static int keeps_set_cookie(const h2o_headers_t *headers, h2o_iovec_t omitted)
{
    return has_header(headers, "set-cookie") &&
           (omitted.len == 0 || !h2o_contains_token(omitted.base, omitted.len, H2O_STRLIT("set-cookie"), ','));
}

/* RFC 9111 3.5: a response to a request with Authorization is shared only when it says so. */
static int allows_authorized_sharing(const ae_cache_control_t *cc)
{
    return cc->is_public || cc->s_maxage != AE_CC_ABSENT || cc->must_revalidate;
}

/* Vary: * (in any of its lines): no request can ever match (RFC 9111 4.1). */
static int has_vary_star(const h2o_headers_t *headers)
{
    ae_cache_field_iter_t iter = ae_cache_field_iter(headers, "vary", AE_CACHE_QUOTED_STRINGS);
    h2o_iovec_t name;
    while (ae_cache_field_next(&iter, &name))
        if (h2o_memis(name.base, name.len, H2O_STRLIT("*")))
            return 1;
    return 0;
}

/* Why a response may not be stored whatever its freshness, or NULL. */
static const char *refusal(const ae_policy_conf_t *conf, h2o_iovec_t method, const h2o_headers_t *req_headers, int status,
                           const h2o_headers_t *res_headers, const ae_cache_control_t *cc, h2o_iovec_t omitted)
{
    ae_cache_control_t request_cc;

    if (status < 200 || status == 206 || status == 304)
        return "status";
    if (!is_method(method, "GET"))
        return "method";
    ae_cache_control_parse(req_headers, "cache-control", &request_cc);
    if (request_cc.no_store)
        return "request-no-store";
    if (cc->no_store)
        return "no-store";
    if (cc->is_private)
        return "private";
    if (has_header(req_headers, "authorization") && !allows_authorized_sharing(cc))
        return "authorization";
    if (!conf->strip_set_cookie && keeps_set_cookie(res_headers, omitted))
        return "set-cookie";
    if (has_vary_star(res_headers))
        return "vary-star";
    return NULL;
}

/* Can a stale copy be revalidated (RFC 9110 8.8)? */
static int has_validators(const h2o_headers_t *headers)
{
    return has_header(headers, "etag") || header_date(headers, "last-modified") != -1;
}

ae_store_decision_t ae_cache_decide_store(const ae_policy_conf_t *conf, h2o_iovec_t method, const h2o_headers_t *req_headers,
                                          int status, const h2o_headers_t *res_headers, int64_t request_time, int64_t response_time)
{
    ae_store_decision_t d = {.store = 0};
    ae_freshness_t *f = &d.freshness;
    ae_cache_control_t cc;
    int targeted = response_directives(conf, res_headers, &cc);

    d.omit_fields = omitted_fields(&cc, f);
    if ((d.reason = refusal(conf, method, req_headers, status, res_headers, &cc, d.omit_fields)) != NULL)
        return d;

    int64_t date = date_value(res_headers, response_time);
    if ((f->lifetime = freshness_lifetime(conf, status, &cc, targeted, res_headers, date, f)) == AE_CC_ABSENT) {
        d.reason = "no-freshness";
        return d;
    }
    f->response_time = response_time;
    f->initial_age = initial_age(res_headers, date, request_time, response_time);
    f->stale_while_revalidate = cc.stale_while_revalidate;
    f->stale_if_error = cc.stale_if_error;
    f->must_revalidate = cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage != AE_CC_ABSENT;
    f->immutable = cc.immutable;
    f->no_cache |= cc.no_cache;
    if (f->lifetime <= f->initial_age && !has_validators(res_headers)) /* stale on arrival, and no way to revalidate it */
        d.reason = "stale";
    else
        d.store = 1;
    d.strip_set_cookie = d.store && keeps_set_cookie(res_headers, d.omit_fields);
    return d;
}

/* ---- using a stored response (RFC 9111 4, RFC 5861) ---- */

/* How long it has been stale; <= 0 while fresh. */
static int64_t staleness(const ae_freshness_t *stored, int64_t now)
{
    return ae_cache_current_age(stored, now) - stored->lifetime;
}

/* Is a stale response within `allowed` seconds of staleness (AE_CC_ABSENT or negative: not at all)? */
static int within(int64_t stale, int64_t allowed)
{
    return allowed != AE_CC_ABSENT && (allowed == AE_CC_UNLIMITED || stale <= allowed);
}

/* A request's max-age accepts a response no older (RFC 9111 5.2.1.1). max-age=0 never does: it is
 * the client's way to have every cache revalidate (RFC 2616 14.9.4), and a whole-second age of 0
 * may well be 0.9s. */
static int refuses_age(int64_t max_age, int64_t age)
{
    return max_age != AE_CC_ABSENT && (age > max_age || max_age == 0);
}

ae_use_t ae_cache_select(const ae_request_directives_t *req, const ae_freshness_t *stored, int64_t now)
{
    const ae_cache_control_t *cc = &req->cc;
    int64_t age = ae_cache_current_age(stored, now), stale = staleness(stored, now);

    if (stored->no_cache)
        return AE_USE_REVALIDATE;
    /* immutable (RFC 8246): while fresh, a reload's no-cache or max-age does not make us ask again */
    if (stored->immutable && stale < 0)
        return AE_USE_FRESH;
    if (cc->no_cache || refuses_age(cc->max_age, age))
        return AE_USE_REVALIDATE;
    if (cc->min_fresh != AE_CC_ABSENT && stored->lifetime - age < cc->min_fresh)
        return AE_USE_REVALIDATE;
    if (stale < 0)
        return AE_USE_FRESH;
    if (stored->must_revalidate)
        return AE_USE_REVALIDATE;
    if (within(stale, cc->max_stale))
        return AE_USE_STALE_ALLOWED;
    if (within(stale, stored->stale_while_revalidate))
        return AE_USE_STALE_WHILE_REVALIDATE;
    return AE_USE_REVALIDATE;
}

/* RFC 9111 4.2.4: never against no-cache (not even fresh) or, once stale, against must-revalidate (and
 * what implies it); else as long as the response's or the request's stale-if-error (RFC 5861 4), or
 * the site's grace, allow. */
int ae_cache_stale_on_error(const ae_request_directives_t *req, const ae_freshness_t *stored, int64_t grace, int64_t now)
{
    int64_t stale = staleness(stored, now);
    if (stored->no_cache)
        return 0;
    if (stale < 0)
        return 1;
    return !stored->must_revalidate &&
           (within(stale, stored->stale_if_error) || within(stale, req->cc.stale_if_error) || within(stale, grace));
}
