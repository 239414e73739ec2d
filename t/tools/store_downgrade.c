/*
 * store_downgrade: a test helper (built next to the unit tests, never installed) that rewrites every
 * object record of a store directory in the oldest record format anyedge still reads (its version
 * number, and the checksum as that version computes it; the two formats differ in nothing else), as
 * if an older anyedge had written the store.
 *
 *   store_downgrade DIR
 *
 * Prints how many records it rewrote. No daemon may use DIR meanwhile.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modules/cache/record.h"

int main(int argc, char **argv)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi objects;
    MDB_cursor *cursor;
    MDB_val k, v;
    size_t rewritten = 0;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: store_downgrade DIR\n");
        return 2;
    }
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_maxdbs(env, 6)) != 0 ||
        (rc = mdb_env_open(env, argv[1], 0, 0640)) != 0 || (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "objects", 0, &objects)) != 0 || (rc = mdb_cursor_open(txn, objects, &cursor)) != 0) {
        fprintf(stderr, "store_downgrade: %s: %s\n", argv[1], mdb_strerror(rc));
        return 1;
    }
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        ae_record_t rec;
        if (ae_record_decode(v.mv_data, v.mv_size, &rec) != 0)
            continue;
        uint8_t *old = malloc(v.mv_size);
        memcpy(old, v.mv_data, v.mv_size);
        old[4] = AE_RECORD_OLDEST_VERSION, old[5] = 0;
        ae_record_set_checksum(old, v.mv_size);
        MDB_val replacement = {v.mv_size, old};
        rc = mdb_cursor_put(cursor, &k, &replacement, MDB_CURRENT);
        free(old);
        if (rc != 0)
            break;
        ++rewritten;
    }
    if (rc != MDB_NOTFOUND || (rc = mdb_txn_commit(txn)) != 0) {
        fprintf(stderr, "store_downgrade: %s: %s\n", argv[1], mdb_strerror(rc));
        return 1;
    }
    mdb_env_close(env);
    printf("%zu\n", rewritten);
    return 0;
}
