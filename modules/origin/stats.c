/*
 * The counters of the exchanges with the origins (see ae_origin_stats_t in origin.h): one block per
 * worker thread, allocated before the workers start and freed after they stopped, so that a scrape
 * on any worker may read every thread's block at any time; each block starts on its own cache line
 * so that threads never write to the same line. fetch.c writes a thread's block from that thread.
 *
 * ae_origin_stats_init/free: main thread. ae_origin_get_stats: any thread.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/origin/stats.h"

#define CACHE_LINE 64

static ae_origin_stats_t **blocks; /* [thread][site] */
static size_t num_blocks;

static const char *result_names[] = {
    [AE_FETCH_OK] = "ok",
    [AE_FETCH_CONNECT_FAILED] = "connect_failed",
    [AE_FETCH_CONNECT_TIMEOUT] = "connect_timeout",
    [AE_FETCH_FIRST_BYTE_TIMEOUT] = "first_byte_timeout",
    [AE_FETCH_CLOSED_BEFORE_RESPONSE] = "closed_before_response",
    [AE_FETCH_MALFORMED] = "malformed",
    [AE_FETCH_IDLE_TIMEOUT] = "idle_timeout",
    [AE_FETCH_TRUNCATED] = "truncated",
};

const char *ae_fetch_result_name(ae_fetch_result_t result)
{
    return result_names[result];
}

void ae_origin_stats_init(ae_server_t *srv)
{
    size_t size = (srv->sites.size * sizeof(ae_origin_stats_t) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    num_blocks = srv->num_threads;
    blocks = calloc(num_blocks, sizeof(*blocks));
    for (size_t i = 0; i != num_blocks; ++i) {
        blocks[i] = aligned_alloc(CACHE_LINE, size);
        memset(blocks[i], 0, size);
    }
}

void ae_origin_stats_free(void)
{
    for (size_t i = 0; i != num_blocks; ++i)
        free(blocks[i]);
    free(blocks);
    blocks = NULL;
    num_blocks = 0;
}

ae_origin_stats_t *ae_origin_thread_stats(ae_thread_t *thread, ae_site_t *site)
{
    return &blocks[thread->index][site->index];
}

void ae_origin_get_stats(ae_server_t *srv, ae_site_t *site, ae_origin_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i != num_blocks; ++i) {
        const ae_origin_stats_t *s = &blocks[i][site->index];
        out->fetches += ae_counter_get(&s->fetches);
        for (size_t r = 0; r != AE_FETCH_RESULT_COUNT; ++r)
            out->failures[r] += ae_counter_get(&s->failures[r]);
        out->cancelled += ae_counter_get(&s->cancelled);
        ae_histogram_merge(&out->first_byte, &s->first_byte);
        ae_histogram_merge(&out->duration, &s->duration);
    }
}
