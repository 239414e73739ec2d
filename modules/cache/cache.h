/*
 * The cache module's shared pieces: its settings and the per-thread store reader.
 */
#ifndef ANYEDGE_CACHE_H
#define ANYEDGE_CACHE_H

#include "modules/cache/store.h"
#include "server/server.h"

ae_store_reader_t *ae_cache_reader(ae_thread_t *thread);
/* Larger bodies are passed through uncached: storing one would evict most of the store. */
uint64_t ae_cache_max_object_size(void);
/* handler.c: adds the cache's handler to a site */
void ae_cache_attach_handler(ae_site_t *site);

#endif
