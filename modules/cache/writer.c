/*
 * The cache writer thread (see writer.h). Workers push jobs under a mutex and signal a condition
 * variable; the writer takes the whole queue at once, so a burst of misses becomes one commit.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/cache/writer.h"
#include "server/log.h"
#include "server/clock.h"

#define MAX_QUEUED_JOBS 4096
#define MAX_EVICT_ROUNDS 8

static pthread_t thread;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static ae_write_job_t *queue_head, **queue_tail = &queue_head;
static ae_write_job_t *committing; /* the batch being written, until its commit is done */
static size_t queued;
static int deletes_pending; /* atomic: delete jobs queued or being committed */
static int stopping;
static int last_rc; /* of the last batch, under mutex */
static ae_writer_stats_t stats; /* the counters are atomic; `queued` is read under mutex */
/* the health check's probe: submitted_at (monotonic ms) while one is queued, 0 when it has been committed */
static uint64_t probe_submitted_at;
static uint64_t probe_done; /* atomic */

void ae_write_job_free(ae_write_job_t *job)
{
    if (job->on_done != NULL)
        job->on_done(job->on_done_data);
    if (job->kind == AE_WRITE_PUT)
        ae_body_release(job->obj.body);
    free(job->owned);
    free(job);
}

int ae_writer_submit(ae_write_job_t *job)
{
    int accepted;
    pthread_mutex_lock(&mutex);
    if ((accepted = !stopping && queued < MAX_QUEUED_JOBS)) {
        job->next = NULL;
        *queue_tail = job;
        queue_tail = &job->next;
        ++queued;
        pthread_cond_signal(&cond);
    }
    pthread_mutex_unlock(&mutex);
    if (!accepted) {
        __atomic_add_fetch(&stats.dropped, 1, __ATOMIC_RELAXED);
        ae_write_job_free(job);
        return -1;
    }
    return 0;
}

int ae_writer_submit_delete(h2o_iovec_t key)
{
    ae_write_job_t *job = calloc(1, sizeof(*job));
    job->kind = AE_WRITE_DELETE;
    job->owned = h2o_strdup(NULL, key.base, key.len).base;
    job->obj.key = h2o_iovec_init(job->owned, key.len);
    __atomic_add_fetch(&deletes_pending, 1, __ATOMIC_ACQ_REL);
    if (ae_writer_submit(job) == 0)
        return 0;
    __atomic_sub_fetch(&deletes_pending, 1, __ATOMIC_ACQ_REL);
    return -1;
}

int ae_writer_submit_access(const uint8_t (*hashes)[AE_STORE_HASH_LEN], size_t count)
{
    ae_write_job_t *job = calloc(1, sizeof(*job));
    job->kind = AE_WRITE_ACCESS;
    job->owned = malloc(count * AE_STORE_HASH_LEN);
    memcpy(job->owned, hashes, count * AE_STORE_HASH_LEN);
    job->accessed = count;
    job->accessed_at = time(NULL);
    return ae_writer_submit(job);
}

static int list_deletes(ae_write_job_t *jobs, h2o_iovec_t key)
{
    for (; jobs != NULL; jobs = jobs->next)
        if (jobs->kind == AE_WRITE_DELETE && h2o_memis(jobs->obj.key.base, jobs->obj.key.len, key.base, key.len))
            return 1;
    return 0;
}

int ae_writer_delete_pending(h2o_iovec_t key)
{
    if (__atomic_load_n(&deletes_pending, __ATOMIC_ACQUIRE) == 0)
        return 0;
    pthread_mutex_lock(&mutex);
    int found = list_deletes(queue_head, key) || list_deletes(committing, key);
    pthread_mutex_unlock(&mutex);
    return found;
}

static int write_purge(MDB_txn *txn, ae_write_job_t *job)
{
    *job->purge.count = 0; /* a batch may be written again after an eviction */
    switch (job->purge.what) {
    case AE_PURGE_KEY:
        return ae_store_purge_key(txn, job->obj.key, job->purge.soft, job->purge.count);
    case AE_PURGE_PREFIX:
        return ae_store_purge_prefix(txn, job->obj.key, job->purge.soft, job->purge.count);
    default:
        return ae_store_purge_tag(txn, job->obj.key, job->purge.soft, job->purge.count);
    }
}

static int write_batch(ae_write_job_t *jobs)
{
    MDB_txn *txn = ae_store_write_begin();
    int rc = 0;
    if (txn == NULL)
        return MDB_PANIC;
    for (ae_write_job_t *job = jobs; job != NULL && rc == 0; job = job->next)
        rc = job->kind == AE_WRITE_PURGE      ? write_purge(txn, job)
             : job->kind == AE_WRITE_DELETE   ? ae_store_delete(txn, job->obj.key)
             : job->kind == AE_WRITE_ACCESS   ? ae_store_record_access(txn, (const uint8_t(*)[AE_STORE_HASH_LEN])job->owned, job->accessed,
                                                                       job->accessed_at)
             : job->obj.vary_names.len != 0 ? ae_store_put_variant(txn, &job->obj)
                                            : ae_store_put(txn, &job->obj);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* Evicts an eighth of the objects (at least one); returns how many went. */
static size_t make_room(void)
{
    MDB_txn *txn = ae_store_write_begin();
    if (txn == NULL)
        return 0;
    size_t batch = ae_store_object_count(txn) / 8;
    size_t evicted = ae_store_evict(txn, batch != 0 ? batch : 1);
    if (mdb_txn_commit(txn) != 0)
        return 0;
    ae_log_info("cache full: evicted %zu objects", evicted);
    __atomic_add_fetch(&stats.evicted, evicted, __ATOMIC_RELAXED);
    return evicted;
}

static void commit_jobs(ae_write_job_t *jobs)
{
    uint64_t started = ae_monotonic_ms();
    int rc = write_batch(jobs);
    for (int round = 0; rc == MDB_MAP_FULL && round != MAX_EVICT_ROUNDS && make_room() != 0; ++round)
        rc = write_batch(jobs);
    if (rc != 0)
        ae_log_warn("cache store: could not store a batch of responses: %s (they stay uncached)", mdb_strerror(rc));
    __atomic_add_fetch(rc == 0 ? &stats.commits : &stats.failed_commits, 1, __ATOMIC_RELAXED);
    for (ae_write_job_t *job = jobs; job != NULL; job = job->next)
        if (job->kind == AE_WRITE_PURGE)
            *job->purge.rc = rc;
    __atomic_add_fetch(&stats.commit_ms_total, ae_monotonic_ms() - started, __ATOMIC_RELAXED);
    for (ae_write_job_t *job = jobs; rc == 0 && job != NULL; job = job->next)
        if (job->kind == AE_WRITE_PUT)
            __atomic_add_fetch(&stats.objects_stored, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&mutex);
    committing = NULL;
    last_rc = rc;
    pthread_mutex_unlock(&mutex);
    while (jobs != NULL) {
        ae_write_job_t *next = jobs->next;
        if (jobs->kind == AE_WRITE_DELETE)
            __atomic_sub_fetch(&deletes_pending, 1, __ATOMIC_ACQ_REL);
        ae_write_job_free(jobs);
        jobs = next;
    }
}

static void *writer_main(void *unused)
{
    pthread_setname_np(pthread_self(), "anyedge-writer");
    pthread_mutex_lock(&mutex);
    while (1) {
        while (queue_head == NULL && !stopping)
            pthread_cond_wait(&cond, &mutex);
        if (queue_head == NULL)
            break;
        ae_write_job_t *jobs = committing = queue_head;
        queue_head = NULL;
        queue_tail = &queue_head;
        queued = 0;
        pthread_mutex_unlock(&mutex);
        commit_jobs(jobs);
        pthread_mutex_lock(&mutex);
    }
    pthread_mutex_unlock(&mutex);
    return NULL;
}

static void on_probe_done(void *unused)
{
    __atomic_store_n(&probe_done, 1, __ATOMIC_RELEASE);
}

int ae_writer_check(uint64_t timeout_ms, char *detail, size_t detail_size)
{
    uint64_t now = ae_monotonic_ms();
    pthread_mutex_lock(&mutex);
    int rc = last_rc;
    pthread_mutex_unlock(&mutex);

    if (probe_submitted_at != 0 && __atomic_load_n(&probe_done, __ATOMIC_ACQUIRE))
        probe_submitted_at = 0;
    if (probe_submitted_at != 0 && now - probe_submitted_at > timeout_ms) {
        snprintf(detail, detail_size, "no commit for %llu ms", (unsigned long long)(now - probe_submitted_at));
        return -1;
    }
    if (rc != 0) {
        snprintf(detail, detail_size, "the last commit failed: %s", mdb_strerror(rc));
        return -1;
    }
    if (probe_submitted_at == 0) {
        /* an empty batch of accesses: a commit that writes nothing */
        ae_write_job_t *job = calloc(1, sizeof(*job));
        job->kind = AE_WRITE_ACCESS;
        job->on_done = on_probe_done;
        __atomic_store_n(&probe_done, 0, __ATOMIC_RELEASE);
        probe_submitted_at = now;
        if (ae_writer_submit(job) != 0) {
            probe_submitted_at = 0;
            snprintf(detail, detail_size, "the writer queue is full");
            return -1;
        }
    }
    snprintf(detail, detail_size, "commits");
    return 0;
}

void ae_writer_get_stats(ae_writer_stats_t *out)
{
    out->commits = __atomic_load_n(&stats.commits, __ATOMIC_RELAXED);
    out->failed_commits = __atomic_load_n(&stats.failed_commits, __ATOMIC_RELAXED);
    out->commit_ms_total = __atomic_load_n(&stats.commit_ms_total, __ATOMIC_RELAXED);
    out->objects_stored = __atomic_load_n(&stats.objects_stored, __ATOMIC_RELAXED);
    out->dropped = __atomic_load_n(&stats.dropped, __ATOMIC_RELAXED);
    out->evicted = __atomic_load_n(&stats.evicted, __ATOMIC_RELAXED);
    pthread_mutex_lock(&mutex);
    out->queued = queued;
    pthread_mutex_unlock(&mutex);
}

void ae_writer_start(void)
{
    stopping = 0;
    pthread_create(&thread, NULL, writer_main, NULL);
}

void ae_writer_stop(void)
{
    pthread_mutex_lock(&mutex);
    stopping = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mutex);
    pthread_join(thread, NULL);
}
