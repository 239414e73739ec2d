/*
 * The tag index (see tags.h). Writer thread for changes; the open on the main thread.
 */
#include <stdlib.h>
#include <string.h>
#include "modules/cache/tags.h"

static MDB_dbi tags_db;
static int have_tags;

int ae_tags_open(MDB_txn *txn, MDB_env *env, int read_only)
{
    int rc = mdb_dbi_open(txn, "tags", MDB_DUPSORT | (read_only ? 0 : MDB_CREATE), &tags_db);
    have_tags = rc == 0;
    return rc == MDB_NOTFOUND && read_only ? 0 : rc;
}

int ae_tags_is_tag_header(h2o_iovec_t name)
{
    return h2o_lcstris(name.base, name.len, H2O_STRLIT("surrogate-key")) ||
           h2o_lcstris(name.base, name.len, H2O_STRLIT("cache-tag"));
}

/* Calls fn for each tag of the record (at most AE_TAGS_MAX_PER_OBJECT); stops at a non-zero return. */
static int foreach_tag(const ae_record_t *rec, int (*fn)(void *data, h2o_iovec_t tag), void *data)
{
    h2o_iovec_t block = rec->headers, name, value;
    size_t seen = 0;
    int rc = 0;

    while (rc == 0 && seen != AE_TAGS_MAX_PER_OBJECT && ae_record_next_header(&block, &name, &value) == 0) {
        if (!ae_tags_is_tag_header(name))
            continue;
        char separator = h2o_lcstris(name.base, name.len, H2O_STRLIT("cache-tag")) ? ',' : ' ';
        const char *p = value.base, *end = value.base + value.len;
        while (rc == 0 && p < end && seen != AE_TAGS_MAX_PER_OBJECT) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == separator))
                ++p;
            const char *start = p;
            while (p < end && *p != separator && *p != ' ' && *p != '\t')
                ++p;
            if (p != start && p - start <= AE_TAG_MAX_LEN) {
                rc = fn(data, h2o_iovec_init(start, p - start));
                ++seen;
            }
        }
    }
    return rc;
}

typedef struct {
    MDB_txn *txn;
    MDB_val hash;
} tag_op_t;

static int add_one(void *_op, h2o_iovec_t tag)
{
    tag_op_t *op = _op;
    MDB_val k = {tag.len, tag.base};
    int rc = mdb_put(op->txn, tags_db, &k, &op->hash, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

static int remove_one(void *_op, h2o_iovec_t tag)
{
    tag_op_t *op = _op;
    MDB_val k = {tag.len, tag.base};
    int rc = mdb_del(op->txn, tags_db, &k, &op->hash);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ae_tags_index(MDB_txn *txn, const ae_record_t *rec, const uint8_t *hash, size_t hash_len)
{
    tag_op_t op = {txn, {hash_len, (void *)hash}};
    return have_tags ? foreach_tag(rec, add_one, &op) : 0;
}

int ae_tags_unindex(MDB_txn *txn, const ae_record_t *rec, const uint8_t *hash, size_t hash_len)
{
    tag_op_t op = {txn, {hash_len, (void *)hash}};
    return have_tags ? foreach_tag(rec, remove_one, &op) : 0;
}

ssize_t ae_tags_objects(MDB_txn *txn, h2o_iovec_t tag, size_t hash_len, uint8_t **hashes, int *rc)
{
    MDB_cursor *cursor;
    MDB_val k = {tag.len, tag.base}, v;
    size_t n = 0, cap = 0;

    *hashes = NULL;
    if (!have_tags || tag.len == 0 || tag.len > AE_TAG_MAX_LEN)
        return 0;
    if ((*rc = mdb_cursor_open(txn, tags_db, &cursor)) != 0)
        return -1;
    for (*rc = mdb_cursor_get(cursor, &k, &v, MDB_SET); *rc == 0; *rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_DUP)) {
        if (v.mv_size != hash_len)
            continue;
        if (n == cap)
            *hashes = realloc(*hashes, (cap = cap == 0 ? 64 : cap * 2) * hash_len);
        memcpy(*hashes + n++ * hash_len, v.mv_data, hash_len);
    }
    mdb_cursor_close(cursor);
    if (*rc != MDB_NOTFOUND) {
        free(*hashes);
        *hashes = NULL;
        return -1;
    }
    *rc = 0;
    return n;
}
