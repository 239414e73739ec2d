/*
 * The single h2o handler of the server: picks the site by the request's Host and offers the request
 * to that site's handlers in module order. A request without Host gets 400, one for a host no site
 * serves gets 421, so anyedge is never an open proxy. Also counts the request as in flight on its
 * worker until h2o frees it, which is what graceful shutdown waits for (and then tells the limits
 * whether its client left before the response began), and leaves the chosen site
 * in the request for the loggers that modules attach to the router's path (srv->site_pathconf).
 *
 * Called on worker threads, for every request.
 */
#include <ctype.h>
#include <stdio.h>
#include "server/limits.h"
#include "server/server.h"

#define MAX_HOST_LEN 253
#define SITE_VALUE "anyedge.site"

typedef struct {
    h2o_handler_t super;
    ae_server_t *server;
} router_t;

typedef struct {
    ae_thread_t *thread;
    h2o_req_t *req;
} in_flight_t;

static void on_request_disposed(void *_in_flight)
{
    in_flight_t *in_flight = _in_flight;
    ae_limits_request_done(in_flight->req);
    ae_thread_release(in_flight->thread);
}

static void track_in_flight(h2o_req_t *req)
{
    ae_thread_t *thread = ae_thread_of(req->conn->ctx);
    in_flight_t *in_flight = h2o_mem_alloc_shared(&req->pool, sizeof(*in_flight), on_request_disposed);
    *in_flight = (in_flight_t){thread, req};
    ae_thread_hold(thread);
    if (thread->shutting_down)
        req->http1_is_persistent = 0;
}

/* Lower-cases the host part of an authority (no port, no trailing dot) into buf; returns its length or 0. */
static size_t host_of_authority(h2o_iovec_t authority, char *buf)
{
    size_t len = authority.len;
    const char *colon = memrchr(authority.base, ':', authority.len);
    if (authority.len != 0 && authority.base[0] == '[')
        return 0; /* an IP literal names no site */
    if (colon != NULL)
        len = colon - authority.base;
    if (len != 0 && authority.base[len - 1] == '.')
        --len;
    if (len == 0 || len > MAX_HOST_LEN)
        return 0;
    for (size_t i = 0; i != len; ++i)
        buf[i] = (char)tolower((unsigned char)authority.base[i]);
    return len;
}

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    router_t *self = (router_t *)_self;
    char host[MAX_HOST_LEN];
    size_t host_len;
    ae_site_t *site;

    track_in_flight(req);
    if (ae_limits_check_request(req) != 0)
        return 0;

    /* h2o substitutes its own default authority when the request had none */
    if (req->authority.base == req->hostconf->authority.hostport.base) {
        h2o_send_error_400(req, "Bad Request", "anyedge: the request has no Host header\n", 0);
        return 0;
    }
    if ((host_len = host_of_authority(req->authority, host)) == 0 ||
        (site = ae_server_find_site(self->server, host, host_len)) == NULL) {
        char body[MAX_HOST_LEN + 64];
        snprintf(body, sizeof(body), "anyedge: no site is configured for host '%.*s'\n",
                 (int)(req->authority.len < MAX_HOST_LEN ? req->authority.len : MAX_HOST_LEN), req->authority.base);
        h2o_send_error_generic(req, 421, "Misdirected Request", h2o_strdup(&req->pool, body, SIZE_MAX).base, 0);
        return 0;
    }
    ae_request_set_value(req, H2O_STRLIT(SITE_VALUE), site);
    for (size_t i = 0; i != site->handlers.size; ++i) {
        h2o_handler_t *handler = site->handlers.entries[i];
        if (handler->on_req(handler, req) == 0)
            return 0;
    }
    h2o_send_error_404(req, "Not Found", "anyedge: no handler for this request\n", 0);
    return 0;
}

void ae_router_register(ae_server_t *srv)
{
    h2o_hostconf_t *hostconf = h2o_config_register_host(&srv->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    router_t *router = (router_t *)h2o_create_handler(pathconf, sizeof(*router));
    router->super.on_req = on_req;
    router->server = srv;
    srv->site_hosts[0] = hostconf;
    srv->site_pathconf = pathconf;
}

ae_site_t *ae_request_site(h2o_req_t *req)
{
    return ae_request_value(req, H2O_STRLIT(SITE_VALUE));
}
