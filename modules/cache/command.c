/*
 * `anyedge cache ...`: the operator's view of the store, read-only and without a running daemon
 * (or alongside one: LMDB readers never block the writer).
 *
 *   stats          objects, bytes, oldest and newest, per-site counts, map use
 *   list           one line per object: key, status, body bytes, age, ttl
 *   get KEY        one object's status, freshness and headers (KEY is host + path, as in list)
 *   verify         decode every record and check its chunks; exit 1 if any is damaged
 *
 * Main thread, on its own (no workers run).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/cache/cache.h"
#include "modules/cache/record.h"

typedef struct {
    ae_server_t *srv;
    MDB_txn *txn;
    int64_t now;
    uint64_t objects, indexes, damaged, bytes;
    int64_t oldest, newest;
    uint64_t *site_objects, *site_bytes;
} walk_t;

static void format_time(int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The site whose host starts the key ("host/path"), or -1. */
static ssize_t site_of(ae_server_t *srv, h2o_iovec_t key)
{
    const char *slash = memchr(key.base, '/', key.len);
    for (size_t i = 0; slash != NULL && i != srv->sites.size; ++i)
        if (h2o_memis(key.base, slash - key.base, srv->sites.entries[i]->host, strlen(srv->sites.entries[i]->host)))
            return (ssize_t)i;
    return -1;
}

/* Are all chunks of the body there, adding up to its size? */
static int body_is_whole(MDB_txn *txn, const ae_record_t *rec)
{
    uint64_t total = 0;
    h2o_iovec_t chunk;
    if (rec->body_id == 0)
        return 1;
    for (uint32_t i = 0; i != rec->chunk_count; ++i) {
        if (ae_store_get_chunk(txn, rec->body_id, i, &chunk) != 0)
            return 0;
        total += chunk.len;
    }
    return total == rec->body_size;
}

static int count_record(void *data, const uint8_t *bytes, size_t len)
{
    walk_t *w = data;
    ae_record_t rec;
    if (ae_record_decode(bytes, len, &rec) != 0 || (!rec.is_vary_index && !body_is_whole(w->txn, &rec))) {
        ++w->damaged;
        return 0;
    }
    if (rec.is_vary_index) {
        ++w->indexes;
        return 0;
    }
    ++w->objects;
    w->bytes += rec.body_size;
    if (w->oldest == 0 || rec.freshness.response_time < w->oldest)
        w->oldest = rec.freshness.response_time;
    if (rec.freshness.response_time > w->newest)
        w->newest = rec.freshness.response_time;
    ssize_t site = site_of(w->srv, rec.key);
    if (site >= 0) {
        ++w->site_objects[site];
        w->site_bytes[site] += rec.body_size;
    }
    return 0;
}

static int print_record(void *data, const uint8_t *bytes, size_t len)
{
    walk_t *w = data;
    ae_record_t rec;
    if (ae_record_decode(bytes, len, &rec) != 0) {
        printf("(damaged record of %zu bytes)\n", len);
        return 0;
    }
    if (rec.is_vary_index) {
        printf("%.*s\tvary-index\n", (int)rec.key.len, rec.key.base);
        return 0;
    }
    int64_t age = ae_cache_current_age(&rec.freshness, w->now);
    /* a variant's key has a newline before its varied values, key rules a tab before each extra */
    for (size_t i = 0; i != rec.key.len; ++i)
        putchar(rec.key.base[i] == '\n' ? '|' : rec.key.base[i] == '\t' ? '+' : rec.key.base[i]);
    printf("\t%d\t%" PRIu64 "\tage=%" PRId64 "\tttl=%" PRId64 "\n", rec.status, rec.body_size, age, rec.freshness.lifetime - age);
    return 0;
}

static int stats(walk_t *w, const char *path)
{
    char oldest[32] = "-", newest[32] = "-";
    uint64_t map_size, used;
    if (ae_store_foreach(w->txn, count_record, w) != 0)
        return 1;
    ae_store_usage(&map_size, &used);
    if (w->objects != 0) {
        format_time(w->oldest, oldest, sizeof(oldest));
        format_time(w->newest, newest, sizeof(newest));
    }
    printf("store: %s (map %" PRIu64 " MiB, %.1f MiB in use)\n", path, map_size >> 20, used / 1048576.0);
    printf("objects: %" PRIu64 " (%" PRIu64 " body bytes), vary indexes: %" PRIu64 ", damaged records: %" PRIu64 "\n", w->objects,
           w->bytes, w->indexes, w->damaged);
    printf("oldest: %s, newest: %s\n", oldest, newest);
    for (size_t i = 0; i != w->srv->sites.size; ++i)
        printf("site %s: %" PRIu64 " objects, %" PRIu64 " bytes\n", w->srv->sites.entries[i]->host, w->site_objects[i], w->site_bytes[i]);
    return 0;
}

static int get(walk_t *w, const char *key)
{
    ae_record_t rec;
    h2o_iovec_t block, name, value;
    char stored[32];
    if (ae_store_get(w->txn, h2o_iovec_init(key, strlen(key)), &rec) != 0) {
        fprintf(stderr, "anyedge: no object stored under '%s'\n", key);
        return 1;
    }
    if (rec.is_vary_index) {
        printf("vary index; its variants:\n");
    } else {
        int64_t age = ae_cache_current_age(&rec.freshness, w->now);
        format_time(rec.freshness.response_time, stored, sizeof(stored));
        printf("status: %d %.*s\nstored: %s\nage: %" PRId64 "\nttl: %" PRId64 "\nbody: %" PRIu64 " bytes%s\n", rec.status, (int)rec.reason.len,
               rec.reason.base, stored, age, rec.freshness.lifetime - age, rec.body_size,
               rec.body_id != 0 ? " (in chunks)" : " (inline)");
    }
    for (block = rec.headers; ae_record_next_header(&block, &name, &value) == 0;)
        printf("%.*s: %.*s\n", (int)name.len, name.base, (int)value.len, value.base);
    return 0;
}

int ae_cache_run_command(ae_server_t *srv, int argc, char **argv)
{
    const char *path = ae_cache_store_path();
    char err[512];
    int status = 2;

    if (argc < 1 || !(strcmp(argv[0], "stats") == 0 || strcmp(argv[0], "list") == 0 || strcmp(argv[0], "verify") == 0 ||
                      (strcmp(argv[0], "get") == 0 && argc == 2))) {
        fprintf(stderr, "usage: anyedge cache stats|list|verify -c FILE, or anyedge cache get KEY -c FILE\n");
        return 2;
    }
    if (ae_store_open(path, 0, 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "anyedge: %s\n", err);
        return 1;
    }
    uint64_t *counts = calloc(2 * srv->sites.size + 1, sizeof(*counts));
    walk_t w = {.srv = srv, .now = time(NULL), .site_objects = counts, .site_bytes = counts + srv->sites.size};
    ae_store_reader_t reader = {NULL};
    if ((w.txn = ae_store_read_begin(&reader)) == NULL) {
        fprintf(stderr, "anyedge: cannot read the store in %s\n", path);
    } else if (strcmp(argv[0], "stats") == 0) {
        status = stats(&w, path);
    } else if (strcmp(argv[0], "list") == 0) {
        status = ae_store_foreach(w.txn, print_record, &w) == 0 ? 0 : 1;
    } else if (strcmp(argv[0], "get") == 0) {
        status = get(&w, argv[1]);
    } else {
        status = ae_store_foreach(w.txn, count_record, &w) != 0 || w.damaged != 0;
        printf("%" PRIu64 " objects, %" PRIu64 " vary indexes, %" PRIu64 " damaged records\n", w.objects, w.indexes, w.damaged);
    }
    if (w.txn != NULL)
        ae_store_read_end(&reader, w.txn);
    ae_store_reader_dispose(&reader);
    ae_store_close();
    free(counts);
    return status;
}
