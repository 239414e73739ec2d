/*
 * The LMDB store (see store.h). Flags, chosen deliberately:
 *   MDB_NOTLS      read transactions are pooled per worker thread, not tied to OS threads;
 *   MDB_NOMETASYNC data pages are synced at commit, the meta page lazily: a power loss can drop the
 *                  last committed batch but never corrupts the store; a killed process loses nothing;
 *   MDB_NORDAHEAD  hits are random reads, read-ahead would only evict useful pages.
 * Stale reader slots of a killed process are cleared at open (mdb_reader_check).
 *
 * Eviction is sampled LRU, in the manner of Redis: of a few objects picked at random, the one used
 * longest ago goes (in a store of few objects, the one used longest ago of all). When an object was last used comes from the "access" database, which hits never
 * write: workers collect the keys they served and the writer records them in batches (in seconds).
 *
 * open/close: main thread. Read functions: worker threads (each with its own reader).
 * Write functions: the cache writer thread only.
 */
/* Every lookup hashes its key: SHA256_Init/Update/Final work on a context on the stack, where
 * OpenSSL 3's SHA256() fetches the algorithm from the provider (a lock) and allocates a context on
 * every call (about 5% of a 1 KiB hit's CPU). They are deprecated in OpenSSL 3, not removed. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "modules/cache/store.h"
#include "modules/cache/tags.h"

#define MAX_READERS 1024

static MDB_env *env;
static MDB_dbi objects_db, chunks_db, meta_db, access_db;

#define EVICTION_SAMPLES 5
#define EXHAUSTIVE_BELOW 256

void ae_store_key_hash(h2o_iovec_t key, uint8_t out[AE_STORE_HASH_LEN])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, key.base, key.len);
    SHA256_Final(md, &ctx);
    memcpy(out, md, AE_STORE_HASH_LEN);
}

static int open_dbs(int read_only, char *err, size_t err_size)
{
    MDB_txn *txn;
    unsigned flags = read_only ? 0 : MDB_CREATE;
    int rc;
    if ((rc = mdb_txn_begin(env, NULL, read_only ? MDB_RDONLY : 0, &txn)) != 0)
        goto Error;
    if ((rc = mdb_dbi_open(txn, "objects", flags, &objects_db)) != 0 || (rc = mdb_dbi_open(txn, "chunks", flags, &chunks_db)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", flags, &meta_db)) != 0 || (rc = mdb_dbi_open(txn, "access", flags, &access_db)) != 0 ||
        (rc = ae_tags_open(txn, env, read_only)) != 0) {
        mdb_txn_abort(txn);
        goto Error;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto Error;
    return 0;
Error:
    snprintf(err, err_size, "cannot open the cache databases: %s", mdb_strerror(rc));
    return -1;
}

int ae_store_open(const char *path, uint64_t size, int read_only, char *err, size_t err_size)
{
    int rc, dead;

    if (!read_only && mkdir(path, 0750) != 0 && errno != EEXIST) {
        snprintf(err, err_size, "cannot create the cache directory %s: %s", path, strerror(errno));
        return -1;
    }
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_mapsize(env, size)) != 0 || (rc = mdb_env_set_maxreaders(env, MAX_READERS)) != 0 ||
        (rc = mdb_env_set_maxdbs(env, 6)) != 0)
        goto Error;
    if ((rc = mdb_env_open(env, path, MDB_NOTLS | MDB_NOMETASYNC | MDB_NORDAHEAD | (read_only ? MDB_RDONLY : 0), 0640)) != 0)
        goto Error;
    mdb_reader_check(env, &dead);
    return open_dbs(read_only, err, err_size);

Error:
    snprintf(err, err_size, "cannot open the cache store in %s: %s%s", path, mdb_strerror(rc),
             rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH
                 ? " (the store is damaged or of another format; move the directory away to start with an empty cache)"
                 : "");
    mdb_env_close(env);
    env = NULL;
    return -1;
}

void ae_store_close(void)
{
    if (env == NULL)
        return;
    mdb_env_sync(env, 1);
    mdb_env_close(env);
    env = NULL;
}

MDB_txn *ae_store_read_begin(ae_store_reader_t *reader)
{
    MDB_txn *txn = NULL;
    if (reader->parked.size != 0) {
        txn = reader->parked.entries[--reader->parked.size];
        if (mdb_txn_renew(txn) == 0)
            return txn;
        mdb_txn_abort(txn);
    }
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_READERS_FULL) {
        /* slots of processes that died holding them (a killed `anyedge cache` command, say) */
        int dead;
        mdb_reader_check(env, &dead);
        rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    }
    return rc == 0 ? txn : NULL;
}

void ae_store_read_end(ae_store_reader_t *reader, MDB_txn *txn)
{
    mdb_txn_reset(txn);
    h2o_vector_reserve(NULL, &reader->parked, reader->parked.size + 1);
    reader->parked.entries[reader->parked.size++] = txn;
}

void ae_store_reader_dispose(ae_store_reader_t *reader)
{
    for (size_t i = 0; i != reader->parked.size; ++i)
        mdb_txn_abort(reader->parked.entries[i]);
    free(reader->parked.entries);
    reader->parked = (typeof(reader->parked)){NULL};
}

int ae_store_get(MDB_txn *txn, h2o_iovec_t key, ae_record_t *rec)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    return ae_store_get_hashed(txn, key, rec, hash);
}

int ae_store_get_hashed(MDB_txn *txn, h2o_iovec_t key, ae_record_t *rec, uint8_t hash[AE_STORE_HASH_LEN])
{
    MDB_val k = {AE_STORE_HASH_LEN, hash}, v;

    ae_store_key_hash(key, hash);
    if (mdb_get(txn, objects_db, &k, &v) != 0)
        return -1;
    if (ae_record_decode(v.mv_data, v.mv_size, rec) != 0)
        return -1;
    if (!h2o_memis(rec->key.base, rec->key.len, key.base, key.len))
        return -1; /* another key with the same hash: a miss, and the new object replaces it */
    return 0;
}

int ae_store_get_chunk(MDB_txn *txn, uint64_t body_id, uint32_t index, h2o_iovec_t *out)
{
    uint8_t chunk_key[12];
    MDB_val k = {sizeof(chunk_key), chunk_key}, v;
    ae_record_chunk_key(body_id, index, chunk_key);
    if (mdb_get(txn, chunks_db, &k, &v) != 0)
        return -1;
    *out = h2o_iovec_init(v.mv_data, v.mv_size);
    return 0;
}

ae_body_t *ae_store_load_body(MDB_txn *txn, const ae_record_t *rec)
{
    ae_body_t *body = ae_body_new(rec->body_size);
    if (rec->body_id == 0) {
        ae_body_append(body, rec->inline_body.base, rec->inline_body.len);
        return body;
    }
    for (uint32_t i = 0; i != rec->chunk_count; ++i) {
        h2o_iovec_t chunk;
        if (ae_store_get_chunk(txn, rec->body_id, i, &chunk) != 0) {
            ae_body_release(body);
            return NULL;
        }
        ae_body_append(body, chunk.base, chunk.len);
    }
    return body;
}

int ae_store_foreach(MDB_txn *txn, int (*cb)(void *data, const uint8_t *record, size_t len), void *data)
{
    MDB_cursor *cursor;
    MDB_val k, v;
    int rc, stop = 0;
    if ((rc = mdb_cursor_open(txn, objects_db, &cursor)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && !stop; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT))
        stop = cb(data, v.mv_data, v.mv_size);
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND || stop ? 0 : rc;
}

void ae_store_usage(uint64_t *map_size, uint64_t *used)
{
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &stat);
    *map_size = info.me_mapsize;
    *used = (uint64_t)(info.me_last_pgno + 1) * stat.ms_psize;
}

MDB_txn *ae_store_write_begin(void)
{
    MDB_txn *txn;
    return mdb_txn_begin(env, NULL, 0, &txn) == 0 ? txn : NULL;
}

static int delete_chunks(MDB_txn *txn, uint64_t body_id, uint32_t count)
{
    for (uint32_t i = 0; i != count; ++i) {
        uint8_t chunk_key[12];
        MDB_val k = {sizeof(chunk_key), chunk_key};
        ae_record_chunk_key(body_id, i, chunk_key);
        int rc = mdb_del(txn, chunks_db, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

static int delete_object(MDB_txn *txn, MDB_val *k);

static int delete_key(MDB_txn *txn, h2o_iovec_t key)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    MDB_val k = {sizeof(hash), hash};
    ae_store_key_hash(key, hash);
    return delete_object(txn, &k);
}

/* The variants a vary index lists, copied out (deleting them moves the index's bytes). */
static size_t list_variants(const ae_record_t *index, h2o_iovec_t *variants, size_t max)
{
    h2o_iovec_t block = index->headers, name, value;
    size_t n = 0;
    while (n != max && ae_record_next_header(&block, &name, &value) == 0)
        if (h2o_memis(name.base, name.len, H2O_STRLIT("variant")))
            variants[n++] = h2o_strdup(NULL, value.base, value.len);
    return n;
}

static int delete_variants(MDB_txn *txn, const ae_record_t *index)
{
    h2o_iovec_t variants[AE_STORE_MAX_VARIANTS + 1];
    size_t n = list_variants(index, variants, AE_STORE_MAX_VARIANTS + 1);
    int rc = 0;
    for (size_t i = 0; i != n; ++i) {
        if (rc == 0)
            rc = delete_key(txn, variants[i]);
        free(variants[i].base);
    }
    return rc;
}

/* Deletes the object record at k and its chunks (or, for a vary index, its variants), if it
 * decodes; a damaged record is just deleted. */
static int delete_object(MDB_txn *txn, MDB_val *k)
{
    MDB_val v;
    ae_record_t old;
    int rc;
    if ((rc = mdb_get(txn, objects_db, k, &v)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (ae_record_decode(v.mv_data, v.mv_size, &old) == 0) {
        if (old.is_vary_index)
            rc = delete_variants(txn, &old);
        else if ((rc = ae_tags_unindex(txn, &old, k->mv_data, k->mv_size)) == 0 && old.body_id != 0)
            rc = delete_chunks(txn, old.body_id, old.chunk_count);
        if (rc != 0)
            return rc;
    }
    if ((rc = mdb_del(txn, access_db, k, NULL)) != 0 && rc != MDB_NOTFOUND)
        return rc;
    return mdb_del(txn, objects_db, k, NULL);
}

static int next_body_id(MDB_txn *txn, uint64_t *id)
{
    static const char name[] = "next_body_id";
    MDB_val k = {sizeof(name) - 1, (void *)name}, v;
    uint64_t next = 1;
    int rc = mdb_get(txn, meta_db, &k, &v);
    if (rc == 0 && v.mv_size == sizeof(next))
        memcpy(&next, v.mv_data, sizeof(next));
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    *id = next++;
    v = (MDB_val){sizeof(next), &next};
    return mdb_put(txn, meta_db, &k, &v, 0);
}

/* Stores the body as records of exactly AE_BODY_CHUNK_SIZE bytes (the last one shorter), so that
 * a byte offset maps to a chunk by division, whatever sizes it arrived in. */
static int put_chunks(MDB_txn *txn, ae_store_object_t *obj)
{
    ae_body_t *body = obj->body;
    ae_body_cursor_t cursor = {NULL};
    h2o_iovec_t piece = {NULL, 0};
    int rc;

    if ((rc = next_body_id(txn, &obj->rec.body_id)) != 0)
        return rc;
    obj->rec.chunk_count = (uint32_t)((body->size + AE_BODY_CHUNK_SIZE - 1) / AE_BODY_CHUNK_SIZE);
    for (uint32_t i = 0; i != obj->rec.chunk_count; ++i) {
        uint8_t chunk_key[12];
        size_t len = i + 1 < obj->rec.chunk_count ? AE_BODY_CHUNK_SIZE : body->size - (size_t)i * AE_BODY_CHUNK_SIZE;
        MDB_val k = {sizeof(chunk_key), chunk_key}, v = {len, NULL};
        ae_record_chunk_key(obj->rec.body_id, i, chunk_key);
        if ((rc = mdb_put(txn, chunks_db, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0)
            return rc;
        for (size_t filled = 0; filled != len;) {
            if (piece.len == 0 && ae_body_read(body, &cursor, &piece, 1) == 0)
                return MDB_CORRUPTED; /* shorter than its size says: cannot happen for a complete body */
            size_t n = piece.len < len - filled ? piece.len : len - filled;
            memcpy((char *)v.mv_data + filled, piece.base, n);
            filled += n;
            piece.base += n;
            piece.len -= n;
        }
    }
    return 0;
}

/* Points the record at a body small enough to live in it; one that arrived in several pieces is
 * gathered into *gathered first. */
static void set_inline_body(ae_store_object_t *obj, char **gathered)
{
    ae_body_t *body = obj->body;
    ae_body_cursor_t cursor = {NULL};
    h2o_iovec_t piece;

    if (body->size == 0)
        return;
    if (body->first->len == body->size) {
        obj->rec.inline_body = h2o_iovec_init(body->first->data, body->size);
        return;
    }
    obj->rec.inline_body.base = *gathered = malloc(body->size);
    while (ae_body_read(body, &cursor, &piece, 1) != 0) {
        memcpy(*gathered + obj->rec.inline_body.len, piece.base, piece.len);
        obj->rec.inline_body.len += piece.len;
    }
}

int ae_store_put(MDB_txn *txn, ae_store_object_t *obj)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    MDB_val k = {sizeof(hash), hash}, v;
    ae_body_t *body = obj->body;
    int rc;

    ae_store_key_hash(obj->key, hash);
    if ((rc = delete_object(txn, &k)) != 0)
        return rc;

    obj->rec.key = obj->key;
    obj->rec.body_size = body->size;
    obj->rec.body_id = 0;
    obj->rec.chunk_count = 0;
    obj->rec.inline_body = h2o_iovec_init(NULL, 0);
    char *gathered = NULL;
    if (body->size <= AE_RECORD_INLINE_MAX)
        set_inline_body(obj, &gathered);
    else if ((rc = put_chunks(txn, obj)) != 0)
        return rc;
    v.mv_size = ae_record_encoded_size(&obj->rec);
    if ((rc = mdb_put(txn, objects_db, &k, &v, MDB_RESERVE)) == 0) {
        ae_record_encode(&obj->rec, v.mv_data);
        rc = ae_tags_index(txn, &obj->rec, hash, sizeof(hash));
    }
    free(gathered);
    return rc;
}

int64_t ae_store_last_access(MDB_txn *txn, const uint8_t hash[AE_STORE_HASH_LEN])
{
    MDB_val k = {AE_STORE_HASH_LEN, (void *)hash}, v;
    uint32_t second;
    if (mdb_get(txn, access_db, &k, &v) != 0 || v.mv_size != sizeof(second))
        return 0;
    memcpy(&second, v.mv_data, sizeof(second));
    return second;
}

int ae_store_record_access(MDB_txn *txn, const uint8_t (*hashes)[AE_STORE_HASH_LEN], size_t count, int64_t when)
{
    uint32_t second = (uint32_t)when;
    for (size_t i = 0; i != count; ++i) {
        MDB_val k = {AE_STORE_HASH_LEN, (void *)hashes[i]}, v = {sizeof(second), &second};
        int rc = mdb_put(txn, access_db, &k, &v, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int ae_store_delete(MDB_txn *txn, h2o_iovec_t key)
{
    return delete_key(txn, key);
}

/* Writes the vary index of obj->primary: its names, then the variants (oldest first). */
static int put_vary_index(MDB_txn *txn, ae_store_object_t *obj, h2o_iovec_t *variants, size_t n)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    MDB_val k = {sizeof(hash), hash}, v;
    size_t len = obj->vary_names.len;
    for (size_t i = 0; i != n; ++i)
        len += ae_record_header_size(sizeof("variant") - 1, variants[i].len);
    uint8_t *block = malloc(len), *dst = block + obj->vary_names.len;
    memcpy(block, obj->vary_names.base, obj->vary_names.len);
    for (size_t i = 0; i != n; ++i)
        dst = ae_record_put_header(dst, h2o_iovec_init(H2O_STRLIT("variant")), variants[i]);

    ae_record_t index = {.status = 200, .is_vary_index = 1, .key = obj->primary, .headers = h2o_iovec_init(block, len)};
    ae_store_key_hash(obj->primary, hash);
    v.mv_size = ae_record_encoded_size(&index);
    int rc = mdb_put(txn, objects_db, &k, &v, MDB_RESERVE);
    if (rc == 0)
        ae_record_encode(&index, v.mv_data);
    free(block);
    return rc;
}

int ae_store_put_variant(MDB_txn *txn, ae_store_object_t *obj)
{
    h2o_iovec_t variants[AE_STORE_MAX_VARIANTS + 1];
    size_t n = 0;
    ae_record_t index;
    int rc;

    if ((rc = ae_store_put(txn, obj)) != 0)
        return rc;
    if (ae_store_get(txn, obj->primary, &index) == 0 && index.is_vary_index) {
        h2o_iovec_t listed[AE_STORE_MAX_VARIANTS + 1];
        size_t listed_n = list_variants(&index, listed, AE_STORE_MAX_VARIANTS);
        for (size_t i = 0; i != listed_n; ++i) {
            if (h2o_memis(listed[i].base, listed[i].len, obj->key.base, obj->key.len))
                free(listed[i].base);
            else
                variants[n++] = listed[i];
        }
    } else if ((rc = delete_key(txn, obj->primary)) != 0) {
        return rc; /* a response stored without Vary gives way to the variants */
    }
    variants[n++] = h2o_strdup(NULL, obj->key.base, obj->key.len);
    size_t oldest = 0;
    while (rc == 0 && n - oldest > AE_STORE_MAX_VARIANTS)
        rc = delete_key(txn, variants[oldest++]);
    if (rc == 0)
        rc = put_vary_index(txn, obj, variants + oldest, n - oldest);
    for (size_t i = 0; i != n; ++i)
        free(variants[i].base);
    return rc;
}

/* When the object at this cursor position was last used: its access entry, else when it was
 * stored. A record that does not decode is the first to go. */
static uint32_t last_used(MDB_txn *txn, MDB_val *k, MDB_val *v)
{
    MDB_val access;
    ae_record_t rec;
    if (mdb_get(txn, access_db, k, &access) == 0 && access.mv_size == sizeof(uint32_t)) {
        uint32_t second;
        memcpy(&second, access.mv_data, sizeof(second));
        return second;
    }
    return ae_record_decode(v->mv_data, v->mv_size, &rec) == 0 ? (uint32_t)rec.freshness.response_time : 0;
}

/* Keeps the candidate at the cursor if it was used longer ago than the one kept so far. */
static void consider(MDB_txn *txn, MDB_val *k, MDB_val *v, uint32_t *oldest, uint8_t victim[AE_STORE_HASH_LEN], int *found)
{
    uint32_t used = last_used(txn, k, v);
    if (k->mv_size == AE_STORE_HASH_LEN && (!*found || used < *oldest)) {
        *oldest = used;
        memcpy(victim, k->mv_data, AE_STORE_HASH_LEN);
        *found = 1;
    }
}

/* The key of the object used longest ago: of EVICTION_SAMPLES picked at random places of the key
 * space, or of all of them when there are so few that looking at each costs nothing. */
static int pick_victim(MDB_txn *txn, MDB_cursor *cursor, uint8_t victim[AE_STORE_HASH_LEN])
{
    uint32_t oldest = 0;
    int found = 0;
    MDB_val k, v;

    if (ae_store_object_count(txn) <= EXHAUSTIVE_BELOW) {
        for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT))
            consider(txn, &k, &v, &oldest, victim, &found);
        return found;
    }
    for (int i = 0; i != EVICTION_SAMPLES; ++i) {
        uint8_t start[AE_STORE_HASH_LEN];
        for (size_t j = 0; j != sizeof(start); ++j)
            start[j] = (uint8_t)rand();
        k = (MDB_val){sizeof(start), start};
        int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
        if (rc == 0)
            consider(txn, &k, &v, &oldest, victim, &found);
    }
    return found;
}

size_t ae_store_evict(MDB_txn *txn, size_t count)
{
    MDB_cursor *cursor;
    size_t evicted = 0;
    if (mdb_cursor_open(txn, objects_db, &cursor) != 0)
        return 0;
    while (evicted != count) {
        uint8_t victim[AE_STORE_HASH_LEN];
        MDB_val k = {sizeof(victim), victim};
        if (!pick_victim(txn, cursor, victim) || delete_object(txn, &k) != 0)
            break;
        ++evicted;
    }
    mdb_cursor_close(cursor);
    return evicted;
}

/* ---- purges ---- */

static int soften_key(MDB_txn *txn, h2o_iovec_t key, size_t *count);

/* Makes the object at k stale at once, keeping it for revalidation and stale-if-error (a soft
 * purge); a vary index passes it on to its variants. Counts the objects changed. */
static int soften_object(MDB_txn *txn, MDB_val *k, size_t *count)
{
    MDB_val v;
    ae_record_t rec;
    int rc;
    if ((rc = mdb_get(txn, objects_db, k, &v)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    uint8_t *copy = malloc(v.mv_size); /* the put below may reuse the page the record is on */
    memcpy(copy, v.mv_data, v.mv_size);
    if (ae_record_decode(copy, v.mv_size, &rec) != 0) {
        rc = 0; /* damaged: left for the next fetch to replace */
    } else if (rec.is_vary_index) {
        h2o_iovec_t variants[AE_STORE_MAX_VARIANTS + 1];
        size_t n = list_variants(&rec, variants, AE_STORE_MAX_VARIANTS + 1);
        for (size_t i = 0; i != n; ++i) {
            if (rc == 0)
                rc = soften_key(txn, variants[i], count);
            free(variants[i].base);
        }
    } else {
        rec.freshness.lifetime = 0;
        rec.freshness.heuristic = 0;
        rec.freshness.immutable = 0;
        v.mv_size = ae_record_encoded_size(&rec);
        if ((rc = mdb_put(txn, objects_db, k, &v, MDB_RESERVE)) == 0) {
            ae_record_encode(&rec, v.mv_data);
            ++*count;
        }
    }
    free(copy);
    return rc;
}

static int soften_key(MDB_txn *txn, h2o_iovec_t key, size_t *count)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    MDB_val k = {sizeof(hash), hash};
    ae_store_key_hash(key, hash);
    return soften_object(txn, &k, count);
}

/* Deletes (counting the objects, a vary index's variants included) or softens the object at k. */
static int purge_object(MDB_txn *txn, MDB_val *k, int soft, size_t *count)
{
    MDB_val v;
    ae_record_t rec;
    int rc;
    if (soft)
        return soften_object(txn, k, count);
    if ((rc = mdb_get(txn, objects_db, k, &v)) != 0)
        return rc == MDB_NOTFOUND ? 0 : rc;
    if (ae_record_decode(v.mv_data, v.mv_size, &rec) == 0) {
        h2o_iovec_t variants[AE_STORE_MAX_VARIANTS + 1];
        size_t n = rec.is_vary_index ? list_variants(&rec, variants, AE_STORE_MAX_VARIANTS + 1) : 1;
        for (size_t i = 0; rec.is_vary_index && i != n; ++i) {
            MDB_val vk;
            uint8_t hash[AE_STORE_HASH_LEN];
            ae_store_key_hash(variants[i], hash);
            vk = (MDB_val){sizeof(hash), hash};
            n -= mdb_get(txn, objects_db, &vk, &v) != 0; /* listed but gone */
            free(variants[i].base);
        }
        *count += n;
    }
    return delete_object(txn, k);
}

int ae_store_purge_key(MDB_txn *txn, h2o_iovec_t key, int soft, size_t *count)
{
    uint8_t hash[AE_STORE_HASH_LEN];
    MDB_val k = {sizeof(hash), hash};
    ae_store_key_hash(key, hash);
    return purge_object(txn, &k, soft, count);
}

int ae_store_purge_prefix(MDB_txn *txn, h2o_iovec_t prefix, int soft, size_t *count)
{
    MDB_cursor *cursor;
    MDB_val k, v;
    uint8_t *matches = NULL; /* per match: the hash, then 1 for a vary index */
    size_t n = 0, cap = 0, entry = AE_STORE_HASH_LEN + 1;
    int rc;

    /* first the keys that match, then the changes: a cursor does not survive them */
    if ((rc = mdb_cursor_open(txn, objects_db, &cursor)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        ae_record_t rec;
        if (k.mv_size != AE_STORE_HASH_LEN || ae_record_decode(v.mv_data, v.mv_size, &rec) != 0 || rec.key.len < prefix.len ||
            memcmp(rec.key.base, prefix.base, prefix.len) != 0)
            continue;
        if (n == cap)
            matches = realloc(matches, (cap = cap == 0 ? 256 : cap * 2) * entry);
        memcpy(matches + n * entry, k.mv_data, AE_STORE_HASH_LEN);
        matches[n++ * entry + AE_STORE_HASH_LEN] = rec.is_vary_index;
    }
    mdb_cursor_close(cursor);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    /* variants match as well as their vary index: each object is counted (and softened) once, by itself */
    for (size_t i = 0; rc == 0 && i != n; ++i) {
        int is_index = matches[i * entry + AE_STORE_HASH_LEN];
        k = (MDB_val){AE_STORE_HASH_LEN, matches + i * entry};
        if (soft)
            rc = is_index ? 0 : soften_object(txn, &k, count);
        else if ((rc = delete_object(txn, &k)) == 0)
            *count += !is_index;
    }
    free(matches);
    return rc;
}

int ae_store_purge_tag(MDB_txn *txn, h2o_iovec_t tag, int soft, size_t *count)
{
    uint8_t *hashes;
    int rc = 0;
    ssize_t n = ae_tags_objects(txn, tag, AE_STORE_HASH_LEN, &hashes, &rc);
    for (ssize_t i = 0; rc == 0 && i < n; ++i) {
        MDB_val k = {AE_STORE_HASH_LEN, hashes + i * AE_STORE_HASH_LEN};
        rc = purge_object(txn, &k, soft, count);
    }
    free(hashes);
    return rc;
}

size_t ae_store_object_count(MDB_txn *txn)
{
    MDB_stat stat;
    return mdb_stat(txn, objects_db, &stat) == 0 ? stat.ms_entries : 0;
}
