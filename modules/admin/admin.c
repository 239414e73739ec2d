/*
 * The admin module (see admin.h): the `admin.listen` key and the dispatch of admin requests by path.
 * Config and path registration on the main thread before workers start; requests on worker threads,
 * which only read the path table.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "modules/admin/admin.h"
#include "server/config.h"

#define MAX_PATHS 16

#define MAX_NETWORKS 64

typedef struct admin_path {
    const char *path;
    int need_token;
    ae_admin_handler_cb cb;
    void *data;
} admin_path_t;

typedef struct network {
    int family;
    uint8_t addr[16];
    unsigned prefix_len;
} network_t;

static admin_path_t paths[MAX_PATHS];
static size_t num_paths;
static char *token;
static network_t networks[MAX_NETWORKS];
static size_t num_networks;
static int allow_set;
static ssize_t listen_index = -1; /* the admin entry in srv->listen */
static h2o_hostconf_t *admin_hosts[2];

int ae_admin_enabled(void)
{
    return listen_index != -1;
}

const ae_listen_addr_t *ae_admin_addr(ae_server_t *srv)
{
    return listen_index != -1 ? &srv->listen.entries[listen_index] : NULL;
}

void ae_admin_add_path(const char *path, int need_token, ae_admin_handler_cb cb, void *data)
{
    if (num_paths != MAX_PATHS)
        paths[num_paths++] = (admin_path_t){path, need_token, cb, data};
}

const char *ae_admin_token(void)
{
    return token;
}

static int parse_network(const char *s, network_t *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (len >= sizeof(addr))
        return -1;
    memcpy(addr, s, len);
    addr[len] = '\0';
    out->family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, addr, out->addr) != 1)
        return -1;
    unsigned max = out->family == AF_INET ? 32 : 128;
    char *end;
    out->prefix_len = slash != NULL ? (unsigned)strtoul(slash + 1, &end, 10) : max;
    if ((slash != NULL && (slash[1] == '\0' || *end != '\0')) || out->prefix_len > max)
        return -1;
    return 0;
}

static int network_contains(const network_t *net, int family, const uint8_t *addr)
{
    if (net->family != family)
        return 0;
    unsigned bits = net->prefix_len, bytes = bits / 8;
    if (memcmp(net->addr, addr, bytes) != 0)
        return 0;
    return bits % 8 == 0 || ((net->addr[bytes] ^ addr[bytes]) & (0xff << (8 - bits % 8))) == 0;
}

/* The client's address as (family, bytes); an IPv4-mapped IPv6 address counts as IPv4. */
static int client_allowed(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = ae_client_addr(req, &ss); /* IPv4-mapped addresses come back as IPv4 */
    const uint8_t *addr;
    int family = ss.ss_family;

    if (len == 0)
        return 0;
    if (family == AF_INET)
        addr = (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr;
    else if (family == AF_INET6)
        addr = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    else
        return 0;
    for (size_t i = 0; i != num_networks; ++i)
        if (network_contains(&networks[i], family, addr))
            return 1;
    return 0;
}

/* Compares without an early exit, so the time taken does not tell how much of a guess was right. */
static int token_matches(h2o_iovec_t given)
{
    size_t len = strlen(token);
    unsigned char diff = given.len != len;
    for (size_t i = 0; i != given.len; ++i)
        diff |= (unsigned char)given.base[i] ^ (unsigned char)token[i % (len != 0 ? len : 1)];
    return diff == 0;
}

int ae_admin_authorize(h2o_req_t *req, int need_token)
{
    if (!client_allowed(req)) {
        h2o_send_error_403(req, "Forbidden", "anyedge admin: this address is not in admin.allow\n", 0);
        return -1;
    }
    if (!need_token)
        return 0;
    if (token == NULL) {
        h2o_send_error_403(req, "Forbidden", "anyedge admin: no admin.token is configured, so this is off\n", 0);
        return -1;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    h2o_iovec_t value = i != -1 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    if (value.len < 7 || !h2o_lcstris(value.base, 7, H2O_STRLIT("bearer ")) ||
        !token_matches(h2o_iovec_init(value.base + 7, value.len - 7))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"anyedge\""));
        h2o_send_error_generic(req, 401, "Unauthorized", "anyedge admin: a valid bearer token is required\n",
                               H2O_SEND_ERROR_KEEP_HEADERS);
        return -1;
    }
    return 0;
}

void ae_admin_send_json(h2o_req_t *req, int status, const char *json, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t body = h2o_strdup(&req->pool, json, len);
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : "Service Unavailable";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    for (size_t i = 0; i != num_paths; ++i) {
        if (h2o_memis(path.base, path.len, paths[i].path, strlen(paths[i].path))) {
            if (ae_admin_authorize(req, paths[i].need_token) == 0)
                paths[i].cb(req, paths[i].data);
            return 0;
        }
    }
    h2o_send_error_404(req, "Not Found", "anyedge admin: no such path\n", 0);
    return 0;
}

static int set_listen(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ae_server_t *srv = cf->srv;
    ae_listen_addr_t addr;

    if (ae_config_listen_addr(cf, value, &addr) != 0)
        return -1;
    for (size_t i = 0; i != srv->listen.size; ++i) {
        if (srv->listen.entries[i].addrlen == addr.addrlen && memcmp(&srv->listen.entries[i].addr, &addr.addr, addr.addrlen) == 0) {
            free(addr.text);
            return ae_config_error(cf, value, "'admin.listen': '%s' is already a listen address", srv->listen.entries[i].text);
        }
    }
    addr.hosts = admin_hosts;
    h2o_vector_reserve(NULL, &srv->listen, srv->listen.size + 1);
    listen_index = srv->listen.size;
    srv->listen.entries[srv->listen.size++] = addr;
    return 0;
}

static int set_token(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (strlen(s) < 16 || strpbrk(s, " \t\r\n") != NULL)
        return ae_config_error(cf, value, "'admin.token': at least 16 characters, no spaces");
    free(token);
    token = strdup(s);
    return 0;
}

static int set_allow(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    allow_set = 1;
    num_networks = 0;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        const char *s = ae_config_scalar(cf, item);
        if (s == NULL)
            return -1;
        if (num_networks == MAX_NETWORKS)
            return ae_config_error(cf, item, "'admin.allow': at most %d networks", MAX_NETWORKS);
        if (parse_network(s, &networks[num_networks]) != 0)
            return ae_config_error(cf, item,
                                   "'admin.allow': bad network '%s' (expected e.g. 192.0.2.0/24, 2001:db8::/32 or an address)", s);
        ++num_networks;
    }
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    if (!allow_set) { /* loopback only */
        parse_network("127.0.0.0/8", &networks[0]);
        parse_network("::1/128", &networks[1]);
        num_networks = 2;
    }
    return 0;
}

static int on_init(ae_server_t *srv)
{
    if (listen_index == -1)
        return 0;
    admin_hosts[0] = h2o_config_register_host(&srv->h2o, h2o_iovec_init(H2O_STRLIT("anyedge-admin")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(admin_hosts[0], "/", 0);
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_req;
    return 0;
}

static void on_dispose(ae_server_t *srv)
{
    listen_index = -1;
    num_paths = 0;
    free(token);
    token = NULL;
    num_networks = 0;
    allow_set = 0;
}

static const ae_directive_t directives[] = {
    {"admin.listen", AE_SCOPE_GLOBAL, set_listen},
    {"admin.token", AE_SCOPE_GLOBAL, set_token},
    {"admin.allow", AE_SCOPE_GLOBAL, set_allow},
    {NULL},
};

ae_module_t ae_admin_module = {
    .name = "admin",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_dispose = on_dispose,
};
