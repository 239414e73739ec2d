/*
 * The server's own config keys, registered as the "core" module: `listen` (each entry an
 * "ADDR:PORT" string or a mapping {address, tls, proxy-protocol}), `threads`, `shutdown-timeout`,
 * `trusted-proxies`, `user`, `group`, and `sites` with each site's `host` and `aliases`. Other site keys belong to
 * the modules and are dispatched from here through ae_config_walk().
 *
 * Main thread only (config time).
 */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "server/config.h"

#define MAX_THREADS 256

/* A listen entry written as a mapping: {address: "ADDR:PORT", tls: BOOL, proxy-protocol: BOOL}. */
static int listen_entry(ae_config_t *cf, yaml_node_t *map, ae_listen_addr_t *out)
{
    yaml_node_t *address = NULL;
    int tls = 0, proxy_protocol = 0, ret = 0;
    const char *outer_key = cf->key;

    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; ret == 0 && pair < map->data.mapping.pairs.top; ++pair) {
        yaml_node_t *key = yaml_document_get_node(&cf->doc, pair->key), *value = yaml_document_get_node(&cf->doc, pair->value);
        const char *name = key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "";
        if (strcmp(name, "address") == 0) {
            address = value;
        } else if (strcmp(name, "tls") == 0) {
            cf->key = "listen.tls";
            ret = ae_config_bool(cf, value, &tls);
        } else if (strcmp(name, "proxy-protocol") == 0) {
            cf->key = "listen.proxy-protocol";
            ret = ae_config_bool(cf, value, &proxy_protocol);
        } else {
            ret = ae_config_error(cf, key, "unknown key '%s' in a listen entry (expected address, tls, proxy-protocol)", name);
        }
        cf->key = outer_key;
    }
    if (ret != 0)
        return -1;
    if (address == NULL)
        return ae_config_error(cf, map, "a listen entry has no 'address' (expected e.g. {address: \"0.0.0.0:443\", tls: true})");
    if (ae_config_listen_addr(cf, address, out) != 0)
        return -1;
    out->tls = tls;
    out->proxy_protocol = proxy_protocol;
    return 0;
}

static int add_listen(ae_config_t *cf, yaml_node_t *value)
{
    ae_server_t *srv = cf->srv;
    h2o_vector_reserve(NULL, &srv->listen, srv->listen.size + 1);
    ae_listen_addr_t *added = &srv->listen.entries[srv->listen.size];
    if ((value->type == YAML_MAPPING_NODE ? listen_entry(cf, value, added) : ae_config_listen_addr(cf, value, added)) != 0)
        return -1;
    ++srv->listen.size;
    for (ae_listen_addr_t *earlier = srv->listen.entries; earlier != added; ++earlier)
        if (earlier->addrlen == added->addrlen && memcmp(&earlier->addr, &added->addr, added->addrlen) == 0)
            return ae_config_error(cf, value, "'listen': duplicate address '%s'", added->text);
    return 0;
}

static int set_listen(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (value->type == YAML_SCALAR_NODE)
        return add_listen(cf, value);
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (add_listen(cf, item) != 0)
            return -1;
    }
    return 0;
}

static int add_trusted_proxy(ae_config_t *cf, yaml_node_t *value)
{
    ae_server_t *srv = cf->srv;
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    h2o_vector_reserve(NULL, &srv->trusted_proxies, srv->trusted_proxies.size + 1);
    if (ae_parse_network(s, &srv->trusted_proxies.entries[srv->trusted_proxies.size]) != 0)
        return ae_config_error(cf, value, "'trusted-proxies': bad network '%s' (expected ADDR/BITS, e.g. 10.0.0.0/8 or 2001:db8::/32)", s);
    ++srv->trusted_proxies.size;
    return 0;
}

static int set_trusted_proxies(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (value->type == YAML_SCALAR_NODE)
        return add_trusted_proxy(cf, value);
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (add_trusted_proxy(cf, item) != 0)
            return -1;
    }
    return 0;
}

static int set_name(ae_config_t *cf, yaml_node_t *value, char **slot)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0')
        return ae_config_error(cf, value, "'%s' expected a user or group name", cf->key);
    free(*slot);
    *slot = strdup(s);
    return 0;
}

static int set_user(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (set_name(cf, value, &cf->srv->user) != 0)
        return -1;
    if (getpwnam(cf->srv->user) == NULL)
        return ae_config_error(cf, value, "'user': no such user '%s'", cf->srv->user);
    return 0;
}

static int set_group(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (set_name(cf, value, &cf->srv->group) != 0)
        return -1;
    if (getgrnam(cf->srv->group) == NULL)
        return ae_config_error(cf, value, "'group': no such group '%s'", cf->srv->group);
    return 0;
}

static unsigned cpu_count(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)(cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1;
}

static int set_threads(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    uint64_t n;
    if (value->type == YAML_SCALAR_NODE && strcmp((char *)value->data.scalar.value, "auto") == 0) {
        cf->srv->num_threads = cpu_count();
        return 0;
    }
    if (value->type != YAML_SCALAR_NODE)
        return ae_config_error(cf, value, "'threads' expected a number or 'auto'");
    if (ae_config_uint(cf, value, 1, MAX_THREADS, &n) != 0)
        return -1;
    cf->srv->num_threads = (unsigned)n;
    return 0;
}

static int set_shutdown_timeout(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_duration_ms(cf, value, &cf->srv->shutdown_timeout_ms);
}

/* Lower-cases a host name and drops a trailing dot; NULL if it is not a plain DNS name. */
static char *normalize_host(const char *s)
{
    size_t len = strlen(s);
    if (len != 0 && s[len - 1] == '.')
        --len;
    if (len == 0 || len > 253)
        return NULL;
    char *host = malloc(len + 1);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '.' || c == '_')) {
            free(host);
            return NULL;
        }
        host[i] = (char)tolower(c);
    }
    host[len] = '\0';
    return host;
}

static int check_unique_host(ae_config_t *cf, yaml_node_t *node, const char *host)
{
    ae_site_t *found = ae_server_find_site(cf->srv, host, strlen(host));
    if (found != NULL)
        return ae_config_error(cf, node, "duplicate site host '%s' (already used by the site at line %u)", host, found->line);
    return 0;
}

static char *site_host_value(ae_config_t *cf, yaml_node_t *value)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return NULL;
    char *host = normalize_host(s);
    if (host == NULL) {
        ae_config_error(cf, value, "'%s': bad host name '%s' (expected a DNS name without port, e.g. www.example.com)", cf->key, s);
        return NULL;
    }
    if (check_unique_host(cf, value, host) != 0) {
        free(host);
        return NULL;
    }
    return host;
}

static int set_site_host(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return (site->host = site_host_value(cf, value)) != NULL ? 0 : -1;
}

static int add_alias(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    char *alias = site_host_value(cf, value);
    if (alias == NULL)
        return -1;
    h2o_vector_reserve(NULL, &site->aliases, site->aliases.size + 1);
    site->aliases.entries[site->aliases.size++] = alias;
    return 0;
}

static int set_site_aliases(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (value->type == YAML_SCALAR_NODE)
        return add_alias(cf, value, site);
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (add_alias(cf, item, site) != 0)
            return -1;
    }
    return 0;
}

static int add_site(ae_config_t *cf, yaml_node_t *map)
{
    ae_server_t *srv = cf->srv;
    ae_site_t *site = calloc(1, sizeof(*site));
    site->line = ae_config_line(map);
    site->index = srv->sites.size;
    h2o_vector_reserve(NULL, &srv->sites, srv->sites.size + 1);
    srv->sites.entries[srv->sites.size++] = site;

    const char *outer_key = cf->key;
    cf->key = NULL;
    int ret = ae_config_walk(cf, map, AE_SCOPE_SITE, site);
    cf->key = outer_key;
    if (ret != 0)
        return -1;
    if (site->host == NULL)
        return ae_config_error(cf, map, "site has no 'host' (expected e.g. host: www.example.com)");
    return 0;
}

static int set_sites(ae_config_t *cf, yaml_node_t *value, ae_site_t *unused)
{
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (add_site(cf, item) != 0)
            return -1;
    }
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    size_t site_listeners = 0;
    for (size_t i = 0; i != srv->listen.size; ++i)
        site_listeners += srv->listen.entries[i].hosts == NULL;
    if (site_listeners == 0)
        return ae_config_error_at(cf, 1, "no 'listen' address (expected e.g. listen: [\"127.0.0.1:8080\"])");
    if (srv->sites.size == 0)
        return ae_config_error_at(cf, 1, "no 'sites' (expected at least one site with 'host' and 'origin')");
    if (srv->num_threads == 0)
        srv->num_threads = cpu_count();
    return 0;
}

static const ae_directive_t directives[] = {
    {"listen", AE_SCOPE_GLOBAL, set_listen},
    {"threads", AE_SCOPE_GLOBAL, set_threads},
    {"shutdown-timeout", AE_SCOPE_GLOBAL, set_shutdown_timeout},
    {"sites", AE_SCOPE_GLOBAL, set_sites},
    {"trusted-proxies", AE_SCOPE_GLOBAL, set_trusted_proxies},
    {"user", AE_SCOPE_GLOBAL, set_user},
    {"group", AE_SCOPE_GLOBAL, set_group},
    {"host", AE_SCOPE_SITE, set_site_host},
    {"aliases", AE_SCOPE_SITE, set_site_aliases},
    {NULL},
};

ae_module_t ae_core_module = {
    .name = "core",
    .directives = directives,
    .on_config_done = on_config_done,
};
