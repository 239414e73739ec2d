/*
 * The tag index: which stored objects carry which tag, for purging by tag. Origins tag responses
 * with `Surrogate-Key: a b c` (space-separated) or `Cache-Tag: a,b,c` (comma-separated); the
 * index is an LMDB database "tags" with sorted duplicates: tag -> the 16-byte hashes of the
 * objects' keys. It is kept with the objects in the same transactions (added when an object is
 * put, removed when it is deleted or evicted), so a purge by tag costs one cursor walk over that
 * tag's objects, whatever the size of the store.
 *
 * Write functions: the cache writer thread. Open: main thread, with the store.
 */
#ifndef ANYEDGE_CACHE_TAGS_H
#define ANYEDGE_CACHE_TAGS_H

#include <lmdb.h>
#include "modules/cache/record.h"

#define AE_TAG_MAX_LEN 256
#define AE_TAGS_MAX_PER_OBJECT 64

/* Opens (creating unless read_only) the "tags" database; a read-only store without one has no tags. */
int ae_tags_open(MDB_txn *txn, MDB_env *env, int read_only);
/* Adds / removes the entries of the tags the record's headers carry, for the object `hash`. */
int ae_tags_index(MDB_txn *txn, const ae_record_t *rec, const uint8_t *hash, size_t hash_len);
int ae_tags_unindex(MDB_txn *txn, const ae_record_t *rec, const uint8_t *hash, size_t hash_len);
/* The hashes of the objects tagged `tag`, copied out into *hashes (malloc'ed, hash_len bytes each);
 * returns how many, or -1 with an LMDB error in *rc. */
ssize_t ae_tags_objects(MDB_txn *txn, h2o_iovec_t tag, size_t hash_len, uint8_t **hashes, int *rc);
/* Is this response header a tag header (kept in the store, never sent to clients)? */
int ae_tags_is_tag_header(h2o_iovec_t name);

#endif
