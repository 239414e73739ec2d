/*
 * The origin module's private side of its counters (see ae_origin_stats_t in origin.h): the
 * per-thread blocks, allocated by the module's on_init and freed by its on_shutdown/on_dispose.
 */
#ifndef ANYEDGE_ORIGIN_STATS_H
#define ANYEDGE_ORIGIN_STATS_H

#include "modules/origin/origin.h"

void ae_origin_stats_init(ae_server_t *srv);
void ae_origin_stats_free(void);
/* The block a worker thread writes for a site. */
ae_origin_stats_t *ae_origin_thread_stats(ae_thread_t *thread, ae_site_t *site);

#endif
