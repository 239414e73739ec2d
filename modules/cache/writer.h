/*
 * The cache writer: the only thread that writes to the store. Workers submit finished responses to a
 * bounded queue (when it is full the response simply stays uncached); the writer commits everything
 * queued in one transaction (group commit) and, when the map is full, evicts a batch and retries once.
 *
 * ae_writer_start/stop: main thread. ae_writer_submit: any worker thread.
 */
#ifndef ANYEDGE_CACHE_WRITER_H
#define ANYEDGE_CACHE_WRITER_H

#include "modules/cache/store.h"

typedef struct ae_write_job {
    struct ae_write_job *next;
    ae_store_object_t obj;
    char *owned; /* key, reason and header block of obj, one allocation */
} ae_write_job_t;

void ae_writer_start(void);
/* Commits whatever is queued, then stops the thread. */
void ae_writer_stop(void);
/* Takes ownership of the job (and its body reference) in every case; returns -1 if it was dropped. */
int ae_writer_submit(ae_write_job_t *job);
void ae_write_job_free(ae_write_job_t *job);

#endif
