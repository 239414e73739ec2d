/*
 * The cache module: its keys (`cache.path`, `cache.size`, and each site's `cache:` settings), the
 * store's life (opened before the workers start, flushed and closed after they stop), the writer
 * thread, each worker's store reader and fill receiver, and one cache handler per site.
 *
 * Hooks run on the main thread, except the thread hooks, which run on each worker.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/cache/cache.h"
#include "modules/cache/fill.h"
#include "modules/cache/writer.h"
#include "server/config.h"
#include "server/log.h"

#define DEFAULT_PATH "/var/cache/anyedge"
#define DEFAULT_SIZE (1ull << 30)
#define DEFAULT_MAX_OBJECT_SIZE (64ull << 20)
#define ACCESS_FLUSH_MS 1000
#define MIN_SIZE (1ull << 20)

static const ae_command_t commands[] = {
    {"cache", "cache stats|list|verify, cache get KEY   read the store (also while the daemon runs)", ae_cache_run_command},
    {NULL},
};

ae_module_t ae_cache_module;

static struct {
    char *path;
    uint64_t size, max_object_size;
} conf = {NULL, DEFAULT_SIZE, DEFAULT_MAX_OBJECT_SIZE};

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

/* ---- per-site settings ---- */

static ae_cache_site_conf_t *site_conf(ae_site_t *site)
{
    ae_cache_site_conf_t **slot = (ae_cache_site_conf_t **)&site->conf[ae_cache_module.index];
    if (*slot == NULL) {
        *slot = calloc(1, sizeof(**slot));
        (*slot)->policy = ae_policy_conf_default;
    }
    return *slot;
}

const ae_cache_site_conf_t *ae_cache_site_conf(ae_site_t *site)
{
    return site->conf[ae_cache_module.index];
}

static int set_seconds(ae_config_t *cf, yaml_node_t *value, int64_t *out)
{
    uint64_t ms;
    if (ae_config_duration_ms(cf, value, &ms) != 0)
        return -1;
    *out = (int64_t)(ms / 1000);
    return 0;
}

static int set_ignore_client_no_cache(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_bool(cf, value, &site_conf(site)->policy.ignore_client_no_cache);
}

static int set_surrogate_control(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_bool(cf, value, &site_conf(site)->policy.honour_surrogate_control);
}

static int set_content_type_check(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_bool(cf, value, &site_conf(site)->policy.content_type_check);
}

static int set_set_cookie(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const char *const choices[] = {"pass", "strip", NULL};
    int choice;
    if (ae_config_choice(cf, value, choices, &choice) != 0)
        return -1;
    site_conf(site)->policy.strip_set_cookie = choice == 1;
    return 0;
}

static int set_heuristic_percent(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    uint64_t percent;
    if (ae_config_uint(cf, value, 0, 100, &percent) != 0)
        return -1;
    site_conf(site)->policy.heuristic_percent = (unsigned)percent;
    return 0;
}

static int set_heuristic_max(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_seconds(cf, value, &site_conf(site)->policy.heuristic_max);
}

static int set_grace(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_seconds(cf, value, &site_conf(site)->grace);
}

static int set_negative_ttl(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    ae_policy_conf_t *policy = &site_conf(site)->policy;
    if (ae_config_expect(cf, value, YAML_MAPPING_NODE) != 0)
        return -1;
    for (yaml_node_pair_t *pair = value->data.mapping.pairs.start; pair < value->data.mapping.pairs.top; ++pair) {
        yaml_node_t *k = yaml_document_get_node(&cf->doc, pair->key), *v = yaml_document_get_node(&cf->doc, pair->value);
        const char *status = ae_config_scalar(cf, k);
        int64_t *slot = status == NULL                ? NULL
                        : strcmp(status, "404") == 0  ? &policy->negative_ttl_404
                        : strcmp(status, "410") == 0  ? &policy->negative_ttl_410
                        : strcmp(status, "5xx") == 0  ? &policy->negative_ttl_5xx
                                                      : NULL;
        if (slot == NULL)
            return ae_config_error(cf, k, "'%s': unknown status '%s' (expected 404, 410 or 5xx)", cf->key, status != NULL ? status : "");
        if (set_seconds(cf, v, slot) != 0)
            return -1;
    }
    return 0;
}

static int set_key_query(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const char *const choices[] = {"keep", "sort", "ignore", NULL};
    int choice;
    if (ae_config_choice(cf, value, choices, &choice) != 0)
        return -1;
    site_conf(site)->key.query = (ae_key_query_t)choice;
    return 0;
}

/* A list of names (or one name); lower-cased when `lower`. */
static int set_names(ae_config_t *cf, yaml_node_t *value, void *_vector, int lower)
{
    H2O_VECTOR(h2o_iovec_t) *vector = _vector;
    if (value->type == YAML_SCALAR_NODE) {
        h2o_iovec_t name = h2o_strdup(NULL, (const char *)value->data.scalar.value, SIZE_MAX);
        if (name.len == 0)
            return ae_config_error(cf, value, "'%s': empty name", cf->key);
        if (lower)
            h2o_strtolower(name.base, name.len);
        h2o_vector_reserve(NULL, vector, vector->size + 1);
        vector->entries[vector->size++] = name;
        return 0;
    }
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (ae_config_expect(cf, item, YAML_SCALAR_NODE) != 0 || set_names(cf, item, vector, lower) != 0)
            return -1;
    }
    return 0;
}

static int set_key_include_params(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_names(cf, value, &site_conf(site)->key.include_params, 0);
}

static int set_key_exclude_params(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_names(cf, value, &site_conf(site)->key.exclude_params, 0);
}

static int set_key_headers(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_names(cf, value, &site_conf(site)->key.headers, 1);
}

static int set_key_cookies(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_names(cf, value, &site_conf(site)->key.cookies, 0);
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    for (size_t i = 0; i != srv->sites.size; ++i)
        site_conf(srv->sites.entries[i]);
    return 0;
}

/* ---- life ---- */

static int set_max_object_size(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return ae_config_size(cf, value, &conf.max_object_size);
}

const char *ae_cache_store_path(void)
{
    return conf.path != NULL ? conf.path : DEFAULT_PATH;
}

static int on_init(ae_server_t *srv)
{
    char err[512];
    const char *path = ae_cache_store_path();
    if (ae_store_open(path, conf.size, 0, err, sizeof(err)) != 0) {
        ae_log_error("%s", err);
        return -1;
    }
    ae_writer_start();
    for (size_t i = 0; i != srv->sites.size; ++i)
        ae_cache_attach_handler(srv->sites.entries[i]);
    return 0;
}

/* ---- access notes for eviction ---- */

static void flush_accesses(ae_cache_thread_t *ct)
{
    if (ct->accessed_count != 0)
        ae_writer_submit_access((const uint8_t(*)[AE_STORE_HASH_LEN])ct->accessed, ct->accessed_count);
    ct->accessed_count = 0;
}

static void on_flush_timeout(h2o_timeout_entry_t *entry)
{
    flush_accesses(H2O_STRUCT_FROM_MEMBER(ae_cache_thread_t, flush_entry, entry));
}

void ae_cache_note_access(ae_cache_thread_t *ct, const uint8_t hash[AE_STORE_HASH_LEN])
{
    if (ct->accessed_count != 0 && memcmp(ct->accessed[ct->accessed_count - 1], hash, AE_STORE_HASH_LEN) == 0)
        return; /* the same hot object again, before its use was recorded */
    memcpy(ct->accessed[ct->accessed_count++], hash, AE_STORE_HASH_LEN);
    if (ct->accessed_count == AE_ACCESS_BATCH)
        flush_accesses(ct);
    else if (!h2o_timeout_is_linked(&ct->flush_entry))
        h2o_timeout_link(ct->loop, &ct->flush_timeout, &ct->flush_entry);
}

static void on_thread_init(ae_server_t *srv, ae_thread_t *t)
{
    ae_cache_thread_t *ct = calloc(1, sizeof(*ct));
    t->module_data[ae_cache_module.index] = ct;
    ae_fill_thread_init(t, &ct->fill_receiver);
    ct->loop = t->loop;
    h2o_timeout_init(t->loop, &ct->flush_timeout, ACCESS_FLUSH_MS);
    ct->flush_entry.cb = on_flush_timeout;
}

static void on_thread_dispose(ae_server_t *srv, ae_thread_t *t)
{
    ae_cache_thread_t *ct = t->module_data[ae_cache_module.index];
    if (t->busy != 0)
        return; /* hits and fills are still under way; the process is about to exit */
    flush_accesses(ct);
    if (h2o_timeout_is_linked(&ct->flush_entry))
        h2o_timeout_unlink(&ct->flush_entry);
    h2o_timeout_dispose(t->loop, &ct->flush_timeout);
    ae_fill_thread_dispose(&ct->fill_receiver);
    ae_store_reader_dispose(&ct->reader);
    free(ct);
    t->module_data[ae_cache_module.index] = NULL;
}

static void on_shutdown(ae_server_t *srv)
{
    ae_writer_stop();
    ae_store_close();
}

static void free_names(void *_vector)
{
    H2O_VECTOR(h2o_iovec_t) *vector = _vector;
    for (size_t i = 0; i != vector->size; ++i)
        free(vector->entries[i].base);
    free(vector->entries);
}

static void on_dispose(ae_server_t *srv)
{
    free(conf.path);
    conf.path = NULL;
    conf.size = DEFAULT_SIZE;
    conf.max_object_size = DEFAULT_MAX_OBJECT_SIZE;
    for (size_t i = 0; i != srv->sites.size; ++i) {
        ae_cache_site_conf_t *sc = srv->sites.entries[i]->conf[ae_cache_module.index];
        if (sc == NULL)
            continue;
        free_names(&sc->key.include_params);
        free_names(&sc->key.exclude_params);
        free_names(&sc->key.headers);
        free_names(&sc->key.cookies);
        free(sc);
    }
}

uint64_t ae_cache_max_object_size(void)
{
    return conf.max_object_size < conf.size / 4 ? conf.max_object_size : conf.size / 4;
}

ae_cache_thread_t *ae_cache_thread(ae_thread_t *thread)
{
    return thread->module_data[ae_cache_module.index];
}

static const ae_directive_t directives[] = {
    {"cache.path", AE_SCOPE_GLOBAL, set_path},
    {"cache.size", AE_SCOPE_GLOBAL, set_size},
    {"cache.max-object-size", AE_SCOPE_GLOBAL, set_max_object_size},
    {"cache.ignore-client-no-cache", AE_SCOPE_SITE, set_ignore_client_no_cache},
    {"cache.set-cookie", AE_SCOPE_SITE, set_set_cookie},
    {"cache.content-type-check", AE_SCOPE_SITE, set_content_type_check},
    {"cache.surrogate-control", AE_SCOPE_SITE, set_surrogate_control},
    {"cache.heuristic-percent", AE_SCOPE_SITE, set_heuristic_percent},
    {"cache.heuristic-max", AE_SCOPE_SITE, set_heuristic_max},
    {"cache.negative-ttl", AE_SCOPE_SITE, set_negative_ttl},
    {"cache.grace", AE_SCOPE_SITE, set_grace},
    {"cache.key.query", AE_SCOPE_SITE, set_key_query},
    {"cache.key.include-params", AE_SCOPE_SITE, set_key_include_params},
    {"cache.key.exclude-params", AE_SCOPE_SITE, set_key_exclude_params},
    {"cache.key.headers", AE_SCOPE_SITE, set_key_headers},
    {"cache.key.cookies", AE_SCOPE_SITE, set_key_cookies},
    {NULL},
};

ae_module_t ae_cache_module = {
    .name = "cache",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_init = on_init,
    .on_thread_init = on_thread_init,
    .on_thread_dispose = on_thread_dispose,
    .on_shutdown = on_shutdown,
    .on_dispose = on_dispose,
    .commands = commands,
};
