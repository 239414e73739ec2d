/*
 * The geo module (see geo.h): its keys, the per-site handler that runs before the cache's (it is
 * registered right after core), the response filter for `geo.response-headers`, and the
 * catchment counters with their admin endpoint, GET /geo/catchment.
 *
 * Per request, on the worker: the client's copies of the geo headers are removed, the address is
 * looked up, the headers are set on req->headers (so the cache key and Vary see them, and the
 * origin receives them), the request is counted, and the site's geo rules are applied: a refused
 * request is answered here, before the cache is asked, and nothing about it is stored.
 *
 * Config hooks: main thread. The handler, the filter and the endpoint: worker threads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modules/admin/admin.h"
#include "modules/geo/geo.h"
#include "server/config.h"
#include "server/log.h"

#define GEO_VALUE "anyedge.geo"
#define CODES (26 * 26)
#define ASN_SLOTS 1024 /* per worker thread */
#define DEFAULT_TOP 20
#define DEFAULT_BODY "anyedge: this content is not available in your location\n"

ae_module_t ae_geo_module;

enum { H_COUNTRY, H_CONTINENT, H_ASN, H_CITY, H_REGION, H_COUNT };
static const char *const default_headers[H_COUNT] = {"X-Geo-Country", "X-Geo-Continent", "X-Geo-ASN", "X-Geo-City", "X-Geo-Region"};

static struct {
    char *database, *asn_database;
    unsigned database_line;
    int on_error_disable;
    uint64_t check_interval_ms;
    char *headers[H_COUNT];     /* as configured (orig case); "" = not sent */
    h2o_iovec_t lower[H_COUNT]; /* lower-cased */
    int response_headers;
    H2O_VECTOR(char *) regions; /* region names */
    uint8_t region_of[CODES];   /* 0 = none, else index + 1 into regions */
    uint64_t top;
    /* state */
    int configured, loaded;
} conf = {.check_interval_ms = 1000, .top = DEFAULT_TOP};

typedef H2O_VECTOR(uint16_t) code_vector_t;
typedef H2O_VECTOR(uint32_t) asn_vector_t;

typedef struct {
    char *path;
    size_t path_len;
    code_vector_t allow_countries, deny_countries, allow_continents, deny_continents;
    asn_vector_t allow_asns, deny_asns;
    int status;
    char *body;
} geo_rule_t;

typedef struct {
    H2O_VECTOR(geo_rule_t) rules;
} geo_site_conf_t;

/* per worker thread; written by it only, read by the endpoint on any thread */
typedef struct {
    uint64_t total, unknown_country, unknown_asn, asn_other;
    uint64_t countries[CODES];
    struct {
        uint32_t asn;
        uint64_t requests;
    } asns[ASN_SLOTS];
    char pad[64];
} catchment_t;

static catchment_t *catchments;
static size_t num_catchments;

/* ---- config ---- */

static int code_index(const char *code)
{
    if (code == NULL || strlen(code) != 2)
        return -1;
    int a = code[0] >= 'a' ? code[0] - 'a' : code[0] - 'A', b = code[1] >= 'a' ? code[1] - 'a' : code[1] - 'A';
    if (a < 0 || a >= 26 || b < 0 || b >= 26)
        return -1;
    return a * 26 + b;
}

static int set_string(ae_config_t *cf, yaml_node_t *value, char **out, int allow_empty)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (!allow_empty && s[0] == '\0')
        return ae_config_error(cf, value, "'%s' must not be empty", cf->key);
    free(*out);
    *out = strdup(s);
    return 0;
}

static int set_database(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    conf.database_line = ae_config_line(value);
    return set_string(cf, value, &conf.database, 0);
}

static int set_asn_database(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_string(cf, value, &conf.asn_database, 0);
}

static int set_on_error(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const char *const choices[] = {"fail", "disable", NULL};
    int choice;
    if (ae_config_choice(cf, value, choices, &choice) != 0)
        return -1;
    conf.on_error_disable = choice == 1;
    return 0;
}

static int set_check_interval(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (ae_config_duration_ms(cf, value, &conf.check_interval_ms) != 0)
        return -1;
    if (conf.check_interval_ms < 100)
        return ae_config_error(cf, value, "'geo.check-interval' must be at least 100ms");
    return 0;
}

static int set_header(ae_config_t *cf, yaml_node_t *value, int which)
{
    if (set_string(cf, value, &conf.headers[which], 1) != 0)
        return -1;
    if (strcmp(conf.headers[which], "off") == 0)
        conf.headers[which][0] = '\0';
    for (const char *p = conf.headers[which]; *p != '\0'; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return ae_config_error(cf, value, "'%s': '%s' is not a header name", cf->key, conf.headers[which]);
    return 0;
}

#define HEADER_SETTER(which)                                                                                                       \
    static int set_header_##which(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)                                            \
    {                                                                                                                              \
        return set_header(cf, value, which);                                                                                       \
    }
HEADER_SETTER(H_COUNTRY)
HEADER_SETTER(H_CONTINENT)
HEADER_SETTER(H_ASN)
HEADER_SETTER(H_CITY)
HEADER_SETTER(H_REGION)

static int set_response_headers(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_bool(cf, value, &conf.response_headers);
}

static int set_top(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_uint(cf, value, 1, 1000, &conf.top);
}

static int expect_list(ae_config_t *cf, yaml_node_t *value)
{
    if (value->type == YAML_SEQUENCE_NODE)
        return 0;
    return ae_config_error(cf, value, "'%s' expected a list", cf->key);
}

/* geo.regions: {REGION: [COUNTRY, ...], ...} */
static int set_regions(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (ae_config_expect(cf, value, YAML_MAPPING_NODE) != 0)
        return -1;
    for (yaml_node_pair_t *pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; ++pair) {
        yaml_node_t *k = yaml_document_get_node(&cf->doc, pair->key), *v = yaml_document_get_node(&cf->doc, pair->value);
        const char *name = ae_config_scalar(cf, k);
        if (name == NULL)
            return -1;
        if (name[0] == '\0' || strcmp(name, "other") == 0)
            return ae_config_error(cf, k, "'geo.regions': '%s' cannot name a region", name);
        if (conf.regions.size == 250)
            return ae_config_error(cf, k, "'geo.regions': too many regions (at most 250)");
        h2o_vector_reserve(NULL, &conf.regions, conf.regions.size + 1);
        conf.regions.entries[conf.regions.size++] = strdup(name);
        if (expect_list(cf, v) != 0)
            return -1;
        AE_CONFIG_FOREACH_ITEM(&cf->doc, v, item)
        {
            const char *code = ae_config_scalar(cf, item);
            int at = code_index(code);
            if (at < 0)
                return ae_config_error(cf, item, "'geo.regions': '%s' is not a two-letter country code", code != NULL ? code : "");
            if (conf.region_of[at] != 0)
                return ae_config_error(cf, item, "'geo.regions': %s is in two regions", code);
            conf.region_of[at] = (uint8_t)conf.regions.size;
        }
    }
    return 0;
}

static geo_site_conf_t *site_conf(ae_site_t *site)
{
    geo_site_conf_t **slot = (geo_site_conf_t **)&site->conf[ae_geo_module.index];
    if (*slot == NULL)
        *slot = calloc(1, sizeof(**slot));
    return *slot;
}

static const char *const continents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA", NULL};

static int parse_codes(ae_config_t *cf, yaml_node_t *value, const char *key, code_vector_t *out, int continent)
{
    if (value->type != YAML_SEQUENCE_NODE)
        return ae_config_error(cf, value, "'geo.rules': '%s' expected a list", key);
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        const char *code = ae_config_scalar(cf, item);
        int at = code_index(code);
        if (code == NULL)
            return -1;
        if (at >= 0 && continent) {
            char upper[3] = {(char)('A' + at / 26), (char)('A' + at % 26), '\0'};
            int known = 0;
            for (const char *const *c = continents; *c != NULL; ++c)
                known |= strcmp(*c, upper) == 0;
            if (!known)
                at = -1;
        }
        if (at < 0)
            return ae_config_error(cf, item, "'geo.rules': '%s' in '%s' is not a %s", code, key,
                                   continent ? "continent code (AF AN AS EU NA OC SA)" : "two-letter country code");
        h2o_vector_reserve(NULL, out, out->size + 1);
        out->entries[out->size++] = (uint16_t)at;
    }
    return 0;
}

static int parse_asns(ae_config_t *cf, yaml_node_t *value, const char *key, asn_vector_t *out)
{
    if (value->type != YAML_SEQUENCE_NODE)
        return ae_config_error(cf, value, "'geo.rules': '%s' expected a list", key);
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        const char *s = ae_config_scalar(cf, item);
        char *end;
        if (s == NULL)
            return -1;
        if ((s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's'))
            s += 2;
        unsigned long long asn = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0' || asn == 0 || asn > UINT32_MAX)
            return ae_config_error(cf, item, "'geo.rules': '%s' in '%s' is not an AS number", (const char *)item->data.scalar.value,
                                   key);
        h2o_vector_reserve(NULL, out, out->size + 1);
        out->entries[out->size++] = (uint32_t)asn;
    }
    return 0;
}

static void free_rule(geo_rule_t *rule)
{
    free(rule->path);
    free(rule->body);
    free(rule->allow_countries.entries);
    free(rule->deny_countries.entries);
    free(rule->allow_continents.entries);
    free(rule->deny_continents.entries);
    free(rule->allow_asns.entries);
    free(rule->deny_asns.entries);
}

static int parse_rule(ae_config_t *cf, yaml_node_t *value, geo_rule_t *rule)
{
    if (value->type != YAML_MAPPING_NODE)
        return ae_config_error(cf, value, "'geo.rules' expected a list of mappings (path, allow-/deny-countries, ...)");
    int lists = 0;
    for (yaml_node_pair_t *pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; ++pair) {
        yaml_node_t *k = yaml_document_get_node(&cf->doc, pair->key), *v = yaml_document_get_node(&cf->doc, pair->value);
        const char *key = ae_config_scalar(cf, k);
        int ret;
        if (key == NULL)
            return -1;
        if (strcmp(key, "path") == 0) {
            const char *path = ae_config_scalar(cf, v);
            if (path == NULL)
                return -1;
            if (path[0] != '/')
                return ae_config_error(cf, v, "'geo.rules': 'path' must start with '/'");
            free(rule->path);
            rule->path = strdup(path);
            rule->path_len = strlen(path);
            continue;
        } else if (strcmp(key, "status") == 0) {
            uint64_t status;
            if (ae_config_uint(cf, v, 100, 599, &status) != 0)
                return -1;
            if (status != 403 && status != 451)
                return ae_config_error(cf, v, "'geo.rules': 'status' must be 403 or 451");
            rule->status = (int)status;
            continue;
        } else if (strcmp(key, "body") == 0) {
            const char *body = ae_config_scalar(cf, v);
            if (body == NULL)
                return -1;
            free(rule->body);
            rule->body = strdup(body);
            continue;
        } else if (strcmp(key, "allow-countries") == 0) {
            ret = parse_codes(cf, v, key, &rule->allow_countries, 0);
        } else if (strcmp(key, "deny-countries") == 0) {
            ret = parse_codes(cf, v, key, &rule->deny_countries, 0);
        } else if (strcmp(key, "allow-continents") == 0) {
            ret = parse_codes(cf, v, key, &rule->allow_continents, 1);
        } else if (strcmp(key, "deny-continents") == 0) {
            ret = parse_codes(cf, v, key, &rule->deny_continents, 1);
        } else if (strcmp(key, "allow-asns") == 0) {
            ret = parse_asns(cf, v, key, &rule->allow_asns);
        } else if (strcmp(key, "deny-asns") == 0) {
            ret = parse_asns(cf, v, key, &rule->deny_asns);
        } else {
            return ae_config_error(
                cf, k,
                "'geo.rules': unknown key '%s' (expected path, allow-countries, deny-countries, allow-continents, "
                "deny-continents, allow-asns, deny-asns, status, body)",
                key);
        }
        if (ret != 0)
            return -1;
        ++lists;
    }
    if (lists == 0)
        return ae_config_error(cf, value, "'geo.rules': a rule needs an allow- or deny- list");
    if (rule->path == NULL) {
        rule->path = strdup("/");
        rule->path_len = 1;
    }
    return 0;
}

static int set_rules(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    geo_site_conf_t *sc = site_conf(site);
    if (expect_list(cf, value) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        h2o_vector_reserve(NULL, &sc->rules, sc->rules.size + 1);
        geo_rule_t *rule = &sc->rules.entries[sc->rules.size++];
        memset(rule, 0, sizeof(*rule));
        rule->status = 403;
        if (parse_rule(cf, item, rule) != 0)
            return -1;
    }
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    int has_rules = 0;
    for (size_t i = 0; i != srv->sites.size; ++i) {
        geo_site_conf_t *sc = srv->sites.entries[i]->conf[ae_geo_module.index];
        has_rules |= sc != NULL && sc->rules.size != 0;
    }
    if (conf.database == NULL) {
        if (has_rules || conf.asn_database != NULL || conf.regions.size != 0)
            return ae_config_error_at(cf, 1, "geo settings need 'geo.database'");
        return 0;
    }
    conf.configured = 1;
    for (int i = 0; i != H_COUNT; ++i) {
        if (conf.headers[i] == NULL)
            conf.headers[i] = strdup(default_headers[i]);
        conf.lower[i] = h2o_strdup(NULL, conf.headers[i], SIZE_MAX);
        h2o_strtolower(conf.lower[i].base, conf.lower[i].len);
    }

    char err[512];
    ae_geo_db_conf_t dc = {conf.database, conf.asn_database, conf.check_interval_ms};
    if (ae_geo_db_open(&dc, err, sizeof(err)) != 0) {
        if (!conf.on_error_disable)
            return ae_config_error_at(cf, conf.database_line, "'geo.database': %s", err);
        ae_log_warn("geo: %s; geo lookups are disabled until the file can be loaded (geo.on-error: disable)", err);
        return 0;
    }
    conf.loaded = 1;
    return 0;
}

/* ---- the client's address ---- */

socklen_t ae_geo_normalize_addr(struct sockaddr_storage *ss, socklen_t len)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (len < sizeof(*sin6) || ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
        return len;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = sin6->sin6_port};
    memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &sin, sizeof(sin));
    return sizeof(sin);
}

/* The address a request is located by: the server's client address (the connection's peer, the
 * PROXY protocol's or a trusted proxy's X-Forwarded-For, see ae_client_addr), normalised again
 * here so that the lookup never sees an IPv4-mapped address. */
socklen_t ae_geo_client_addr(h2o_req_t *req, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    socklen_t len = ae_client_addr(req, ss);
    if (len == 0)
        return 0;
    return ae_geo_normalize_addr(ss, len);
}

/* ---- catchment ---- */

static void count(size_t thread, const ae_geo_info_t *info)
{
    if (catchments == NULL || thread >= num_catchments)
        return;
    catchment_t *c = &catchments[thread];
    ae_counter_add(&c->total, 1);
    int at = code_index(info->country);
    ae_counter_add(at >= 0 ? &c->countries[at] : &c->unknown_country, 1);
    if (info->asn == 0) {
        ae_counter_add(&c->unknown_asn, 1);
        return;
    }
    size_t h = (info->asn * 2654435761u) % ASN_SLOTS;
    for (size_t probe = 0; probe != 16; ++probe, h = (h + 1) % ASN_SLOTS) {
        uint32_t asn = __atomic_load_n(&c->asns[h].asn, __ATOMIC_RELAXED);
        if (asn == 0)
            __atomic_store_n(&c->asns[h].asn, asn = info->asn, __ATOMIC_RELEASE);
        if (asn == info->asn) {
            ae_counter_add(&c->asns[h].requests, 1);
            return;
        }
    }
    ae_counter_add(&c->asn_other, 1); /* the table is full around this slot: bounded memory */
}

typedef struct {
    uint32_t key;
    uint64_t requests;
} tally_t;

static int by_key(const void *a, const void *b)
{
    const tally_t *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int by_requests(const void *a, const void *b)
{
    const tally_t *x = a, *y = b;
    if (x->requests != y->requests)
        return x->requests < y->requests ? 1 : -1;
    return by_key(a, b);
}

typedef struct {
    char *buf;
    size_t len, cap;
} json_t;

static void jprintf(json_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jprintf(json_t *j, const char *fmt, ...)
{
    va_list args;
    for (;;) {
        va_start(args, fmt);
        int n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, args);
        va_end(args);
        if (n >= 0 && (size_t)n < j->cap - j->len) {
            j->len += n;
            return;
        }
        j->cap = (j->cap + n + 1) * 2;
        j->buf = realloc(j->buf, j->cap);
    }
}

static void on_catchment(h2o_req_t *req, void *data)
{
    json_t j = {NULL, 0, 0};
    j.buf = malloc(j.cap = 4096);
    uint64_t total = 0, unknown_country = 0, unknown_asn = 0, asn_other = 0;
    tally_t *countries = calloc(CODES, sizeof(*countries)), *asns = calloc(num_catchments * ASN_SLOTS + 1, sizeof(*asns));
    size_t n_asns = 0;

    for (size_t i = 0; i != CODES; ++i)
        countries[i].key = (uint32_t)i;
    for (size_t t = 0; t != num_catchments; ++t) {
        catchment_t *c = &catchments[t];
        total += ae_counter_get(&c->total);
        unknown_country += ae_counter_get(&c->unknown_country);
        unknown_asn += ae_counter_get(&c->unknown_asn);
        asn_other += ae_counter_get(&c->asn_other);
        for (size_t i = 0; i != CODES; ++i)
            countries[i].requests += ae_counter_get(&c->countries[i]);
        for (size_t i = 0; i != ASN_SLOTS; ++i) {
            uint32_t asn = __atomic_load_n(&c->asns[i].asn, __ATOMIC_ACQUIRE);
            if (asn != 0)
                asns[n_asns++] = (tally_t){asn, ae_counter_get(&c->asns[i].requests)};
        }
    }
    /* one entry per AS, summed over the threads */
    qsort(asns, n_asns, sizeof(*asns), by_key);
    size_t merged = 0;
    for (size_t i = 0; i != n_asns; ++i) {
        if (merged != 0 && asns[merged - 1].key == asns[i].key)
            asns[merged - 1].requests += asns[i].requests;
        else
            asns[merged++] = asns[i];
    }
    qsort(asns, merged, sizeof(*asns), by_requests);
    qsort(countries, CODES, sizeof(*countries), by_requests);

    uint64_t build_epoch, asn_build_epoch, loaded_at, reloads, failures;
    ae_geo_db_status(&build_epoch, &loaded_at, &reloads, &failures, &asn_build_epoch);
    jprintf(&j,
            "{\"enabled\":%s,\"database\":{\"build_epoch\":%llu,\"asn_build_epoch\":%llu,\"loaded_at\":%llu,\"reloads\":%llu,"
            "\"reload_failures\":%llu},\"requests\":%llu,\"unknown_country\":%llu,\"unknown_asn\":%llu,\"other_asns\":%llu,"
            "\"top\":%llu,\"countries\":[",
            ae_geo_db_loaded() ? "true" : "false", (unsigned long long)build_epoch, (unsigned long long)asn_build_epoch,
            (unsigned long long)loaded_at, (unsigned long long)reloads, (unsigned long long)failures, (unsigned long long)total,
            (unsigned long long)unknown_country, (unsigned long long)unknown_asn, (unsigned long long)asn_other,
            (unsigned long long)conf.top);
    for (size_t i = 0; i != CODES && i != conf.top && countries[i].requests != 0; ++i)
        jprintf(&j, "%s{\"country\":\"%c%c\",\"requests\":%llu}", i != 0 ? "," : "", 'A' + countries[i].key / 26,
                'A' + countries[i].key % 26, (unsigned long long)countries[i].requests);
    jprintf(&j, "],\"asns\":[");
    for (size_t i = 0; i != merged && i != conf.top && asns[i].requests != 0; ++i)
        jprintf(&j, "%s{\"asn\":%lu,\"requests\":%llu}", i != 0 ? "," : "", (unsigned long)asns[i].key,
                (unsigned long long)asns[i].requests);
    jprintf(&j, "]}\n");
    ae_admin_send_json(req, 200, j.buf, j.len);
    free(j.buf);
    free(countries);
    free(asns);
}

/* ---- per request ---- */

/* City names are UTF-8: bytes a header value should not carry are percent-encoded. */
static h2o_iovec_t header_safe(h2o_mem_pool_t *pool, const char *s)
{
    size_t len = strlen(s);
    h2o_iovec_t out = h2o_iovec_init(h2o_mem_alloc_pool(pool, len * 3 + 1), 0);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; ++p) {
        if (*p < 0x20 || *p >= 0x7f || *p == '%')
            out.len += sprintf(out.base + out.len, "%%%02X", *p);
        else
            out.base[out.len++] = (char)*p;
    }
    return out;
}

/* The header values for this request (.base NULL for those not sent). */
typedef struct {
    h2o_iovec_t values[H_COUNT];
} geo_values_t;

static void compute_values(h2o_mem_pool_t *pool, const ae_geo_info_t *info, geo_values_t *v)
{
    memset(v, 0, sizeof(*v));
    if (info->country[0] != '\0')
        v->values[H_COUNTRY] = h2o_strdup(pool, info->country, SIZE_MAX);
    if (info->continent[0] != '\0')
        v->values[H_CONTINENT] = h2o_strdup(pool, info->continent, SIZE_MAX);
    if (info->asn != 0) {
        char buf[16];
        v->values[H_ASN] = h2o_strdup(pool, buf, snprintf(buf, sizeof(buf), "%lu", (unsigned long)info->asn));
    }
    if (info->city[0] != '\0')
        v->values[H_CITY] = header_safe(pool, info->city);
    if (conf.regions.size != 0) {
        int at = code_index(info->country);
        const char *region = at >= 0 && conf.region_of[at] != 0 ? conf.regions.entries[conf.region_of[at] - 1] : "other";
        v->values[H_REGION] = h2o_strdup(pool, region, SIZE_MAX);
    }
}

h2o_iovec_t ae_geo_request_country(h2o_req_t *req)
{
    geo_values_t *values = ae_request_value(req, H2O_STRLIT(GEO_VALUE));
    return values != NULL ? values->values[H_COUNTRY] : h2o_iovec_init(NULL, 0);
}

static int in_codes(const code_vector_t *v, const char *code)
{
    int at = code_index(code);
    for (size_t i = 0; at >= 0 && i != v->size; ++i)
        if (v->entries[i] == at)
            return 1;
    return 0;
}

static int in_asns(const asn_vector_t *v, uint32_t asn)
{
    for (size_t i = 0; asn != 0 && i != v->size; ++i)
        if (v->entries[i] == asn)
            return 1;
    return 0;
}

/* The first rule whose path is a prefix of the request's; NULL if none. */
static const geo_rule_t *find_rule(const geo_site_conf_t *sc, h2o_iovec_t path)
{
    for (size_t i = 0; sc != NULL && i != sc->rules.size; ++i) {
        const geo_rule_t *rule = &sc->rules.entries[i];
        if (path.len >= rule->path_len && memcmp(path.base, rule->path, rule->path_len) == 0)
            return rule;
    }
    return NULL;
}

static int refused(const geo_rule_t *rule, const ae_geo_info_t *info)
{
    if (in_codes(&rule->deny_countries, info->country) || in_codes(&rule->deny_continents, info->continent) ||
        in_asns(&rule->deny_asns, info->asn))
        return 1;
    if (rule->allow_countries.size == 0 && rule->allow_continents.size == 0 && rule->allow_asns.size == 0)
        return 0;
    return !(in_codes(&rule->allow_countries, info->country) || in_codes(&rule->allow_continents, info->continent) ||
             in_asns(&rule->allow_asns, info->asn));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    ae_thread_t *thread = ae_thread_of(req->conn->ctx);
    ae_site_t *site = ae_request_site(req);
    ae_geo_info_t info;
    struct sockaddr_storage ss;

    /* the client's own copies never reach the origin, the cache key or Vary */
    for (int i = 0; i != H_COUNT; ++i) {
        if (conf.lower[i].len == 0)
            continue;
        ssize_t at;
        while ((at = h2o_find_header_by_str(&req->headers, conf.lower[i].base, conf.lower[i].len, -1)) != -1)
            h2o_delete_header(&req->headers, at);
    }

    memset(&info, 0, sizeof(info));
    socklen_t len = ae_geo_client_addr(req, &ss);
    if (len != 0) /* finds nothing while no database is loaded (on-error: disable) */
        ae_geo_db_lookup(thread->index, (struct sockaddr *)&ss, &info);
    count(thread->index, &info);

    geo_values_t *values = h2o_mem_alloc_pool(&req->pool, sizeof(*values));
    compute_values(&req->pool, &info, values);
    for (int i = 0; i != H_COUNT; ++i)
        if (conf.lower[i].len != 0 && values->values[i].base != NULL)
            h2o_add_header_by_str(&req->pool, &req->headers, conf.lower[i].base, conf.lower[i].len, 0, conf.headers[i],
                                  values->values[i].base, values->values[i].len);
    ae_request_set_value(req, H2O_STRLIT(GEO_VALUE), values); /* for response headers and the access log */

    const geo_rule_t *rule = find_rule(site != NULL ? site->conf[ae_geo_module.index] : NULL, req->path_normalized);
    if (rule != NULL && refused(rule, &info)) {
        const char *body = rule->body != NULL ? rule->body : DEFAULT_BODY;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("private, no-store"));
        h2o_send_error_generic(req, rule->status, rule->status == 451 ? "Unavailable For Legal Reasons" : "Forbidden", body,
                               H2O_SEND_ERROR_KEEP_HEADERS);
        return 0;
    }
    return -1;
}

/* geo.response-headers: the same headers on the response, for debugging */
static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    geo_values_t *values = ae_request_value(req, H2O_STRLIT(GEO_VALUE));
    for (int i = 0; values != NULL && i != H_COUNT; ++i)
        if (conf.lower[i].len != 0 && values->values[i].base != NULL)
            h2o_add_header_by_str(&req->pool, &req->res.headers, conf.lower[i].base, conf.lower[i].len, 0, conf.headers[i],
                                  values->values[i].base, values->values[i].len);
    h2o_setup_next_ostream(req, slot);
}

/* ---- life ---- */

static int on_init(ae_server_t *srv)
{
    if (!conf.configured)
        return 0;
    for (size_t i = 0; i != srv->sites.size; ++i)
        ae_site_add_handler(srv->sites.entries[i], sizeof(h2o_handler_t))->on_req = on_req;
    if (conf.response_headers)
        h2o_create_filter(srv->site_pathconf, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;
    num_catchments = srv->num_threads;
    catchments = calloc(num_catchments, sizeof(*catchments));
    ae_admin_add_path("/geo/catchment", 0, on_catchment, NULL);
    ae_geo_db_start_watch(); /* also when the start-up load failed: the file may come */
    return 0;
}

static void on_shutdown(ae_server_t *srv)
{
    ae_geo_db_close();
    conf.loaded = 0;
}

static void on_dispose(ae_server_t *srv)
{
    ae_geo_db_close();
    conf.loaded = conf.configured = 0;
    free(conf.database);
    free(conf.asn_database);
    conf.database = conf.asn_database = NULL;
    for (int i = 0; i != H_COUNT; ++i) {
        free(conf.headers[i]);
        free(conf.lower[i].base);
        conf.headers[i] = NULL;
        conf.lower[i] = h2o_iovec_init(NULL, 0);
    }
    for (size_t i = 0; i != conf.regions.size; ++i)
        free(conf.regions.entries[i]);
    free(conf.regions.entries);
    memset(&conf.regions, 0, sizeof(conf.regions));
    memset(conf.region_of, 0, sizeof(conf.region_of));
    for (size_t i = 0; i != srv->sites.size; ++i) {
        geo_site_conf_t *sc = srv->sites.entries[i]->conf[ae_geo_module.index];
        if (sc == NULL)
            continue;
        for (size_t r = 0; r != sc->rules.size; ++r)
            free_rule(&sc->rules.entries[r]);
        free(sc->rules.entries);
        free(sc);
        srv->sites.entries[i]->conf[ae_geo_module.index] = NULL;
    }
    free(catchments);
    catchments = NULL;
    num_catchments = 0;
}

static const ae_directive_t directives[] = {
    {"geo.database", AE_SCOPE_GLOBAL, set_database},
    {"geo.asn-database", AE_SCOPE_GLOBAL, set_asn_database},
    {"geo.on-error", AE_SCOPE_GLOBAL, set_on_error},
    {"geo.check-interval", AE_SCOPE_GLOBAL, set_check_interval},
    {"geo.headers.country", AE_SCOPE_GLOBAL, set_header_H_COUNTRY},
    {"geo.headers.continent", AE_SCOPE_GLOBAL, set_header_H_CONTINENT},
    {"geo.headers.asn", AE_SCOPE_GLOBAL, set_header_H_ASN},
    {"geo.headers.city", AE_SCOPE_GLOBAL, set_header_H_CITY},
    {"geo.headers.region", AE_SCOPE_GLOBAL, set_header_H_REGION},
    {"geo.response-headers", AE_SCOPE_GLOBAL, set_response_headers},
    {"geo.regions", AE_SCOPE_GLOBAL, set_regions},
    {"geo.catchment.top", AE_SCOPE_GLOBAL, set_top},
    {"geo.rules", AE_SCOPE_SITE, set_rules},
    {NULL},
};

ae_module_t ae_geo_module = {
    .name = "geo",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_shutdown = on_shutdown,
    .on_dispose = on_dispose,
};
