/*
 * The on-disk format of a stored response: one record per object (fixed little-endian header,
 * the full cache key, the status line reason, the headers, and the body when it is small), plus, for
 * large bodies, chunk records in a separate database keyed by (body id, chunk index).
 *
 * A record carries a magic number, a format version and a checksum over everything but the body;
 * ae_record_decode() rejects anything that does not match exactly, so a record of an unknown
 * version or a damaged one is a miss, never a crash. Pure functions; any thread.
 */
#ifndef ANYEDGE_CACHE_RECORD_H
#define ANYEDGE_CACHE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "modules/cache/policy.h"

#define AE_RECORD_VERSION 3        /* the version written */
#define AE_RECORD_OLDEST_VERSION 2 /* the oldest still read (it differs in the checksum only) */
#define AE_RECORD_INLINE_MAX (64 * 1024) /* bodies up to this size live in the object record */

typedef struct ae_record {
    int status;
    /* A vary index: the record under a URL whose responses vary. Its headers are ("vary", NAME) for
     * each field name the responses vary on, then ("variant", KEY) for each stored variant, oldest
     * first; it has no body. The variants are records of their own. */
    int is_vary_index;
    ae_freshness_t freshness;
    uint64_t body_size;
    uint64_t body_id;     /* chunk key prefix; 0 when the body is inline */
    uint32_t chunk_count; /* number of chunk records */
    h2o_iovec_t key;
    h2o_iovec_t reason;
    h2o_iovec_t headers; /* encoded header block; walk it with ae_record_next_header() */
    h2o_iovec_t inline_body;
} ae_record_t;

/* Size of the encoded record for `rec` (whose headers field is already an encoded block). */
size_t ae_record_encoded_size(const ae_record_t *rec);
/* Writes the record into buf (ae_record_encoded_size() bytes). */
void ae_record_encode(const ae_record_t *rec, uint8_t *buf);
/* Sets the checksum of an encoded record whose other fields are in place (len bytes, as long as its
 * lengths say), the way its version computes it: for ae_record_encode, and for tests and fuzzing
 * that write records by hand. */
void ae_record_set_checksum(uint8_t *bytes, size_t len);
/* Reads a record; fields point into `bytes`. Returns 0, or -1 for anything malformed. */
int ae_record_decode(const uint8_t *bytes, size_t len, ae_record_t *rec);

/* Header blocks: a sequence of (u16 name length, u32 value length, name, value). */
size_t ae_record_header_size(size_t name_len, size_t value_len);
uint8_t *ae_record_put_header(uint8_t *dst, h2o_iovec_t name, h2o_iovec_t value);
/* Iterates a block that ae_record_decode() validated: returns 0 and advances, or -1 at the end. */
int ae_record_next_header(h2o_iovec_t *block, h2o_iovec_t *name, h2o_iovec_t *value);

/* The key of chunk `index` of body `body_id`: 12 bytes, big-endian so chunks sort in order. */
void ae_record_chunk_key(uint64_t body_id, uint32_t index, uint8_t out[12]);

#endif
