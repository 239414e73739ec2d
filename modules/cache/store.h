/*
 * The LMDB store: one environment per process, opened before the workers start. Workers read through
 * per-thread pools of read-only transactions (MDB_NOTLS; reset when parked, renewed when taken), so a
 * hit costs no allocation and never writes. Only the cache writer thread writes.
 *
 * Databases: "objects" (16-byte hash of the cache key -> record, see record.h), "chunks" (body id +
 * index -> up to AE_BODY_CHUNK_SIZE bytes), "access" (hash -> minute of the last use, written in
 * batches) and "meta" (the next body id).
 */
#ifndef ANYEDGE_CACHE_STORE_H
#define ANYEDGE_CACHE_STORE_H

#include <lmdb.h>
#include <stdint.h>
#include "modules/cache/record.h"
#include "modules/origin/body.h"

/* read_only: for the operator commands, alongside a running daemon or not. */
#define AE_STORE_HASH_LEN 16

/* The key under which an object is stored: a 16-byte hash of its cache key. */
void ae_store_key_hash(h2o_iovec_t key, uint8_t out[AE_STORE_HASH_LEN]);

int ae_store_open(const char *path, uint64_t size, int read_only, char *err, size_t err_size);
void ae_store_close(void);

/* Read side: any worker thread, each with its own reader. */
typedef struct ae_store_reader {
    H2O_VECTOR(MDB_txn *) parked;
} ae_store_reader_t;

MDB_txn *ae_store_read_begin(ae_store_reader_t *reader);
void ae_store_read_end(ae_store_reader_t *reader, MDB_txn *txn);
void ae_store_reader_dispose(ae_store_reader_t *reader);

/* Finds the record stored under `key`; -1 when there is none or it cannot be decoded. */
int ae_store_get(MDB_txn *txn, h2o_iovec_t key, ae_record_t *rec);
/* The same, also giving the key's hash (to report the access of a hit). */
int ae_store_get_hashed(MDB_txn *txn, h2o_iovec_t key, ae_record_t *rec, uint8_t hash[AE_STORE_HASH_LEN]);
/* The bytes of one body chunk, valid while txn is; -1 if it is missing. */
int ae_store_get_chunk(MDB_txn *txn, uint64_t body_id, uint32_t index, h2o_iovec_t *out);

/* Calls cb with every object record (undecoded) until it returns non-zero; 0 or an LMDB error. */
int ae_store_foreach(MDB_txn *txn, int (*cb)(void *data, const uint8_t *record, size_t len), void *data);
/* The map's size and how much of it is in use, in bytes. */
void ae_store_usage(uint64_t *map_size, uint64_t *used);

/* A copy of the record's body in memory (for a response revalidated by a 304); NULL if a chunk is missing. */
ae_body_t *ae_store_load_body(MDB_txn *txn, const ae_record_t *rec);

/* Write side: the cache writer thread only. */
typedef struct ae_store_object {
    h2o_iovec_t key;
    ae_record_t rec;  /* key, body_id, chunk_count and inline_body are filled in by ae_store_put */
    ae_body_t *body;
    /* for a variant: the URL's key and the ("vary", NAME) header block of its vary index */
    h2o_iovec_t primary, vary_names;
} ae_store_object_t;

#define AE_STORE_MAX_VARIANTS 8

MDB_txn *ae_store_write_begin(void);
/* Replaces the object under obj->key (and its old chunks); returns 0 or an LMDB error code. */
int ae_store_put(MDB_txn *txn, ae_store_object_t *obj);
/* Stores a variant (obj->primary and obj->vary_names set) and updates the URL's vary index; beyond
 * AE_STORE_MAX_VARIANTS the oldest variant goes. Returns 0 or an LMDB error code. */
int ae_store_put_variant(MDB_txn *txn, ae_store_object_t *obj);
/* Removes the object stored under `key` (with all its variants), if any; returns 0 or an LMDB error code. */
int ae_store_delete(MDB_txn *txn, h2o_iovec_t key);
/* When the object was last recorded as used (unix time), or 0. */
int64_t ae_store_last_access(MDB_txn *txn, const uint8_t hash[AE_STORE_HASH_LEN]);
/* Notes that these objects were used at `when` (unix time, in seconds). */
int ae_store_record_access(MDB_txn *txn, const uint8_t (*hashes)[AE_STORE_HASH_LEN], size_t count, int64_t when);
/* Removes up to `count` objects, each the least recently used of a few sampled; returns how many. */
size_t ae_store_evict(MDB_txn *txn, size_t count);
size_t ae_store_object_count(MDB_txn *txn);
/* Purges: remove the objects, or with `soft` make them stale at once (kept for revalidation and
 * stale-if-error); *count grows by the objects affected. The object stored under `key` (its
 * variants too); every object whose key starts with `prefix` (a walk over the store); every
 * object tagged `tag` (through the tag index). Return 0 or an LMDB error code. */
int ae_store_purge_key(MDB_txn *txn, h2o_iovec_t key, int soft, size_t *count);
int ae_store_purge_prefix(MDB_txn *txn, h2o_iovec_t prefix, int soft, size_t *count);
int ae_store_purge_tag(MDB_txn *txn, h2o_iovec_t tag, int soft, size_t *count);

#endif
