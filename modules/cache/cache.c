/*
 * The cache module: its keys (`cache.path`, `cache.size`), the store's life (opened before the
 * workers start, flushed and closed after they stop), the writer thread, one store reader per worker
 * and one cache handler per site.
 *
 * Hooks run on the main thread, except the thread hooks, which run on each worker.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/cache/cache.h"
#include "modules/cache/writer.h"
#include "server/config.h"
#include "server/log.h"

#define DEFAULT_PATH "/var/cache/anyedge"
#define DEFAULT_SIZE (1ull << 30)
#define MIN_SIZE (1ull << 20)

ae_module_t ae_cache_module;

static struct {
    char *path;
    uint64_t size;
} conf = {NULL, DEFAULT_SIZE};

static int set_path(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0')
        return ae_config_error(cf, value, "'cache.path' must not be empty");
    free(conf.path);
    conf.path = strdup(s);
    return 0;
}

static int set_size(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    if (ae_config_size(cf, value, &conf.size) != 0)
        return -1;
    if (conf.size < MIN_SIZE)
        return ae_config_error(cf, value, "'cache.size' must be at least 1M");
    return 0;
}

static int on_init(ae_server_t *srv)
{
    char err[512];
    const char *path = conf.path != NULL ? conf.path : DEFAULT_PATH;
    if (ae_store_open(path, conf.size, err, sizeof(err)) != 0) {
        ae_log_error("%s", err);
        return -1;
    }
    ae_writer_start();
    for (size_t i = 0; i != srv->sites.size; ++i)
        ae_cache_attach_handler(srv->sites.entries[i]);
    return 0;
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *t)
{
    t->module_data[ae_cache_module.index] = calloc(1, sizeof(ae_store_reader_t));
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *t)
{
    ae_store_reader_t *reader = t->module_data[ae_cache_module.index];
    if (t->busy != 0)
        return; /* hits still hold transactions; the process is about to exit */
    ae_store_reader_dispose(reader);
    free(reader);
    t->module_data[ae_cache_module.index] = NULL;
}

static void on_shutdown(ae_server_t *srv)
{
    ae_writer_stop();
    ae_store_close();
}

static void on_dispose(ae_server_t *srv)
{
    free(conf.path);
    conf.path = NULL;
}

uint64_t ae_cache_max_object_size(void)
{
    return conf.size / 4;
}

ae_store_reader_t *ae_cache_reader(ae_thread_t *thread)
{
    return thread->module_data[ae_cache_module.index];
}

static const ae_directive_t directives[] = {
    {"cache.path", AE_SCOPE_GLOBAL, set_path},
    {"cache.size", AE_SCOPE_GLOBAL, set_size},
    {NULL},
};

ae_module_t ae_cache_module = {
    .name = "cache",
    .directives = directives,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_shutdown = on_shutdown,
    .on_dispose = on_dispose,
};
