/*
 * The cache module's shared pieces: a site's cache settings, and each worker thread's store reader
 * and fill receiver.
 */
#ifndef ANYEDGE_CACHE_H
#define ANYEDGE_CACHE_H

#include "modules/cache/key.h"
#include "modules/cache/policy.h"
#include "modules/cache/store.h"
#include "server/server.h"

/* The `cache:` mapping of a site. */
typedef struct ae_cache_site_conf {
    ae_policy_conf_t policy;
    ae_key_conf_t key;
    int64_t grace; /* seconds a stale copy may be served when the origin fails */
} ae_cache_site_conf_t;

#define AE_ACCESS_BATCH 256

typedef struct ae_cache_thread {
    ae_store_reader_t reader;
    h2o_multithread_receiver_t fill_receiver;
    /* the objects this thread served from the store, handed to the writer in batches */
    uint8_t accessed[AE_ACCESS_BATCH][AE_STORE_HASH_LEN];
    size_t accessed_count;
    h2o_loop_t *loop;
    h2o_timeout_t flush_timeout;
    h2o_timeout_entry_t flush_entry;
} ae_cache_thread_t;

const ae_cache_site_conf_t *ae_cache_site_conf(ae_site_t *site);
ae_cache_thread_t *ae_cache_thread(ae_thread_t *thread);
/* Larger bodies are passed through uncached: cache.max-object-size, and never more than a quarter
 * of the store (storing one would evict most of it). */
uint64_t ae_cache_max_object_size(void);
/* cache.c: notes that the object stored under this hash was just used (for eviction); no write on the hit path. */
void ae_cache_note_access(ae_cache_thread_t *ct, const uint8_t hash[AE_STORE_HASH_LEN]);

/* The store's directory, from the config. */
const char *ae_cache_store_path(void);
/* command.c: `anyedge cache stats|list|get|verify` */
int ae_cache_run_command(ae_server_t *srv, int argc, char **argv);
/* handler.c: adds the cache's handler to a site */
void ae_cache_attach_handler(ae_site_t *site);
/* handler.c: answers with the stored response for `key` when the origin failed and stale-if-error
 * or the site's grace allow it (origin_status 0: no response at all). Returns 0 if it answered. */
int ae_cache_serve_stale_on_error(h2o_req_t *req, ae_site_t *site, h2o_iovec_t key, int origin_status);
/* handler.c: sets X-Cache and Cache-Status (the latter from a printf format) */
void ae_cache_set_status(h2o_req_t *req, const char *x_cache, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
