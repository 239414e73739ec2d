/*
 * The cache writer: the only thread that writes to the store. Workers submit finished responses,
 * removals and batches of accesses to a bounded queue (when it is full a response simply stays
 * uncached); the writer commits everything queued in one transaction (group commit) and, when the
 * map is full, evicts the least recently used objects and retries.
 *
 * ae_writer_start/stop: main thread. ae_writer_submit: any worker thread.
 */
#ifndef ANYEDGE_CACHE_WRITER_H
#define ANYEDGE_CACHE_WRITER_H

#include "modules/cache/store.h"

typedef struct ae_write_job {
    struct ae_write_job *next;
    enum { AE_WRITE_PUT, AE_WRITE_DELETE, AE_WRITE_ACCESS, AE_WRITE_PURGE } kind;
    ae_store_object_t obj; /* PUT: the object; DELETE: only obj.key; PURGE: obj.key is the key, prefix or tag */
    struct {
        enum { AE_PURGE_KEY, AE_PURGE_PREFIX, AE_PURGE_TAG } what;
        int soft;
        size_t *count; /* set to the objects affected once committed */
        int *rc;       /* 0, or the LMDB error that failed the batch */
    } purge;
    char *owned;           /* key, reason and header block of obj, or the hashes of ACCESS: one allocation */
    size_t accessed;       /* ACCESS: how many hashes `owned` holds */
    int64_t accessed_at;
    /* called when the job is done with (committed, failed or dropped), on the thread that frees it */
    void (*on_done)(void *data);
    void *on_done_data;
} ae_write_job_t;

/* Counters since start, for metrics (any thread). */
typedef struct ae_writer_stats {
    uint64_t queued;          /* jobs waiting now */
    uint64_t commits, failed_commits;
    uint64_t commit_ms_total; /* time spent committing, evictions included */
    uint64_t objects_stored, dropped /* the queue was full */, evicted;
} ae_writer_stats_t;

void ae_writer_get_stats(ae_writer_stats_t *out);

void ae_writer_start(void);
/* Commits whatever is queued, then stops the thread. */
void ae_writer_stop(void);
/* Takes ownership of the job (and its body reference) in every case; returns -1 if it was dropped. */
int ae_writer_submit(ae_write_job_t *job);
void ae_write_job_free(ae_write_job_t *job);
/* Queues the removal of the object stored under `key` (copied). */
int ae_writer_submit_delete(h2o_iovec_t key);
/* Queues a note that these objects were used just now (hashes copied). */
int ae_writer_submit_access(const uint8_t (*hashes)[AE_STORE_HASH_LEN], size_t count);
/* For the health check (one caller thread): fails when the last commit failed, or when the previous
 * probe (an empty commit queued by the last call) has not been committed within timeout_ms. */
int ae_writer_check(uint64_t timeout_ms, char *detail, size_t detail_size);
/* Is a removal of `key` queued or not yet committed? Then what the store holds for it is already
 * gone for readers. Costs one atomic load when no removal is pending. */
int ae_writer_delete_pending(h2o_iovec_t key);

#endif
