/*
 * The origin module: the per-site keys `origin` (an http:// or https:// URL, resolved once at
 * start-up), `origin-ca-file`, `origin-server-name` and `origin-tls-verify` for an https:// origin, and the three timeouts, and each worker thread's links to the origins (a keep-alive connection pool and
 * timers per site). The pool and timers belong to one worker's event loop and are used only there.
 * Also the last handler of every site, which passes whatever no other module answered to the origin,
 * and the life of the exchange counters (stats.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "modules/origin/origin.h"
#include "modules/origin/stats.h"
#include "server/config.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_FIRST_BYTE_TIMEOUT_MS 30000
#define DEFAULT_IDLE_TIMEOUT_MS 30000
#define POOL_CAPACITY 1024
#define POOL_IDLE_MS 2000

static ae_origin_conf_t *site_conf(ae_site_t *site)
{
    ae_origin_conf_t **slot = (ae_origin_conf_t **)&site->conf[ae_origin_module.index];
    if (*slot == NULL) {
        *slot = calloc(1, sizeof(**slot));
        (*slot)->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
        (*slot)->first_byte_timeout_ms = DEFAULT_FIRST_BYTE_TIMEOUT_MS;
        (*slot)->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
        (*slot)->tls_verify = 1;
    }
    return *slot;
}

static int resolve(ae_config_t *cf, yaml_node_t *node, h2o_url_t *url, ae_origin_conf_t *conf)
{
    char host[256], port[8];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    h2o_iovec_t h = url->host;

    if (h.len >= 2 && h.base[0] == '[') {
        ++h.base;
        h.len -= 2;
    }
    if (h.len == 0 || h.len >= sizeof(host))
        return ae_config_error(cf, node, "'origin': bad host in '%s'", conf->url);
    memcpy(host, h.base, h.len);
    host[h.len] = '\0';
    free(conf->host);
    conf->host = strdup(host);
    snprintf(port, sizeof(port), "%u", (unsigned)h2o_url_get_port(url));
    int err = getaddrinfo(host, port, &hints, &res);
    if (err != 0)
        return ae_config_error(cf, node, "'origin': cannot resolve '%s': %s", host, gai_strerror(err));
    memcpy(&conf->addr, res->ai_addr, res->ai_addrlen);
    conf->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int set_origin(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ae_origin_conf_t *conf = site_conf(site);
    const char *s = ae_config_scalar(cf, value);
    h2o_url_t url;

    if (s == NULL)
        return -1;
    if (h2o_url_parse(s, SIZE_MAX, &url) != 0)
        return ae_config_error(cf, value, "'origin': bad URL '%s' (expected http://HOST[:PORT] or https://HOST[:PORT])", s);
    if (url.scheme != &H2O_URL_SCHEME_HTTP && url.scheme != &H2O_URL_SCHEME_HTTPS)
        return ae_config_error(cf, value, "'origin': unsupported scheme in '%s' (expected http://HOST[:PORT] or https://HOST[:PORT])", s);
    if (!(url.path.len == 1 && url.path.base[0] == '/'))
        return ae_config_error(cf, value, "'origin': '%s' has a path (expected http(s)://HOST[:PORT]; requests keep their own path)", s);
    conf->tls = url.scheme == &H2O_URL_SCHEME_HTTPS;
    free(conf->url);
    conf->url = strdup(s);
    return resolve(cf, value, &url, conf);
}

static int set_connect_timeout(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_duration_ms(cf, value, &site_conf(site)->connect_timeout_ms);
}

static int set_first_byte_timeout(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_duration_ms(cf, value, &site_conf(site)->first_byte_timeout_ms);
}

static int set_idle_timeout(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_duration_ms(cf, value, &site_conf(site)->idle_timeout_ms);
}

static int set_ca_file(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ae_origin_conf_t *conf = site_conf(site);
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    free(conf->ca_file);
    conf->ca_file = strdup(s);
    conf->ca_file_line = ae_config_line(value);
    return 0;
}

static int set_server_name(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ae_origin_conf_t *conf = site_conf(site);
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0' || strpbrk(s, " /:") != NULL)
        return ae_config_error(cf, value, "'origin-server-name': bad name '%s' (expected a DNS name, e.g. origin.example.com)", s);
    free(conf->server_name);
    conf->server_name = strdup(s);
    return 0;
}

static int set_tls_verify(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_bool(cf, value, &site_conf(site)->tls_verify);
}

/* The client context of an https:// origin: TLS 1.2 or later, the certificate verified (chain and
 * name, by OpenSSL during the handshake) unless tls_verify is off. */
static int build_client_ctx(ae_config_t *cf, ae_site_t *site, ae_origin_conf_t *conf)
{
    if (conf->server_name == NULL)
        conf->server_name = strdup(conf->host);
    SSL_CTX *ctx = conf->ssl_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (!conf->tls_verify)
        return 0;
    if (conf->ca_file != NULL) {
        FILE *fp = fopen(conf->ca_file, "r");
        if (fp == NULL)
            return ae_config_error_at(cf, conf->ca_file_line, "'origin-ca-file': cannot read '%s': %s", conf->ca_file, strerror(errno));
        fclose(fp);
        if (SSL_CTX_load_verify_locations(ctx, conf->ca_file, NULL) != 1) {
            ERR_clear_error();
            return ae_config_error_at(cf, conf->ca_file_line, "'origin-ca-file': '%s' holds no PEM certificate", conf->ca_file);
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ERR_clear_error();
        return ae_config_error_at(cf, site->line, "site '%s': cannot load the system's CA certificates", site->host);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    struct in6_addr ip;
    if (inet_pton(AF_INET, conf->server_name, &ip) == 1 || inet_pton(AF_INET6, conf->server_name, &ip) == 1)
        X509_VERIFY_PARAM_set1_ip_asc(param, conf->server_name);
    else
        X509_VERIFY_PARAM_set1_host(param, conf->server_name, 0);
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_site_t *site = srv->sites.entries[i];
        ae_origin_conf_t *conf = site->conf[ae_origin_module.index];
        if (conf == NULL || conf->url == NULL)
            return ae_config_error_at(cf, site->line, "site '%s' has no 'origin' (expected e.g. origin: http://127.0.0.1:9000)", site->host);
        if (conf->connect_timeout_ms == 0 || conf->first_byte_timeout_ms == 0 || conf->idle_timeout_ms == 0)
            return ae_config_error_at(cf, site->line, "site '%s': origin timeouts must be greater than zero", site->host);
        if (!conf->tls && conf->ca_file != NULL)
            return ae_config_error_at(cf, conf->ca_file_line, "site '%s': 'origin-ca-file' needs an https:// origin", site->host);
        if (!conf->tls && conf->server_name != NULL)
            return ae_config_error_at(cf, site->line, "site '%s': 'origin-server-name' needs an https:// origin", site->host);
        if (conf->tls && build_client_ctx(cf, site, conf) != 0)
            return -1;
    }
    return 0;
}

/* The last handler of every site: whatever no other module answered goes to the origin as it is. */
typedef struct {
    h2o_handler_t super;
    ae_site_t *site;
} pass_handler_t;

static int on_pass_req(h2o_handler_t *_self, h2o_req_t *req)
{
    pass_handler_t *self = (pass_handler_t *)_self;
    ae_origin_relay(req, self->site, NULL, NULL);
    return 0;
}

static int on_init(ae_server_t *srv)
{
    ae_origin_stats_init(srv);
    for (size_t i = 0; i != srv->sites.size; ++i) {
        pass_handler_t *handler = (pass_handler_t *)ae_site_add_handler(srv->sites.entries[i], sizeof(*handler));
        handler->super.on_req = on_pass_req;
        handler->site = srv->sites.entries[i];
    }
    return 0;
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *t)
{
    ae_origin_link_t *links = calloc(srv->sites.size, sizeof(*links));
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_origin_link_t *link = &links[i];
        const ae_origin_conf_t *conf = srv->sites.entries[i]->conf[ae_origin_module.index];
        link->thread = t;
        link->conf = conf;
        h2o_timeout_init(t->loop, &link->connect_timeout, conf->connect_timeout_ms);
        h2o_timeout_init(t->loop, &link->first_byte_timeout, conf->first_byte_timeout_ms);
        h2o_timeout_init(t->loop, &link->idle_timeout, conf->idle_timeout_ms);
        h2o_socketpool_init_by_address(&link->pool, (struct sockaddr *)&conf->addr, conf->addrlen, conf->tls, POOL_CAPACITY);
        h2o_socketpool_set_timeout(&link->pool, t->loop, POOL_IDLE_MS);
        link->stats = ae_origin_thread_stats(t, srv->sites.entries[i]);
    }
    t->module_data[ae_origin_module.index] = links;
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *t)
{
    ae_origin_link_t *links = t->module_data[ae_origin_module.index];
    if (t->busy != 0)
        return; /* exchanges still use the links; the process is about to exit */
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_origin_link_t *link = &links[i];
        h2o_socketpool_dispose(&link->pool);
        h2o_timeout_dispose(t->loop, &link->connect_timeout);
        h2o_timeout_dispose(t->loop, &link->first_byte_timeout);
        h2o_timeout_dispose(t->loop, &link->idle_timeout);
    }
    free(links);
    t->module_data[ae_origin_module.index] = NULL;
}

static void on_dispose(ae_server_t *srv)
{
    ae_origin_stats_free();
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_origin_conf_t *conf = srv->sites.entries[i]->conf[ae_origin_module.index];
        if (conf != NULL) {
            free(conf->url);
            free(conf->host);
            free(conf->server_name);
            free(conf->ca_file);
            if (conf->ssl_ctx != NULL)
                SSL_CTX_free(conf->ssl_ctx);
            free(conf);
        }
    }
}

ae_origin_link_t *ae_origin_link(ae_thread_t *thread, ae_site_t *site)
{
    ae_origin_link_t *links = thread->module_data[ae_origin_module.index];
    return &links[site->index];
}

static const ae_directive_t directives[] = {
    {"origin", AE_SCOPE_SITE, set_origin},
    {"origin-ca-file", AE_SCOPE_SITE, set_ca_file},
    {"origin-server-name", AE_SCOPE_SITE, set_server_name},
    {"origin-tls-verify", AE_SCOPE_SITE, set_tls_verify},
    {"origin-connect-timeout", AE_SCOPE_SITE, set_connect_timeout},
    {"origin-first-byte-timeout", AE_SCOPE_SITE, set_first_byte_timeout},
    {"origin-idle-timeout", AE_SCOPE_SITE, set_idle_timeout},
    {NULL},
};

ae_module_t ae_origin_module = {
    .name = "origin",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_dispose = on_dispose,
};
