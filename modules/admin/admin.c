/*
 * The admin module (see admin.h): the `admin.listen` key and the dispatch of admin requests by path.
 * Config and path registration on the main thread before workers start; requests on worker threads,
 * which only read the path table.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/admin/admin.h"
#include "server/config.h"

#define MAX_PATHS 16

typedef struct admin_path {
    const char *path;
    ae_admin_handler_cb cb;
    void *data;
} admin_path_t;

static admin_path_t paths[MAX_PATHS];
static size_t num_paths;
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

void ae_admin_add_path(const char *path, ae_admin_handler_cb cb, void *data)
{
    if (num_paths != MAX_PATHS)
        paths[num_paths++] = (admin_path_t){path, cb, data};
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
}

static const ae_directive_t directives[] = {
    {"admin.listen", AE_SCOPE_GLOBAL, set_listen},
    {NULL},
};

ae_module_t ae_admin_module = {
    .name = "admin",
    .directives = directives,
    .on_init = on_init,
    .on_dispose = on_dispose,
};
