/*
 * The server object's life: initialisation with defaults, loading the config through the modules'
 * directives, site lookup by host, and disposal. Site lookup is called by every worker thread on
 * every request; everything else runs on the main thread before workers start or after they stop.
 */
#include <stdlib.h>
#include <string.h>
#include "server/config.h"

#define DEFAULT_SHUTDOWN_TIMEOUT_MS 10000

void ae_server_init(ae_server_t *srv)
{
    memset(srv, 0, sizeof(*srv));
    srv->shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
    h2o_config_init(&srv->h2o);
    srv->h2o.server_name = h2o_iovec_init(H2O_STRLIT("anyedge"));
    ae_modules_register();
}

int ae_server_load_config(ae_server_t *srv, const char *path, char *err, size_t err_size)
{
    srv->config_path = path;
    return ae_config_load(srv, path, err, err_size);
}

static int host_is(const char *name, const char *host, size_t len)
{
    return strncmp(name, host, len) == 0 && name[len] == '\0';
}

int ae_site_has_host(const ae_site_t *site, const char *host, size_t len)
{
    if (site->host != NULL && host_is(site->host, host, len))
        return 1;
    for (size_t j = 0; j != site->aliases.size; ++j)
        if (host_is(site->aliases.entries[j], host, len))
            return 1;
    return 0;
}

ae_site_t *ae_server_find_site(ae_server_t *srv, const char *host, size_t len)
{
    for (size_t i = 0; i != srv->sites.size; ++i)
        if (ae_site_has_host(srv->sites.entries[i], host, len))
            return srv->sites.entries[i];
    return NULL;
}

h2o_handler_t *ae_site_add_handler(ae_site_t *site, size_t size)
{
    h2o_handler_t *handler = calloc(1, size);
    h2o_vector_reserve(NULL, &site->handlers, site->handlers.size + 1);
    site->handlers.entries[site->handlers.size++] = handler;
    return handler;
}

void ae_server_dispose(ae_server_t *srv)
{
    for (ae_module_t **m = ae_modules; *m != NULL; ++m)
        if ((*m)->on_dispose != NULL)
            (*m)->on_dispose(srv);
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_site_t *site = srv->sites.entries[i];
        for (size_t j = 0; j != site->handlers.size; ++j)
            free(site->handlers.entries[j]);
        free(site->handlers.entries);
        for (size_t j = 0; j != site->aliases.size; ++j)
            free(site->aliases.entries[j]);
        free(site->aliases.entries);
        free(site->host);
        free(site);
    }
    free(srv->sites.entries);
    for (size_t i = 0; i != srv->listen.size; ++i)
        free(srv->listen.entries[i].text);
    free(srv->listen.entries);
    free(srv->trusted_proxies.entries);
    free(srv->user);
    free(srv->group);
    h2o_config_dispose(&srv->h2o);
}
