/*
 * The list of modules, in the order their handlers see a request and their hooks run.
 * The only file in server/ that names a module. Main thread, at start-up.
 */
#include "server/server.h"

extern ae_module_t ae_core_module, ae_limits_module, ae_geo_module, ae_tls_module, ae_cache_module, ae_purge_module, ae_origin_module, ae_admin_module, ae_health_module,
    ae_metrics_module, ae_accesslog_module;

ae_module_t *ae_modules[] = {&ae_core_module, &ae_limits_module, &ae_geo_module, &ae_tls_module, &ae_purge_module, &ae_cache_module, &ae_origin_module, &ae_admin_module, &ae_health_module,
                             &ae_metrics_module, &ae_accesslog_module, NULL};

void ae_modules_register(void)
{
    for (size_t i = 0; ae_modules[i] != NULL; ++i)
        ae_modules[i]->index = i;
}
