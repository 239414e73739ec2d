/*
 * store_populate: a test helper (built next to the unit tests, never installed) that fills a store
 * directory with COUNT synthetic responses, stored as the cache writer stores a fetched response, so
 * that a test can start anyedge on a large store without fetching every object through it.
 *
 *   store_populate DIR SIZE HOST COUNT [PER_COMMIT [TAG]]
 *
 * Object i (0 <= i < COUNT) is what anyedge stores for `GET http://HOST/obj/<i>` on a site with the
 * default cache settings: the key comes from ae_cache_key (default key rules), the freshness from
 * ae_cache_decide_store (default policy), the stored headers are filtered as fill.c filters them, and
 * ae_store_put writes the record. The response: status 200, `Cache-Control: public, max-age=31536000`,
 * `Content-Type: text/plain`, `Date` now, and a body of 140 bytes derived from i: the line
 * "obj %09u\n" ten times. SIZE is cache.size of the daemon that will use the store (K, M, G suffixes).
 * With TAG, every object also carries `Surrogate-Key: TAG` (indexed for purges by tag).
 *
 * The objects are written in the order of their store keys (the hash of the cache key), PER_COMMIT
 * (default 10,000) per transaction: each commit then touches one run of adjacent pages instead of
 * rewriting pages all over the store, and a million objects take a few seconds (about 440 MiB). The
 * pages end up fuller than the writer's random inserts would leave them; readers cannot tell.
 *
 * Single-threaded; it is the store's only writer while it runs (no daemon may use DIR meanwhile).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "modules/cache/key.h"
#include "modules/cache/policy.h"
#include "modules/cache/store.h"
#include "modules/origin/origin.h"

#define BODY_LINE_LEN 14 /* "obj %09u\n" */
#define BODY_LINES 10
#define DEFAULT_PER_COMMIT 10000

typedef struct {
    uint8_t hash[AE_STORE_HASH_LEN];
    uint32_t index;
} entry_t;

static const char *host;
static const char *tag; /* Surrogate-Key of every object, or NULL */
static int64_t now;

static h2o_iovec_t object_key(h2o_mem_pool_t *pool, uint32_t i)
{
    static const ae_key_conf_t default_rules; /* a site without `cache.key` settings */
    static const h2o_headers_t no_headers;
    char path[32];
    int len = snprintf(path, sizeof(path), "/obj/%" PRIu32, i);
    return ae_cache_key(pool, &default_rules, host, h2o_iovec_init(path, (size_t)len), &no_headers);
}

static int compare_entries(const void *a, const void *b)
{
    return memcmp(((const entry_t *)a)->hash, ((const entry_t *)b)->hash, AE_STORE_HASH_LEN);
}

/* The headers fill.c keeps in the store: Date, and what is passed on to clients but Age and the
 * headers meant for this cache only. */
static int is_stored_header(const h2o_header_t *header, const h2o_headers_t *all)
{
    if (header->name == &H2O_TOKEN_DATE->buf)
        return 1;
    return !ae_origin_is_unforwarded_response_header(header, all) && header->name != &H2O_TOKEN_AGE->buf &&
           !ae_cache_is_cache_only_header(&ae_policy_conf_default, *header->name);
}

/* Stores object i in the transaction; 0 or an LMDB error code. */
static int put_object(MDB_txn *txn, h2o_mem_pool_t *pool, uint32_t i, h2o_iovec_t date)
{
    h2o_headers_t res_headers = {NULL}, req_headers = {NULL};
    char line[BODY_LINE_LEN + 1], length[16];

    if (tag != NULL)
        h2o_add_header_by_str(pool, &res_headers, H2O_STRLIT("surrogate-key"), 0, NULL, tag, strlen(tag));
    snprintf(line, sizeof(line), "obj %09" PRIu32 "\n", i);
    snprintf(length, sizeof(length), "%d", BODY_LINE_LEN * BODY_LINES);
    h2o_add_header(pool, &res_headers, H2O_TOKEN_DATE, NULL, date.base, date.len);
    h2o_add_header(pool, &res_headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_add_header(pool, &res_headers, H2O_TOKEN_CONTENT_LENGTH, NULL, length, strlen(length));
    h2o_add_header(pool, &res_headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("public, max-age=31536000"));

    ae_store_decision_t decision = ae_cache_decide_store(&ae_policy_conf_default, h2o_iovec_init(H2O_STRLIT("GET")), &req_headers,
                                                         200, &res_headers, now, now);
    if (!decision.store) {
        fprintf(stderr, "store_populate: the policy would not store the response (%s)\n", decision.reason);
        exit(1);
    }

    size_t headers_len = 0;
    for (size_t j = 0; j != res_headers.size; ++j)
        if (is_stored_header(&res_headers.entries[j], &res_headers))
            headers_len += ae_record_header_size(res_headers.entries[j].name->len, res_headers.entries[j].value.len);
    uint8_t *block = h2o_mem_alloc_pool(pool, headers_len), *dst = block;
    for (size_t j = 0; j != res_headers.size; ++j)
        if (is_stored_header(&res_headers.entries[j], &res_headers))
            dst = ae_record_put_header(dst, *res_headers.entries[j].name, res_headers.entries[j].value);

    ae_body_t *body = ae_body_new(BODY_LINE_LEN * BODY_LINES);
    for (int j = 0; j != BODY_LINES; ++j)
        ae_body_append(body, line, BODY_LINE_LEN);
    ae_store_object_t obj = {.key = object_key(pool, i), .body = body};
    obj.rec.status = 200;
    obj.rec.reason = h2o_iovec_init(H2O_STRLIT("OK"));
    obj.rec.headers = h2o_iovec_init(block, headers_len);
    obj.rec.freshness = decision.freshness;
    int rc = ae_store_put(txn, &obj);
    ae_body_release(body);
    return rc;
}

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t n = strtoull(s, &end, 10);
    switch (*end) {
    case 'K':
        return n << 10;
    case 'M':
        return n << 20;
    case 'G':
        return n << 30;
    case 'T':
        return n << 40;
    default:
        return *end == '\0' ? n : 0;
    }
}

static double seconds_since(const struct timespec *start)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - start->tv_sec) + (t.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
    char err[512], date[64];
    struct timespec started;
    struct tm tm;
    h2o_mem_pool_t pool;

    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: store_populate DIR SIZE HOST COUNT [PER_COMMIT [TAG]]\n");
        return 2;
    }
    uint64_t size = parse_size(argv[2]);
    host = argv[3];
    uint32_t count = (uint32_t)strtoul(argv[4], NULL, 10),
             per_commit = argc >= 6 ? (uint32_t)strtoul(argv[5], NULL, 10) : DEFAULT_PER_COMMIT;
    tag = argc == 7 ? argv[6] : NULL;
    if (size == 0 || per_commit == 0) {
        fprintf(stderr, "store_populate: bad SIZE or PER_COMMIT\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &started);
    now = time(NULL);
    time_t now_t = (time_t)now;
    gmtime_r(&now_t, &tm);
    h2o_iovec_t date_value = h2o_iovec_init(date, strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm));

    if (ae_store_open(argv[1], size, 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_populate: %s\n", err);
        return 1;
    }

    entry_t *entries = malloc(sizeof(*entries) * (count != 0 ? count : 1));
    h2o_mem_init_pool(&pool);
    for (uint32_t i = 0; i != count; ++i) {
        ae_store_key_hash(object_key(&pool, i), entries[i].hash);
        entries[i].index = i;
        if (i % 1024 == 1023)
            h2o_mem_clear_pool(&pool);
    }
    qsort(entries, count, sizeof(*entries), compare_entries);

    int rc = 0;
    for (uint32_t done = 0; done != count && rc == 0;) {
        MDB_txn *txn = ae_store_write_begin();
        if (txn == NULL) {
            fprintf(stderr, "store_populate: cannot begin a write transaction\n");
            return 1;
        }
        uint32_t end = count - done > per_commit ? done + per_commit : count;
        for (; done != end && rc == 0; ++done) {
            rc = put_object(txn, &pool, entries[done].index, date_value);
            h2o_mem_clear_pool(&pool);
        }
        if (rc != 0)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
    }
    h2o_mem_clear_pool(&pool);
    free(entries);
    if (rc != 0) {
        fprintf(stderr, "store_populate: %s\n", mdb_strerror(rc));
        ae_store_close();
        return 1;
    }

    uint64_t map_size, used;
    ae_store_usage(&map_size, &used);
    ae_store_close();
    printf("stored %" PRIu32 " objects for %s in %.2fs; %.1f MiB of the map in use\n", count, host, seconds_since(&started),
           used / 1048576.0);
    return 0;
}
